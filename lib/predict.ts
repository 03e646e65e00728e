/**
 * A trained model applied to plain pixel arrays on tfjs, for figures and per-image numbers: reconstructions,
 * computed in batches in backend memory and read back once, and the loss of each image.
 *
 * @module
 */
import type { Pixels } from "./data/batches.ts";
import type { Autoencoder } from "./model/autoencoder.ts";
import { mapImages } from "./model/images.ts";
import { IMAGE_PIXELS } from "./data/geometry.ts";

/** The reconstructions (`count × 784` floats in [0, 1]) of `inputs` by `model`, in input order. */
export function reconstructPixels(model: Autoencoder, inputs: Pixels): Promise<Float32Array> {
  return mapImages(inputs, (images) => model.reconstruct(images));
}

/**
 * The mean squared error of each image: the model's output for `inputs` against `targets` (the clean
 * images, when the inputs are corrupted; the inputs themselves by default).
 */
export async function perImageLoss(
  model: Autoencoder,
  inputs: Pixels,
  targets: Pixels = inputs,
): Promise<Float32Array> {
  return reconstructionLosses(await reconstructPixels(model, inputs), targets);
}

/**
 * The mean squared error of each of the `reconstructed` images against its image of `targets` (bytes
 * as `unitPixels` makes them floats), summed in double precision.
 *
 * @example
 * ```ts
 * import { reconstructionLosses } from "./predict.ts";
 * const losses = reconstructionLosses(new Float32Array(784).fill(0.5), new Uint8Array(784));
 * console.log(losses); // Float32Array(1) [ 0.25 ]
 * ```
 */
export function reconstructionLosses(reconstructed: Float32Array, targets: Pixels): Float32Array {
  const losses = new Float32Array(reconstructed.length / IMAGE_PIXELS);
  const bytes = targets instanceof Uint8Array;
  for (let i = 0; i < losses.length; i++) {
    let sum = 0;
    for (let p = i * IMAGE_PIXELS; p < (i + 1) * IMAGE_PIXELS; p++) {
      const difference = reconstructed[p] - (bytes ? Math.fround(targets[p] / 255) : targets[p]);
      sum += difference * difference;
    }
    losses[i] = sum / IMAGE_PIXELS;
  }
  return losses;
}

/** The mean squared error over every pixel of `inputs` reconstructed by `model`, against `targets`. */
export async function meanLoss(
  model: Autoencoder,
  inputs: Pixels,
  targets: Pixels = inputs,
): Promise<number> {
  return averageLoss(await perImageLoss(model, inputs, targets));
}

/** The mean of per-image `losses`: the loss over every pixel of the images (0 for none). */
export function averageLoss(losses: Float32Array): number {
  return losses.reduce((sum, loss) => sum + loss, 0) / Math.max(losses.length, 1);
}

/** The images `indices` of a flat `count × 784` array, each as its own view, for a digit grid row. */
export function pickImages(pixels: Pixels, indices: ArrayLike<number>): Pixels[] {
  return Array.from(
    indices,
    (i) => pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS),
  );
}

/** The indices of the `count` smallest and largest values of `losses`: the best and worst images. */
export function bestAndWorst(
  losses: Float32Array,
  count: number,
): { best: number[]; worst: number[] } {
  const order = Array.from(losses.keys()).sort((a, b) => losses[a] - losses[b]);
  return { best: order.slice(0, count), worst: order.slice(-count).reverse() };
}
