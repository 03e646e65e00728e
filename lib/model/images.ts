/**
 * Images as tfjs tensors: a batch of MNIST images (bytes or floats) as a `[n, 28, 28, 1]` tensor of floats
 * in [0, 1], and a model applied to many images in batches, read back once.
 *
 * @module
 */
import { tf } from "../deps_tfjs.ts";
import { type Pixels, unitPixels } from "../data/batches.ts";
import { IMAGE_PIXELS, IMAGE_SIDE } from "../data/geometry.ts";

/** Images run through a model at once. */
const INFERENCE_BATCH = 1000;

/**
 * The images `indices` of `pixels` (all of them by default) as a `[n, 28, 28, 1]` tensor of floats in
 * [0, 1]; the caller disposes it.
 *
 * @example
 * ```ts
 * import { imagesTensor } from "./images.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * console.log(imagesTensor(new Uint8Array(3 * 784), [2, 0]).shape); // [2, 28, 28, 1]
 * ```
 */
export function imagesTensor(pixels: Pixels, indices?: ArrayLike<number>): tf.Tensor4D {
  const floats = unitPixels(pixels, indices);
  return tf.tensor4d(floats, [floats.length / IMAGE_PIXELS, IMAGE_SIDE, IMAGE_SIDE, 1]);
}

/**
 * Applies `step` to `pixels` (`count × 784`, bytes or floats in [0, 1]) in batches on the current backend
 * and reads all its results back at once, in order.
 *
 * @example
 * ```ts
 * import { mapImages } from "./images.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const sums = await mapImages(new Uint8Array(2 * 784).fill(255), (x) => x.sum([1, 2, 3]));
 * console.log(sums); // Float32Array(2) [ 784, 784 ]
 * ```
 */
export async function mapImages(
  pixels: Pixels,
  step: (images: tf.Tensor4D) => tf.Tensor,
): Promise<Float32Array> {
  const count = pixels.length / IMAGE_PIXELS;
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < count; start += INFERENCE_BATCH) {
      const end = Math.min(start + INFERENCE_BATCH, count);
      const images = imagesTensor(pixels.subarray(start * IMAGE_PIXELS, end * IMAGE_PIXELS));
      parts.push(tf.tidy(() => step(images)));
      images.dispose();
    }
    const all = tf.concat(parts);
    const values = await all.data() as Float32Array;
    all.dispose();
    return values;
  } finally {
    tf.dispose(parts);
  }
}
