/// <reference lib="dom" />
/**
 * A pad to draw a digit on with a mouse, a pen or a finger (pointer events): the drawing as the model
 * sees it (MNIST's framing, see `ink.ts`), its code, its reconstruction, and its point on the map.
 *
 * @module
 */
import { DigitView, shown } from "./digit_view.ts";
import { inkToDigit } from "./ink.ts";
import type { LatentSpace } from "./space.ts";
import { Latest } from "./work.ts";

/** The stroke's width, as a share of the pad's side. */
const STROKE = 0.075;

/** The drawing panel. */
export class DrawPanel {
  readonly #pad = document.getElementById("pad") as HTMLCanvasElement;
  readonly #context = this.#pad.getContext("2d", { willReadFrequently: true })!;
  readonly #input = new DigitView("draw-input");
  readonly #reconstruction = new DigitView("draw-reconstruction");
  readonly #code = document.getElementById("draw-code") as HTMLOutputElement;
  readonly #work: Latest;
  readonly #onCode: (code: Float32Array | null) => void;
  #space?: LatentSpace;
  #drawing = false;

  /** The panel; `onCode` hears of each new code drawn (`null`: the pad was cleared). */
  constructor(onCode: (code: Float32Array | null) => void, onError: (error: unknown) => void) {
    this.#onCode = onCode;
    this.#work = new Latest(onError);
    this.#clear();
    const pad = this.#pad;
    pad.addEventListener("pointerdown", (event) => {
      pad.setPointerCapture(event.pointerId);
      this.#drawing = true;
      const [x, y] = this.#at(event);
      this.#context.beginPath();
      this.#context.moveTo(x, y);
      this.#context.lineTo(x, y);
      this.#context.stroke();
      event.preventDefault();
    });
    pad.addEventListener("pointermove", (event) => {
      if (!this.#drawing) return;
      for (const each of event.getCoalescedEvents?.() ?? [event]) {
        this.#context.lineTo(...this.#at(each));
      }
      this.#context.stroke();
      this.#update();
    });
    for (const type of ["pointerup", "pointercancel"]) {
      pad.addEventListener(type, () => {
        if (!this.#drawing) return;
        this.#drawing = false;
        this.#update();
      });
    }
    document.getElementById("pad-clear")!.addEventListener("click", () => {
      this.#clear();
      this.#update();
    });
  }

  /** Encodes the drawing with `space`'s model from now on. */
  setSpace(space: LatentSpace): void {
    this.#space = space;
    this.#update();
  }

  /** The pad's point under `event`, in the pad's own pixels. */
  #at(event: PointerEvent): [number, number] {
    const box = this.#pad.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * this.#pad.width,
      ((event.clientY - box.top) / box.height) * this.#pad.height,
    ];
  }

  #clear(): void {
    const context = this.#context;
    context.fillStyle = "#000";
    context.fillRect(0, 0, this.#pad.width, this.#pad.height);
    context.strokeStyle = "#fff";
    context.lineWidth = STROKE * this.#pad.width;
    context.lineCap = context.lineJoin = "round";
  }

  /** Encodes and reconstructs what is drawn (the newest drawing, once the last one is done). */
  #update(): void {
    const space = this.#space;
    if (!space) return;
    this.#work.run(async () => {
      const { width, height } = this.#pad;
      const rgba = this.#context.getImageData(0, 0, width, height).data;
      const ink = Float32Array.from({ length: width * height }, (_, i) => rgba[4 * i] / 255);
      const digit = inkToDigit(ink, width, height);
      this.#input.show(digit);
      if (!digit) {
        this.#reconstruction.show(null);
        this.#code.value = "draw something";
        shown.delete(this.#code.id);
        this.#onCode(null);
        return;
      }
      const code = await space.encode(digit);
      const [reconstruction] = await space.decode([code]);
      if (this.#space !== space) return;
      this.#reconstruction.show(reconstruction);
      this.#code.value = `(${Array.from(code, (value) => value.toFixed(2)).join(", ")})`;
      shown.set(this.#code.id, code);
      this.#onCode(code);
    });
  }
}
