/**
 * The one interface every engine trains through: a population of M models (M = 1 for `train`), each with
 * its own model, learning rate, L2, seed and data. An engine trains one epoch of every model and returns
 * their losses, evaluates them, and hands each model's state out and takes it back (weights and Adam's
 * moments in PyTorch's layout, steps and epochs taken) for checkpoints and for training on elsewhere.
 *
 * Four engines implement it: tfjs in this thread (`tfjs.ts`), aelab's WebAssembly kernels (`wasm.ts`), a
 * pool of Deno Workers each running one of these two (`workers.ts`), and the fused WebGPU engine
 * (`fused.ts`); `engine.ts` chooses one. Whatever
 * the engine, a model of seed s starts from the same weights and sees the same batches in the same
 * order.
 *
 * @module
 */
import type { Pixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import type { KernelTime } from "../gpu/timing.ts";
import type { AdamMoments, Weights } from "../model/architecture.ts";
import type { ModelSpec } from "../model/spec.ts";

/** Images a model trains or is evaluated on. */
export interface Dataset {
  /** `count × 784` pixels: bytes 0–255 or floats in [0, 1]. */
  inputs: Pixels;
  /** The images the output should match, in the same order (a denoiser's clean images); default inputs. */
  targets?: Pixels;
  /** The digit each image shows, in the same order: what a classifier learns to name. */
  labels?: Uint8Array;
  /** Number of images. */
  count: number;
}

/** One model a trainer trains: what it is, how it trains, and on what. */
export interface TrainingJob {
  /** Names the model in progress lines and errors, e.g. `trial 3` or `d = 4`. */
  name: string;
  model: ModelSpec;
  /** Adam's learning rate (of the first epoch, where it decays). */
  lr: number;
  /**
   * Each epoch's learning rate is the one before times this, as PyTorch's `ExponentialLR` stepped after
   * each epoch; default 1 (constant).
   */
  lrDecay?: number;
  /** L2 weight decay, added to the gradient as PyTorch's Adam does. */
  l2: number;
  /** Seeds the initial weights, each epoch's shuffle and the dropout masks. */
  seed: number;
  /** The images it trains on, and those it is evaluated on after each epoch. */
  train: Dataset;
  validation?: Dataset;
  test?: Dataset;
}

/** The sets a model is evaluated on. */
export type Split = "validation" | "test";

/** What training has made of a model: what a checkpoint keeps and a resume restores. */
export interface ModelState {
  /** The weights, in PyTorch's names and layouts. */
  weights: Weights;
  /** Adam's moments, named and laid out as the weights. */
  moments: AdamMoments;
  /** Adam steps taken. */
  steps: number;
  /** Epochs trained (the next epoch's shuffle and dropout masks follow from it). */
  epochs: number;
}

/** How to train an epoch. */
export interface EpochOptions {
  /**
   * Which models must train (default all): a diverged model drops out. An engine may train the others
   * along (the fused engine does, in the same dispatches), but reports NaN for them.
   */
  active?: readonly boolean[];
  /** Called as the epoch goes on with the steps done and the epoch's total, all models together. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Train only the first `steps` steps of each model's epoch (a part of it, as a benchmark's warm-up
   * and short timings take); the epoch still counts as one.
   */
  steps?: number;
}

/** A population of models training on one engine. */
export interface Trainer {
  /** The models, in the order of every array the trainer takes and returns. */
  readonly jobs: readonly TrainingJob[];
  /** Images per training step. */
  readonly batchSize: number;
  /** What computes, for the log, e.g. `2 workers, tfjs wasm`. */
  readonly description: string;
  /**
   * What decides the numbers: two trainers of the same numerics train a model to the same bytes (tfjs wasm
   * in this thread or in workers), so a checkpoint of one resumes on the other.
   */
  readonly numerics: string;
  /**
   * One epoch of every active model over its training images, in the order its seed and epoch number
   * give; returns each model's mean batch loss (NaN for a model left out).
   */
  trainEpoch(options?: EpochOptions): Promise<number[]>;
  /**
   * Each model's loss on its `split`, no dropout (its kind's loss: an autoencoder's mean squared error over
   * every pixel, a classifier's mean cross-entropy); null where it has none or is left out by `active`.
   */
  evaluate(split: Split, active?: readonly boolean[]): Promise<(number | null)[]>;
  /** Model `index`'s state. */
  getState(index: number): Promise<ModelState>;
  /** Replaces model `index`'s state, so that training goes on from there. */
  setState(index: number, state: ModelState): Promise<void>;
  /** Frees everything the trainer holds. */
  dispose(): Promise<void>;
  /**
   * Takes `steps` training steps with every kernel timed (a benchmark's profile) and returns each
   * kernel's mean time per step, in dispatch order. Only an engine that can time its kernels has it (the
   * fused engine, from GPU timestamps); it may still throw where the device cannot time them.
   */
  profileTraining?(steps: number): Promise<KernelTime[]>;
}

/**
 * Steps of one epoch over `count` images in batches of `batchSize` (the last may be short), at most
 * `limit`.
 */
export function stepsPerEpoch(count: number, batchSize: number, limit = Infinity): number {
  return Math.min(Math.ceil(count / batchSize), limit);
}

/** The losses of one epoch of a model and how fast it trained. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  validationLoss: number | null;
  testLoss: number | null;
  /** Seconds the epoch's training took (the whole population's, evaluation not included). */
  seconds: number;
  /** Training images of this model per second of the epoch. */
  samplesPerSecond: number;
}

/** A model's training: its epochs, and whether a loss turned NaN or infinite (then it stopped there). */
export interface FitResult {
  history: EpochRecord[];
  diverged: boolean;
}

/**
 * The images of `digits` and their labels as a dataset (sharing their memory).
 *
 * @example
 * ```ts
 * import { datasetOf } from "./trainer.ts";
 * const digits = { images: new Uint8Array(3 * 784), labels: new Uint8Array(3), count: 3 };
 * console.log(datasetOf(digits).count); // 3
 * ```
 */
export function datasetOf(digits: Digits): Dataset {
  return {
    inputs: digits.images.subarray(0, digits.count * IMAGE_PIXELS),
    labels: digits.labels.subarray(0, digits.count),
    count: digits.count,
  };
}
