/// <reference lib="dom" />
/**
 * One slider per latent unit, each over the range the test digits' codes take on it (and a little
 * beyond), and the digit the sliders' code decodes to, redrawn as a slider moves. At d = 4 this is the
 * whole latent space.
 *
 * @module
 */
import { DigitView, shown } from "./digit_view.ts";
import type { LatentSpace } from "./space.ts";
import { Latest } from "./work.ts";

/** Positions of a slider over its range, about. */
const POSITIONS = 200;

/** The sliders panel. */
export class SliderPanel {
  readonly #view = new DigitView("sliders-decoded");
  readonly #container = document.getElementById("sliders")!;
  readonly #centroid = document.getElementById("sliders-centroid") as HTMLSelectElement;
  readonly #work: Latest;
  #inputs: HTMLInputElement[] = [];
  #space?: LatentSpace;

  /** The panel; `onError` hears of failed decoding. */
  constructor(onError: (error: unknown) => void) {
    this.#work = new Latest(onError);
    this.#centroid.replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
      const option = document.createElement("option");
      option.value = option.textContent = String(digit);
      return option;
    }));
    this.#centroid.addEventListener("change", () => {
      if (this.#space) this.setCode(this.#space.centroids[Number(this.#centroid.value)]);
    });
  }

  /** One slider per latent unit of `space`, set to the centroid chosen. */
  setSpace(space: LatentSpace): void {
    this.#space = space;
    this.#inputs = space.ranges.map(([low, high], k) => {
      const step = niceStep((high - low) / POSITIONS);
      const onStep = (value: number, round: (x: number) => number) =>
        String(Number((round(value / step) * step).toPrecision(12)));
      const input = document.createElement("input");
      input.type = "range";
      input.id = `z${k + 1}`;
      input.step = String(step);
      input.min = onStep(low - 0.1 * (high - low), Math.floor);
      input.max = onStep(high + 0.1 * (high - low), Math.ceil);
      input.addEventListener("input", () => this.#decode());
      return input;
    });
    this.#container.replaceChildren(...this.#inputs.map((input, k) => {
      const label = document.createElement("label");
      const name = document.createElement("span");
      name.textContent = `z${subscript(k + 1)}`;
      label.append(name, input, document.createElement("output"));
      return label;
    }));
    this.setCode(space.centroids[Number(this.#centroid.value)]);
  }

  /** Sets the sliders to `code` (each to its nearest position) and decodes it. */
  setCode(code: ArrayLike<number>): void {
    this.#inputs.forEach((input, k) => input.value = String(code[k]));
    this.#decode();
  }

  /** Decodes the sliders' code. */
  #decode(): void {
    const space = this.#space!;
    const code = Float32Array.from(this.#inputs, (input) => Number(input.value));
    this.#inputs.forEach((input, k) => {
      const output = input.nextElementSibling as HTMLOutputElement;
      output.value = code[k].toFixed(2);
    });
    shown.set("sliders-code", code);
    this.#work.run(async () => {
      const [pixels] = await space.decode([code]);
      if (this.#space === space) this.#view.show(pixels);
    });
  }
}

/** The step of 1, 2 or 5 times a power of ten nearest above `size`. */
function niceStep(size: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(size, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= size)!;
}

/** `n` in subscript digits. */
function subscript(n: number): string {
  return String(n).replace(/\d/g, (digit) => "₀₁₂₃₄₅₆₇₈₉"[Number(digit)]);
}
