/**
 * A trained model applied to plain pixel arrays, for figures and per-image numbers: reconstructions and the
 * loss of each image, computed in batches in backend memory and read back once.
 *
 * @module
 */
import { tf } from "./deps.ts";
import { type Batch, type Pixels, TensorBatches } from "./data/batches.ts";
import type { Autoencoder } from "./model/autoencoder.ts";
import { IMAGE_PIXELS } from "./model/architecture.ts";

/** Images scored at once. */
const BATCH_SIZE = 1000;

/** The reconstructions (`count × 784` floats in [0, 1]) of `inputs` by `model`, in input order. */
export function reconstructPixels(model: Autoencoder, inputs: Pixels): Promise<Float32Array> {
  return mapBatches(inputs, undefined, (batch) => model.reconstruct(batch.inputs));
}

/**
 * The mean squared error of each image: the model's output for `inputs` against `targets` (the clean
 * images, when the inputs are corrupted; the inputs themselves by default).
 */
export function perImageLoss(
  model: Autoencoder,
  inputs: Pixels,
  targets?: Pixels,
): Promise<Float32Array> {
  return mapBatches(
    inputs,
    targets,
    (batch) =>
      tf.tidy(() => model.reconstruct(batch.inputs).sub(batch.targets).square().mean([1, 2, 3])),
  );
}

/** Applies `step` to each batch of `inputs` in order and reads all its results back at once. */
async function mapBatches(
  inputs: Pixels,
  targets: Pixels | undefined,
  step: (batch: Batch) => tf.Tensor,
): Promise<Float32Array> {
  const batches = new TensorBatches(inputs, { batchSize: BATCH_SIZE, shuffle: false, targets });
  const parts: tf.Tensor[] = [];
  try {
    for (const batch of batches.epoch()) parts.push(step(batch));
    const all = tf.concat(parts);
    const values = await all.data() as Float32Array;
    all.dispose();
    return values;
  } finally {
    tf.dispose(parts);
    batches.dispose();
  }
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
