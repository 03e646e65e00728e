/**
 * The fused WebGPU engine as a trainer: the population's models in one or more `Population`s of
 * `lib/gpu/` — one per set of data (models that train and are evaluated on the same images train in the
 * same dispatches; a search's folds or a denoiser's corrupted images each get their own) — with every
 * image on the GPU as a byte. Floats in [0, 1] (corrupted images) are rounded to the nearest of the 256
 * levels on the way there, which moves a pixel by at most 1/510.
 *
 * @module
 */
import { epochOrder, type Pixels } from "../data/batches.ts";
import { type GpuDataset, type KernelTime, Population } from "../gpu/population.ts";
import type { AutoencoderSpec } from "../model/spec.ts";
import {
  type Dataset,
  type EpochOptions,
  type ModelState,
  type Split,
  stepsPerEpoch,
  type Trainer,
  type TrainingJob,
} from "./trainer.ts";

/** One `Population` of the trainer: the models that share their data, and that data on the GPU. */
interface Group {
  population: Population;
  /** The trainer's indices of its models, in the population's order. */
  models: number[];
  data: { train: GpuDataset; validation?: GpuDataset; test?: GpuDataset };
}

/**
 * Why the fused engine cannot train `job`, in one line, or undefined where it can: it trains autoencoders
 * only, at a constant learning rate.
 *
 * @example
 * ```ts
 * import { fusedRefusal } from "./fused.ts";
 * const job = { name: "c", model: { kind: "classifier", dropout: 0 } as const, lr: 1e-3, l2: 0, seed: 1 };
 * console.log(fusedRefusal({ ...job, train: { inputs: new Uint8Array(784), count: 1 } }));
 * // "the fused engine trains autoencoders only, not c"
 * ```
 */
export function fusedRefusal(job: TrainingJob): string | undefined {
  if (job.model.kind !== "autoencoder") {
    return `the fused engine trains autoencoders only, not ${job.name}`;
  }
  if ((job.lrDecay ?? 1) !== 1) {
    return `the fused engine trains at a constant learning rate, not ${job.name}`;
  }
  return undefined;
}

/**
 * A population trained by the fused WebGPU engine.
 *
 * @example
 * ```ts ignore
 * import { FusedTrainer } from "./fused.ts";
 * const trainer = await FusedTrainer.create(jobs, { batchSize: 256 });
 * console.log(await trainer.trainEpoch());
 * await trainer.dispose();
 * ```
 */
export class FusedTrainer implements Trainer {
  readonly jobs: readonly TrainingJob[];
  readonly batchSize: number;
  readonly description: string;
  readonly numerics = "fused";
  readonly #groups: Group[];

  private constructor(jobs: readonly TrainingJob[], batchSize: number, groups: Group[]) {
    this.jobs = jobs;
    this.batchSize = batchSize;
    this.#groups = groups;
    this.description = `fused WebGPU on ${groups[0].population.adapterName}`;
  }

  /**
   * Builds the populations on the GPU and uploads their data. Throws `DeviceLimitError` where the device
   * cannot hold them (a caller that chose the engine itself can train elsewhere), having freed the GPU.
   */
  static async create(
    jobs: readonly TrainingJob[],
    options: { batchSize: number },
  ): Promise<FusedTrainer> {
    const specs = jobs.map((job) => {
      const refusal = fusedRefusal(job);
      if (refusal) throw new Error(refusal);
      return job.model as AutoencoderSpec;
    });
    const groups: Group[] = [];
    try {
      for (const models of groupByData(jobs)) {
        const population = await Population.create({
          batchSize: options.batchSize,
          models: models.map((i) => {
            const { lr, l2, seed } = jobs[i];
            return { hidden: specs[i].hidden, dropout: specs[i].dropout, lr, l2, seed };
          }),
        });
        const group: Group = { population, models, data: {} as Group["data"] };
        groups.push(group);
        const first = jobs[models[0]];
        const upload = (data?: Dataset) =>
          data && population.upload(asBytes(data.inputs), data.targets && asBytes(data.targets));
        group.data = {
          train: (await upload(first.train))!,
          validation: await upload(first.validation),
          test: await upload(first.test),
        };
      }
    } catch (error) {
      groups.forEach(({ population }) => population.destroy());
      throw error;
    }
    return new FusedTrainer(jobs, options.batchSize, groups);
  }

