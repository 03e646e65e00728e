/**
 * A drawing as MNIST has its digits: the ink's bounding box scaled (aspect kept) to fit a 20 × 20 box,
 * each pixel the mean of the ink it covers, scaled so that the darkest stroke is 1, then placed in the
 * 28 × 28 image with its centre of mass at the centre.
 *
 * @module
 */
import { IMAGE_PIXELS, IMAGE_SIDE } from "../lib/data/geometry.ts";

/** The side of the box a digit is scaled into, as in MNIST. */
const BOX = 20;

/** Ink below this (of 1) is background. */
const THRESHOLD = 0.05;

/**
 * The 784 pixels (in [0, 1]) of the digit drawn in `ink` (`width × height` values in [0, 1], row-major),
 * or `null` when nothing is drawn.
 *
 * @example
 * ```ts
 * import { inkToDigit } from "./ink.ts";
 * const ink = new Float32Array(100 * 100);
 * for (let y = 10; y < 90; y++) ink[y * 100 + 50] = 1; // a vertical stroke
 * const digit = inkToDigit(ink, 100, 100)!;
 * console.log(digit[14 * 28 + 14], digit[14 * 28 + 2]); // 1 0
 * ```
 */
export function inkToDigit(ink: Float32Array, width: number, height: number): Float32Array | null {
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] < THRESHOLD) continue;
      [left, top] = [Math.min(left, x), Math.min(top, y)];
      [right, bottom] = [Math.max(right, x), Math.max(bottom, y)];
    }
  }
  if (right < 0) return null;

  // The bounding box scaled into the box, each pixel the mean of the ink it covers.
  const scale = BOX / Math.max(right - left + 1, bottom - top + 1);
  const w = Math.max(1, Math.round((right - left + 1) * scale));
  const h = Math.max(1, Math.round((bottom - top + 1) * scale));
  const span = (start: number, end: number, t: number) => {
    const from = start + Math.floor(t / scale);
    return [from, Math.min(end + 1, Math.max(from + 1, start + Math.ceil((t + 1) / scale)))];
  };
  const small = new Float32Array(w * h);
  for (let ty = 0; ty < h; ty++) {
    const [y0, y1] = span(top, bottom, ty);
    for (let tx = 0; tx < w; tx++) {
      const [x0, x1] = span(left, right, tx);
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += ink[y * width + x];
      small[ty * w + tx] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  const peak = small.reduce((a, b) => Math.max(a, b), 0);

  // Placed with its centre of mass at the image's centre (as far as the image allows).
  let [mass, massX, massY] = [0, 0, 0];
  small.forEach((value, i) => {
    mass += value;
    massX += value * (i % w + 0.5);
    massY += value * (Math.floor(i / w) + 0.5);
  });
  const place = (centre: number, size: number) =>
    Math.min(IMAGE_SIDE - size, Math.max(0, Math.round(IMAGE_SIDE / 2 - centre)));
  const [dx, dy] = [place(massX / mass, w), place(massY / mass, h)];
  const digit = new Float32Array(IMAGE_PIXELS);
  small.forEach((value, i) => {
    digit[(Math.floor(i / w) + dy) * IMAGE_SIDE + (i % w) + dx] = value / peak;
  });
  return digit;
}
