/**
 * Splitting and batching: a seeded train/validation split, the first digits of a set, the order of each
 * epoch's samples (the same on every engine), and a batch's images as floats.
 *
 * @module
 */
import { createRng, permutation } from "../random.ts";
import type { Digits } from "./mnist.ts";
import { IMAGE_PIXELS } from "./geometry.ts";

/**
 * The digits at `indices` of `digits`, in that order, copied (a fold of a cross-validation, a subset).
 *
 * @example
 * ```ts
 * import { pickDigits } from "./batches.ts";
 * const digits = { images: new Uint8Array(10 * 784), labels: new Uint8Array(10), count: 10 };
 * console.log(pickDigits(digits, [7, 2]).count); // 2
 * ```
 */
export function pickDigits(digits: Digits, indices: ArrayLike<number>): Digits {
  // Shared memory, so that a pool of workers reads the digits without a copy each.
  const images = new Uint8Array(new SharedArrayBuffer(indices.length * IMAGE_PIXELS));
  const labels = new Uint8Array(new SharedArrayBuffer(indices.length));
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (!(Number.isInteger(index) && index >= 0 && index < digits.count)) {
      throw new RangeError(`index ${index} is not a digit of 0…${digits.count - 1}`);
    }
    images.set(
      digits.images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS),
      i * IMAGE_PIXELS,
    );
    labels[i] = digits.labels[index];
  }
  return { images, labels, count: indices.length };
}

/**
 * Splits `digits` at random (seeded) into a validation set of `validationSize` digits and a training set
 * of the rest, each in shuffled order; the same seed gives the same split.
 *
 * @example
 * ```ts
 * import { splitTrainValidation } from "./batches.ts";
 * const digits = { images: new Uint8Array(10 * 784), labels: new Uint8Array(10), count: 10 };
 * const { train, validation } = splitTrainValidation(digits, { validationSize: 3, seed: 1 });
 * console.log(train.count, validation.count); // 7 3
 * ```
 */
export function splitTrainValidation(
  digits: Digits,
  { validationSize = 10000, seed }: { validationSize?: number; seed: number },
): { train: Digits; validation: Digits } {
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize > digits.count) {
    throw new RangeError(
      `validation size must be an integer in 0…${digits.count}, got ${validationSize}`,
    );
  }
  const order = permutation(digits.count, createRng(seed));
  return {
    train: pickDigits(digits, order.subarray(validationSize)),
    validation: pickDigits(digits, order.subarray(0, validationSize)),
  };
}

/**
 * The first `limit` digits of `digits` (all of them when `limit` is at least their count), sharing memory.
 *
 * @example
 * ```ts
 * import { takeDigits } from "./batches.ts";
 * const digits = { images: new Uint8Array(10 * 784), labels: new Uint8Array(10), count: 10 };
 * console.log(takeDigits(digits, 4).count); // 4
 * ```
 */
export function takeDigits(digits: Digits, limit: number): Digits {
  if (!(limit >= 0)) throw new RangeError(`limit must be ≥ 0, got ${limit}`);
  const count = Math.min(Math.floor(limit), digits.count);
  return {
    images: digits.images.subarray(0, count * IMAGE_PIXELS),
    labels: digits.labels.subarray(0, count),
    count,
  };
}

/**
 * The order of `count` samples in epoch `epoch` (0, 1, …) of a shuffle seeded by `seed`: a permutation,
 * the same on every machine, and different from epoch to epoch. Every engine takes its batches in this
 * order, so models with the same seed see the same batches wherever they train.
 *
 * @example
 * ```ts
 * import { epochOrder } from "./batches.ts";
 * console.log(epochOrder(5, 1, 0)); // a permutation of 0…4
 * ```
 */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  return permutation(count, createRng(Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) + epoch));
}

/** Images as bytes 0–255 (as {@link Digits} holds them) or as floats in [0, 1], `count × 784`. */
export type Pixels = Uint8Array | Float32Array;

/**
 * The images `indices` of `pixels` (all of them by default), in that order, as floats in [0, 1]: bytes
 * divided by 255, floats copied. Every engine batches its images through this, so they all see the same
 * numbers.
 *
 * @example
 * ```ts
 * import { unitPixels } from "./batches.ts";
 * const pixels = new Uint8Array(2 * 784).fill(255, 784);
 * console.log(unitPixels(pixels, [1])[0]); // 1
 * ```
 */
export function unitPixels(pixels: Pixels, indices?: ArrayLike<number>): Float32Array {
  const count = indices?.length ?? pixels.length / IMAGE_PIXELS;
  const floats = new Float32Array(count * IMAGE_PIXELS);
  const scale = pixels instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0; i < count; i++) {
    const from = (indices ? indices[i] : i) * IMAGE_PIXELS;
    const to = i * IMAGE_PIXELS;
    // A plain loop: Float32Array.from with a mapping function is some twenty times slower.
    if (scale === 1) floats.set(pixels.subarray(from, from + IMAGE_PIXELS), to);
    else for (let p = 0; p < IMAGE_PIXELS; p++) floats[to + p] = pixels[from + p] / 255;
  }
  return floats;
}

/**
 * `pixels` in shared memory, which workers read without a copy: as they are where they lie there
 * already, else copied there once.
 *
 * @example
 * ```ts
 * import { sharedPixels } from "./batches.ts";
 * const shared = sharedPixels(new Uint8Array([1, 2, 3]));
 * console.log(shared.buffer instanceof SharedArrayBuffer, shared[2]); // true 3
 * ```
 */
export function sharedPixels<P extends Pixels>(pixels: P): P {
  if (pixels.buffer instanceof SharedArrayBuffer) return pixels;
  const buffer = new SharedArrayBuffer(pixels.byteLength);
  const copy = pixels instanceof Uint8Array ? new Uint8Array(buffer) : new Float32Array(buffer);
  copy.set(pixels);
  return copy as P;
}
