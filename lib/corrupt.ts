/**
 * The two corruptions of the study, seeded: Gaussian noise (clipped to [0, 1]) and occlusion (a square set to
 * 0 at a random position inside the image).
 *
 * Images are flat Float32Arrays of `count × 784` pixels in [0, 1], row-major, as {@link digitPixels} gives.
 *
 * @module
 */
import type { Digits } from "./data/mnist.ts";
import { createRng, normal, type Rng } from "./random.ts";
import { IMAGE_PIXELS, IMAGE_SIDE } from "./data/geometry.ts";

/** A corruption and its strength: noise `std`, or occlusion square `side` in pixels. */
export type Corruption = { kind: "noise"; std: number } | { kind: "occlusion"; side: number };

/** Default strengths of the study: noise std 0.2, occlusion side 10. */
export const DEFAULT_CORRUPTIONS: Record<Corruption["kind"], Corruption> = {
  noise: { kind: "noise", std: 0.2 },
  occlusion: { kind: "occlusion", side: 10 },
};

/** The pixels of `digits` as floats in [0, 1]. */
export function digitPixels(digits: Digits): Float32Array {
  const pixels = new Float32Array(digits.count * IMAGE_PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = digits.images[i] / 255;
  return pixels;
}

/**
 * Adds Gaussian noise of standard deviation `std` to every pixel and clips the result to [0, 1]. Returns a
 * new array; std 0 returns an unchanged copy.
 *
 * @example
 * ```ts
 * import { addGaussianNoise } from "./corrupt.ts";
 * import { createRng } from "./random.ts";
 * const noisy = addGaussianNoise(new Float32Array(784).fill(0.5), 0.2, createRng(1));
 * console.log(noisy.every((v) => v >= 0 && v <= 1)); // true
 * ```
 */
export function addGaussianNoise(pixels: Float32Array, std: number, rng: Rng): Float32Array {
  if (!(std >= 0)) throw new RangeError(`noise std must be ≥ 0, got ${std}`);
  const noisy = new Float32Array(pixels);
  if (std === 0) return noisy;
  for (let i = 0; i < noisy.length; i++) {
    noisy[i] = Math.min(1, Math.max(0, noisy[i] + std * normal(rng)));
  }
  return noisy;
}

/**
 * Sets a `side × side` square to 0 in each image, at a random position that lies wholly inside it. Returns
 * a new array; side 0 returns an unchanged copy, side 28 blanks the whole image.
 */
export function occlude(pixels: Float32Array, side: number, rng: Rng): Float32Array {
  if (!Number.isInteger(side) || side < 0 || side > IMAGE_SIDE) {
    throw new RangeError(`occlusion side must be an integer in 0…${IMAGE_SIDE}, got ${side}`);
  }
  const occluded = new Float32Array(pixels);
  for (let start = 0; start < occluded.length; start += IMAGE_PIXELS) {
    const top = Math.floor(rng() * (IMAGE_SIDE - side + 1));
    const left = Math.floor(rng() * (IMAGE_SIDE - side + 1));
    blankSquare(occluded.subarray(start, start + IMAGE_PIXELS), { side, top, left });
  }
  return occluded;
}

/** A square of an image: its side and the row and column of its top-left pixel. */
export interface Square {
  side: number;
  top: number;
  left: number;
}

/**
 * Sets the part of `square` that lies inside the image to 0, in place, in one image of 784 pixels.
 *
 * @example
 * ```ts
 * import { blankSquare } from "./corrupt.ts";
 * const image = new Float32Array(784).fill(1);
 * blankSquare(image, { side: 10, top: 20, left: 25 });
 * console.log(image.filter((value) => value === 0).length); // 24
 * ```
 */
export function blankSquare(image: Float32Array, square: Square): Float32Array {
  const { side, top, left } = square;
  const [columnStart, columnEnd] = [Math.max(0, left), Math.min(IMAGE_SIDE, left + side)];
  for (let row = Math.max(0, top); row < Math.min(IMAGE_SIDE, top + side); row++) {
    image.fill(0, row * IMAGE_SIDE + columnStart, row * IMAGE_SIDE + columnEnd); // none when empty
  }
  return image;
}

/** Applies `corruption` to `pixels` with a generator seeded by `seed`. */
export function corrupt(pixels: Float32Array, corruption: Corruption, seed: number): Float32Array {
  const rng = createRng(seed);
  return corruption.kind === "noise"
    ? addGaussianNoise(pixels, corruption.std, rng)
    : occlude(pixels, corruption.side, rng);
}

/** Corrupted inputs and the clean images they came from, pixel for pixel. */
export interface CorruptedPairs {
  corrupted: Float32Array;
  clean: Float32Array;
  count: number;
}

/**
 * What a denoiser trains on: each digit of `digits` corrupted (seeded) beside its clean original, the
 * loss taken between the output for `corrupted` and `clean` (the notebook's denoiser trains on these).
 *
 * @example
 * ```ts
 * import { corruptedPairs } from "./corrupt.ts";
 * const digits = { images: new Uint8Array(2 * 784).fill(255), labels: new Uint8Array(2), count: 2 };
 * const pairs = corruptedPairs(digits, { kind: "occlusion", side: 28 }, 1);
 * console.log(pairs.count, pairs.clean[0], pairs.corrupted[0]); // 2 1 0
 * ```
 */
export function corruptedPairs(
  digits: Digits,
  corruption: Corruption,
  seed: number,
): CorruptedPairs {
  const clean = digitPixels(digits);
  return { corrupted: corrupt(clean, corruption, seed), clean, count: digits.count };
}

/** One line naming a corruption, e.g. `noise std 0.2` or `occlusion side 10`. */
export function describeCorruption(corruption: Corruption): string {
  return corruption.kind === "noise"
    ? `noise std ${corruption.std}`
    : `occlusion side ${corruption.side}`;
}
