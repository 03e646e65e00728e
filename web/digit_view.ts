/// <reference lib="dom" />
/**
 * Digits on canvases: a canvas of 28 × 28 pixels showing 784 values in [0, 1] (white ink on black, as
 * MNIST has it), and a strip of such digits side by side. What each shows is kept by the canvas's id in
 * {@link shown}, with the other numbers the page shows (a drawn digit's code), for tests and the console.
 *
 * @module
 */
import { IMAGE_PIXELS, IMAGE_SIDE } from "../lib/data/geometry.ts";

/** The numbers each element shows, by its id. */
export const shown: Map<string, Float32Array> = new Map();

/** A canvas that shows one digit. */
export class DigitView {
  readonly canvas: HTMLCanvasElement;

  /** Shows digits on `canvas` (or the canvas with that id). */
  constructor(canvas: HTMLCanvasElement | string) {
    this.canvas = typeof canvas === "string"
      ? document.getElementById(canvas) as HTMLCanvasElement
      : canvas;
    this.canvas.width = this.canvas.height = IMAGE_SIDE;
  }

  /** Shows `pixels` (784 values in [0, 1]); `null` shows nothing. */
  show(pixels: Float32Array | null): void {
    drawDigits(this.canvas, pixels ? [pixels] : []);
    if (pixels) shown.set(this.canvas.id, pixels);
    else shown.delete(this.canvas.id);
  }
}

/** Draws `digits` side by side on `canvas`, sized to hold them (one digit's size when empty). */
export function drawDigits(canvas: HTMLCanvasElement, digits: Float32Array[]): void {
  canvas.width = IMAGE_SIDE * Math.max(1, digits.length);
  canvas.height = IMAGE_SIDE;
  const context = canvas.getContext("2d")!;
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (digits.length === 0) return;
  const image = context.createImageData(canvas.width, IMAGE_SIDE);
  digits.forEach((pixels, d) => {
    for (let p = 0; p < IMAGE_PIXELS; p++) {
      const row = Math.floor(p / IMAGE_SIDE);
      const at = 4 * (row * canvas.width + d * IMAGE_SIDE + (p % IMAGE_SIDE));
      const level = Math.round(255 * Math.min(1, Math.max(0, pixels[p])));
      image.data.set([level, level, level, 255], at);
    }
  });
  context.putImageData(image, 0, 0);
}
