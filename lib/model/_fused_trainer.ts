/**
 * The bridge from an {@link Autoencoder} to the fused WebGPU engine: a population of one model that trains
 * on the same batches (the pixels a {@link TensorBatches} was made from, uploaded once, in the order it
 * gives) and hands its weights back after each epoch, and its training state (Adam's moments, the steps
 * taken) for a checkpoint.
 *
 * @module
 */
import type { Pixels, TensorBatches } from "../data/batches.ts";
import { type GpuDataset, Population } from "../gpu/population.ts";
import type { AdamMoments, Weights } from "./architecture.ts";

/** What the engine trains: the model's settings in the tfjs model's terms. */
export interface FusedSettings {
  hidden: number;
  dropout: number;
  lr: number;
  l2: number;
  seed: number;
}

/** What the engine has accumulated besides the weights: Adam's moments and the steps taken. */
export interface FusedTrainingState {
  steps: number;
  moments: AdamMoments;
}

/** One model trained by the fused engine for an `Autoencoder`. */
export class FusedTrainer {
  readonly #settings: FusedSettings;
  #population?: Population;
  /** What the engine starts from, kept until it is created at the first epoch's batch size. */
  #pending?: { weights: Weights; state?: FusedTrainingState };
  readonly #datasets = new WeakMap<TensorBatches, GpuDataset>();
  readonly #uploaded: GpuDataset[] = [];

  /** A trainer for a model of `settings`, starting from `weights`. */
  constructor(settings: FusedSettings, weights: Weights) {
    this.#settings = settings;
    this.#pending = { weights };
  }

  /** The adapter the engine runs on (after the first epoch). */
  get adapterName(): string | undefined {
    return this.#population?.adapterName;
  }

  /** Replaces the weights (Adam's moments are kept, as PyTorch's `load_state_dict` does). */
  setWeights(weights: Weights): void {
    if (this.#population) this.#population.setWeights(0, weights);
    else this.#pending = { ...this.#pending, weights };
  }

  /** Adam's moments (PyTorch layout) and the steps taken, for a checkpoint. */
  async getTrainingState(): Promise<FusedTrainingState> {
    if (!this.#population) {
      return this.#pending!.state ?? { steps: 0, moments: zeroMoments(this.#pending!.weights) };
    }
    return { steps: this.#population.steps, moments: await this.#population.getMoments(0) };
  }

  /** Restores what {@link FusedTrainer.getTrainingState} gave (with the weights, a checkpoint's state). */
  setTrainingState(state: FusedTrainingState): void {
    if (!this.#population) {
      this.#pending = { ...this.#pending!, state };
      return;
    }
    this.#population.setMoments(0, state.moments);
    this.#population.setProgress({ steps: state.steps, epochs: this.#population.epochs });
  }

  /** One epoch over `batches` in their next order; returns the mean batch loss and the new weights. */
  async trainEpoch(batches: TensorBatches): Promise<{ loss: number; weights: Weights }> {
    const population = await this.#populationFor(batches.batchSize);
    if (population.batchSize !== batches.batchSize) {
      throw new Error(
        `the fused engine of this model steps ${population.batchSize} images at a time, ` +
          `not ${batches.batchSize}: train it with batches of one size`,
      );
    }
    const data = await this.#dataset(population, batches);
    const [loss] = await population.trainEpoch(data, [batches.nextEpochOrder()]);
    return { loss, weights: await population.getWeights(0) };
  }

  /** The loss over every pixel of `batches`, no dropout, as `Autoencoder.testEpoch`. */
  async testEpoch(batches: TensorBatches): Promise<number> {
    const population = await this.#populationFor(batches.batchSize);
    const [loss] = await population.evaluate(await this.#dataset(population, batches));
    return loss;
  }

  /** Frees the engine's GPU buffers. */
  destroy(): void {
    this.#uploaded.forEach((data) => data.destroy());
    this.#population?.destroy();
  }

  async #populationFor(batchSize: number): Promise<Population> {
    if (!this.#population) {
      const { hidden, dropout, lr, l2, seed } = this.#settings;
      this.#population = await Population.create({
        batchSize,
        models: [{ hidden, dropout, learningRate: lr, weightDecay: l2, seed }],
      });
      const { weights, state } = this.#pending!;
      this.#population.setWeights(0, weights);
      this.#pending = undefined;
      if (state) this.setTrainingState(state);
    }
    return this.#population;
  }

  async #dataset(population: Population, batches: TensorBatches): Promise<GpuDataset> {
    let data = this.#datasets.get(batches);
    if (!data) {
      const { inputs, targets } = batches.source;
      data = await population.upload(asBytes(inputs), targets && asBytes(targets));
      this.#datasets.set(batches, data);
      this.#uploaded.push(data);
    }
    return data;
  }
}

/**
 * Pixels as the engine stores them, one byte each: floats in [0, 1] (corrupted images) are rounded to the
 * nearest of the 256 levels, which moves a pixel by at most 1/510.
 */
function asBytes(pixels: Pixels): Uint8Array {
  if (pixels instanceof Uint8Array) return pixels;
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = Math.round(pixels[i] * 255);
  return bytes;
}

/** Adam's moments before the first step: zeros, laid out as `weights`. */
function zeroMoments(weights: Weights): AdamMoments {
  const zeros = () =>
    Object.fromEntries(
      Object.entries(weights).map(([name, values]) => [name, new Float32Array(values.length)]),
    );
  return { first: zeros(), second: zeros() };
}
