/// <reference lib="dom" />
/**
 * Morphs: the straight line in the latent space from one code to another — a class centroid or the
 * selected test digit's code — decoded at evenly spaced steps, played as an animation (back and forth
 * until stopped; once where the reader prefers reduced motion), with all its frames as a strip.
 *
 * @module
 */
import { interpolate } from "../lib/latent.ts";
import { DigitView, drawDigits } from "./digit_view.ts";
import type { LatentSpace } from "./space.ts";
import { track } from "./work.ts";

/** Milliseconds a frame shows (as `deno task morph`'s GIFs). */
const FRAME_MS = 120;

/** The morph panel. */
export class MorphPanel {
  readonly #from = document.getElementById("morph-from") as HTMLSelectElement;
  readonly #to = document.getElementById("morph-to") as HTMLSelectElement;
  readonly #steps = document.getElementById("morph-steps") as HTMLInputElement;
  readonly #button = document.getElementById("morph-play") as HTMLButtonElement;
  readonly #counter = document.getElementById("morph-counter")!;
  readonly #strip = document.getElementById("morph-strip") as HTMLCanvasElement;
  readonly #frame = new DigitView("morph-frame");
  readonly #onError: (error: unknown) => void;
  #space?: LatentSpace;
  #selected: number | null = null;
  #timer?: ReturnType<typeof setInterval>;

  /** The panel, from the centroid of 2 to that of 0 (as `deno task morph`); `onError` hears of failures. */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
    for (const [select, digit] of [[this.#from, 2], [this.#to, 0]] as const) {
      select.replaceChildren(
        ...Array.from({ length: 10 }, (_, d) => option(`centroid:${d}`, `the ${d}s' centroid`)),
      );
      select.value = `centroid:${digit}`;
    }
    this.#button.addEventListener("click", () => {
      if (this.#timer === undefined) track(this.#play()).catch(this.#onError);
      else this.#stop();
    });
  }

  /** Morphs in the latent space of `space` from now on. */
  setSpace(space: LatentSpace): void {
    this.#stop();
    this.#space = space;
    this.#strip.hidden = true;
    this.#frame.show(null);
    this.#counter.textContent = "not played yet";
  }

  /** Offers test digit `index` as an end of the morph. */
  setSelected(index: number): void {
    this.#selected = index;
    for (const select of [this.#from, this.#to]) {
      const choice = select.querySelector('option[value="selected"]') ??
        select.appendChild(option("selected", ""));
      choice.textContent = `selected digit #${index}`;
    }
  }

  /** Decodes the morph's frames, draws the strip and plays them. */
  async #play(): Promise<void> {
    const space = this.#space!;
    const steps = Math.min(40, Math.max(2, Math.round(Number(this.#steps.value)) || 12));
    this.#steps.value = String(steps);
    const frames = await space.decode(
      interpolate(this.#end(this.#from), this.#end(this.#to), steps),
    );
    if (this.#space !== space) return;
    drawDigits(this.#strip, frames);
    this.#strip.hidden = false;
    this.#stop();
    const once = matchMedia("(prefers-reduced-motion: reduce)").matches;
    let tick = 0;
    const show = () => {
      // Back and forth: 0, 1, …, n−1, n−2, …, 1, 0, 1, …
      const period = 2 * (steps - 1);
      const frame = (tick % period) < steps ? tick % period : period - (tick % period);
      this.#frame.show(frames[frame]);
      this.#counter.textContent = `frame ${frame + 1} of ${steps}`;
      this.#frame.canvas.dataset.frame = String(frame);
      tick++;
      if (once && tick === steps) this.#stop();
    };
    show();
    this.#timer = setInterval(show, FRAME_MS);
    this.#button.textContent = "Stop";
  }

  /** Stops the animation where it is. */
  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#button.textContent = "Play";
  }

  /** The code an end of the morph names. */
  #end(select: HTMLSelectElement): Float32Array {
    const space = this.#space!;
    if (select.value === "selected" && this.#selected !== null) return space.code(this.#selected);
    return space.centroids[Number(select.value.split(":")[1])];
  }
}

function option(value: string, text: string): HTMLOptionElement {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}
