/**
 * Splitting and batching: a seeded train/validation split, the first digits of a set, and
 * {@link TensorBatches}, a dataset uploaded once to the backend's memory that yields shuffled batches
 * (seeded per epoch) without touching JavaScript memory again.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { IMAGE_PIXELS, IMAGE_SIDE } from "../model/architecture.ts";
import { createRng, permutation } from "../random.ts";
import type { Digits } from "./mnist.ts";

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
  const images = new Uint8Array(indices.length * IMAGE_PIXELS);
  const labels = new Uint8Array(indices.length);
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
 * the same on every machine, and different from epoch to epoch. {@link TensorBatches} and the fused
 * engine both take their batches in this order, so models with the same seed see the same batches.
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

/** One batch: the model's inputs and the images its output should match, both `[n, 28, 28, 1]`. */
export interface Batch {
  inputs: tf.Tensor4D;
  /** The same tensor as `inputs` unless the dataset was given separate targets (denoising). */
  targets: tf.Tensor4D;
  /** The number of images in the batch (the last one of an epoch may be short). */
  size: number;
}

/** How {@link TensorBatches} cuts its data. */
export interface TensorBatchesOptions {
  /** Images per batch; the last batch of an epoch holds the rest. */
  batchSize: number;
  /** Seed of the per-epoch shuffles; epoch e of seed s is always the same order. */
  seed?: number;
  /** Whether to shuffle each epoch (default true); false keeps the stored order. */
  shuffle?: boolean;
  /** Target images for denoising (corrupted inputs, clean targets); default: the inputs themselves. */
  targets?: Pixels;
}

/**
 * A dataset held in backend memory: its images uploaded once as a float32 `[count, 28, 28, 1]` tensor in
 * [0, 1] (and a second one of targets, for denoising), cut into batches by gathering a seeded shuffle of
 * indices. Each call of {@link TensorBatches.epoch} is the next epoch, in the order its seed and number
 * decide. It owns its tensors: {@link TensorBatches.dispose} frees them.
 *
 * @example
 * ```ts
 * import { TensorBatches } from "./batches.ts";
 * import { setupBackend } from "../gpu.ts";
 * await setupBackend("wasm");
 * const images = new Uint8Array(10 * 784);
 * const batches = new TensorBatches(images, { batchSize: 4, seed: 1 });
 * for (const batch of batches.epoch()) console.log(batch.inputs.shape); // [4,28,28,1] [4,…] [2,…]
 * batches.dispose();
 * ```
 */
export class TensorBatches {
  /** Number of images. */
  readonly count: number;
  /** Images per batch. */
  readonly batchSize: number;
  /** The pixels the batches were uploaded from (targets only when given apart). */
  readonly source: { inputs: Pixels; targets?: Pixels };
  readonly #inputs: tf.Tensor4D;
  readonly #targets: tf.Tensor4D;
  readonly #seed: number;
  readonly #shuffle: boolean;
  #epochs = 0;

  /** Uploads `inputs` (and `options.targets`) to the current backend. */
  constructor(inputs: Pixels, options: TensorBatchesOptions) {
    const { batchSize, seed = 0, shuffle = true, targets } = options;
    if (inputs.length % IMAGE_PIXELS !== 0) {
      throw new RangeError(
        `images must hold a multiple of ${IMAGE_PIXELS} pixels, got ${inputs.length}`,
      );
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    }
    if (targets && targets.length !== inputs.length) {
      throw new RangeError(`targets hold ${targets.length} pixels, inputs ${inputs.length}`);
    }
    this.count = inputs.length / IMAGE_PIXELS;
    this.batchSize = batchSize;
    this.#seed = seed;
    this.#shuffle = shuffle;
    this.source = { inputs, targets };
    this.#inputs = upload(inputs, this.count);
    this.#targets = targets ? upload(targets, this.count) : this.#inputs;
  }

  /** A dataset of the images of `digits`. */
  static fromDigits(digits: Digits, options: TensorBatchesOptions): TensorBatches {
    return new TensorBatches(digits.images.subarray(0, digits.count * IMAGE_PIXELS), options);
  }

  /** Number of batches in an epoch. */
  get batchCount(): number {
    return Math.ceil(this.count / this.batchSize);
  }

  /** Number of epochs begun so far. */
  get epochs(): number {
    return this.#epochs;
  }

  /**
   * The order of the next epoch's images, as indices: a permutation seeded by the seed and epoch number,
   * or the stored order without shuffling.
   */
  order(epoch: number = this.#epochs): Int32Array {
    if (!this.#shuffle) return Int32Array.from({ length: this.count }, (_, i) => i);
    return epochOrder(this.count, this.#seed, epoch);
  }

  /** Makes `epoch` the next epoch (0 the first), as when a checkpointed run resumes after it. */
  seek(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`no epoch ${epoch}`);
    this.#epochs = epoch;
  }

  /**
   * The order of the next epoch's images, moving on to that epoch as {@link TensorBatches.epoch} does: for
   * an engine that batches the {@link TensorBatches.source} pixels itself.
   */
  nextEpochOrder(): Int32Array {
    return this.order(this.#epochs++);
  }

  /**
   * Yields the batches of the next epoch. Each batch's tensors are freed when the next batch is asked for
   * or the loop ends, so a consumer keeps nothing from one step to the next.
   */
  *epoch(): Generator<Batch> {
    const order = this.nextEpochOrder();
    for (let start = 0; start < this.count; start += this.batchSize) {
      const indices = order.subarray(start, Math.min(start + this.batchSize, this.count));
      const batch = tf.tidy(() => {
        const picked = tf.tensor1d(indices, "int32");
        const inputs = tf.gather(this.#inputs, picked);
        const targets = this.#targets === this.#inputs ? inputs : tf.gather(this.#targets, picked);
        return { inputs, targets, size: indices.length };
      });
      try {
        yield batch;
      } finally {
        tf.dispose([batch.inputs, batch.targets]);
      }
    }
  }

  /** Frees the uploaded images. */
  dispose(): void {
    tf.dispose([this.#inputs, this.#targets]);
  }
}

function upload(pixels: Pixels, count: number): tf.Tensor4D {
  let floats = pixels;
  if (pixels instanceof Uint8Array) {
    // A plain loop: Float32Array.from with a mapping function is some twenty times slower.
    floats = new Float32Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) floats[i] = pixels[i] / 255;
  }
  return tf.tensor4d(floats, [count, IMAGE_SIDE, IMAGE_SIDE, 1]);
}
