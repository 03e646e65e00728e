/**
 * A trained model applied to plain pixel arrays, for figures and per-image numbers: reconstructions and the
 * loss of each image, computed in batches in backend memory and read back once.
 *
 * @module
 */
import { tf } from "./deps.ts";
import type { Pixels } from "./data/batches.ts";
import type { Autoencoder } from "./model/autoencoder.ts";
import { imagesTensor, mapImages } from "./model/images.ts";
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

/** The mean squared error of each of the `reconstructed` images against its image of `targets`. */
export async function reconstructionLosses(
  reconstructed: Float32Array,
  targets: Pixels,
): Promise<Float32Array> {
  const clean = imagesTensor(targets);
  const losses = tf.tidy(() =>
    tf.tensor4d(reconstructed, clean.shape).sub(clean).square().mean([1, 2, 3])
  );
  clean.dispose();
  const values = await losses.data() as Float32Array;
  losses.dispose();
  return values;
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