  async trainEpoch(options: EpochOptions = {}): Promise<number[]> {
    const losses = new Array<number>(this.jobs.length).fill(NaN);
    const steps = this.#groups.map(({ data }) =>
      stepsPerEpoch(data.train.count, this.batchSize, options.steps)
    );
    let done = 0;
    const total = steps.reduce((a, b) => a + b, 0);
    for (const [g, { population, models, data }] of this.#groups.entries()) {
      // A population trains all its models in the same dispatches; one left out costs nothing extra.
      const rows = Math.min(data.train.count, steps[g] * this.batchSize);
      const orders = models.map((i) =>
        epochOrder(data.train.count, this.jobs[i].seed, population.epochs).subarray(0, rows)
      );
      const trained = await population.trainEpoch(data.train, orders);
      models.forEach((i, k) => losses[i] = options.active?.[i] === false ? NaN : trained[k]);
      done += steps[g];
      options.onProgress?.(done, total);
    }
    return losses;
  }

  async evaluate(split: Split, active?: readonly boolean[]): Promise<(number | null)[]> {
    const losses = new Array<number | null>(this.jobs.length).fill(null);
    for (const { population, models, data } of this.#groups) {
      const dataset = data[split];
      if (!dataset) continue;
      const values = await population.evaluate(dataset);
      models.forEach((i, k) => losses[i] = active?.[i] === false ? null : values[k]);
    }
    return losses;
  }

  async getState(index: number): Promise<ModelState> {
    const [{ population }, k] = this.#holder(index);
    return {
      weights: await population.getWeights(k),
      moments: await population.getMoments(k),
      steps: population.steps,
      epochs: population.epochs,
    };
  }

  setState(index: number, state: ModelState): Promise<void> {
    const [{ population }, k] = this.#holder(index);
    population.setWeights(k, state.weights);
    population.setMoments(k, state.moments);
    // A population keeps one step count for all its models: they resume from the same epoch.
    population.setProgress({ steps: state.steps, epochs: state.epochs });
    return Promise.resolve();
  }

  dispose(): Promise<void> {
    this.#groups.forEach(({ population }) => population.destroy());
    return Promise.resolve();
  }

  /**
   * Takes `steps` training steps of the first population with every kernel timed on the GPU (a benchmark's
   * profile): each kernel's mean time per step, in dispatch order.
   */
  profileTraining(steps: number): Promise<KernelTime[]> {
    const [{ population, data }] = this.#groups;
    return population.profileTraining(data.train, steps);
  }

  /** The group holding model `index`, and the model's index in its population. */
  #holder(index: number): [Group, number] {
    for (const group of this.#groups) {
      const k = group.models.indexOf(index);
      if (k >= 0) return [group, k];
    }
    throw new RangeError(`no model ${index} among ${this.jobs.length}`);
  }
}

/**
 * The jobs' indices grouped by the images they train and are evaluated on (the same arrays), in order of
 * first appearance.
 */
function groupByData(jobs: readonly TrainingJob[]): number[][] {
  const groups = new Map<string, number[]>();
  const ids = new Map<Pixels, number>();
  const id = (pixels?: Pixels) => {
    if (!pixels) return -1;
    if (!ids.has(pixels)) ids.set(pixels, ids.size);
    return ids.get(pixels)!;
  };
  jobs.forEach((job, i) => {
    const sets = [job.train, job.validation, job.test];
    const key = sets.flatMap((data) => [id(data?.inputs), id(data?.targets)]).join();
    groups.set(key, [...groups.get(key) ?? [], i]);
  });
  return [...groups.values()];
}

/**
 * Pixels as the engine stores them, one byte each: floats in [0, 1] are rounded to the nearest of the 256
 * levels.
 */
function asBytes(pixels: Pixels): Uint8Array {
  if (pixels instanceof Uint8Array) return pixels;
  const bytes = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) bytes[i] = Math.round(pixels[i] * 255);
  return bytes;
}
