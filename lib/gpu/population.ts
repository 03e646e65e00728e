/**
 * The fused WebGPU trainer: a population of the study's autoencoders — each with its own learning rate,
 * L2, dropout, seed and latent size — trained side by side in the same dispatches, one command buffer per
 * training step, with all data on the GPU. Images stay there as uint8; each batch is gathered through a
 * per-model sample order (shuffled per epoch from the model's seed by `epochOrder`, as every engine); the loss
 * accumulates there and comes back once per epoch.
 *
 * A model with seed s starts from the weights of `Autoencoder.create(config, s)` and, fed the same
 * batches, trains like it (up to float rounding). A model of latent size d below the population's
 * `hiddenMax` is masked: the same function, initialised and trained the same, as a model built with d.
 *
 * Weights interchange with the tfjs model (`Autoencoder.getWeights`/`setWeights`) and safetensors files
 * as the same {@link Weights}: PyTorch-named Float32Arrays in PyTorch layout.
 *
 * @module
 */
import { createRng } from "../random.ts";
import { type BufferSpec, datasetBuffers, deviceNeeds, populationBuffers } from "./buffers.ts";
import { DeviceLimitError, GpuContext } from "./device.ts";
import {
  type Dims,
  type Dispatch,
  encodeDispatches,
  KernelCompiler,
  MODEL_WORDS,
} from "./kernel.ts";
import { layerGeometry, packWeights, parameterLayout, unpackWeights } from "./layout.ts";
import { type AdamMoments, initialWeights, type Weights } from "../model/architecture.ts";
import { epochOrder } from "../data/batches.ts";
import { BUFFERS } from "./kernels/common.ts";
import { buildPlan, type Plan } from "./plan.ts";
import { type KernelTime, timeDispatches } from "./timing.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";

/** One model of a population. */
export interface ModelSettings {
  /** Latent size d (at most the population's `hiddenMax`). */
  hidden: number;
  /** Adam's learning rate. */
  lr: number;
  /** PyTorch's coupled L2 (`weight_decay`); default 0. */
  l2?: number;
  /** Dropout probability in [0, 1); default 0. */
  dropout?: number;
  /**
   * Seeds the initial weights (as `Autoencoder.create`), the epoch shuffles (`epochOrder` with this
   * seed) and the dropout masks (a counter-based hash of seed, step and unit).
   */
  seed: number;
}

/** How to build a {@link Population}. */
export interface PopulationOptions {
  models: readonly ModelSettings[];
  /** Samples per training step. */
  batchSize: number;
  /** The latent capacity of the layout; default the largest `hidden` of `models`. */
  hiddenMax?: number;
}

/** A dataset uploaded to a population's device: images (uint8), optional targets, sample orders. */
export interface GpuDataset {
  /** Number of images. */
  readonly count: number;
  /** Whether it has targets of its own (a denoiser's clean images), else the images are the targets. */
  readonly denoising: boolean;
  /** Frees its GPU buffers. */
  destroy(): void;
}

interface DatasetState {
  buffers: Map<string, GPUBuffer>;
  train: Dispatch[];
  evaluate: Dispatch[];
}

/** Training steps recorded before one `queue.submit` (each step is one command buffer). */
const STEPS_PER_SUBMIT = 8;

/**
 * A population of autoencoders trained together on one WebGPU device.
 *
 * @example
 * ```ts ignore
 * import { Population } from "./population.ts";
 * const population = await Population.create({
 *   batchSize: 256,
 *   models: [{ hidden: 4, lr: 1e-3, seed: 1 }, { hidden: 8, lr: 3e-3, seed: 2 }],
 * });
 * const train = await population.upload(mnist.train.images);
 * for (let epoch = 0; epoch < 5; epoch++) console.log(await population.trainEpoch(train));
 * const weights = await population.getWeights(0); // { "encoder_cnn.0.weight": Float32Array(72), … }
 * population.destroy();
 * ```
 */
export class Population {
  /** The models' settings, defaults filled in. */
  readonly models: readonly Required<ModelSettings>[];
  readonly batchSize: number;
  readonly hiddenMax: number;
  #context: GpuContext;
  #compiler: KernelCompiler;
  #plan: Plan;
  #dims: Dims;
  #buffers: Map<string, GPUBuffer>;
  #datasets = new WeakMap<GpuDataset, DatasetState>();
  #steps = 0;
  #epochs = 0;

  private constructor(
    settings: Required<ModelSettings>[],
    hiddenMax: number,
    state: {
      context: GpuContext;
      compiler: KernelCompiler;
      plan: Plan;
      dims: Dims;
      buffers: Map<string, GPUBuffer>;
    },
  ) {
    this.models = settings;
    this.batchSize = state.dims.batch;
    this.hiddenMax = hiddenMax;
    this.#context = state.context;
    this.#compiler = state.compiler;
    this.#plan = state.plan;
    this.#dims = state.dims;
    this.#buffers = state.buffers;
  }

  /**
   * Builds the population on a WebGPU device: checks the settings and the adapter's limits (a clear error
   * if the population does not fit), compiles the kernels, creates the buffers and initialises every model
   * as PyTorch would (U(±1/√fanIn) at its own latent size) from its seed.
   */
  static async create(options: PopulationOptions): Promise<Population> {
    const settings = options.models.map(checkSettings);
    if (settings.length === 0) throw new RangeError("a population needs at least one model");
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${options.batchSize}`);
    }
    const hiddenMax = options.hiddenMax ?? Math.max(...settings.map((model) => model.hidden));
    settings.forEach((model, i) => {
      if (model.hidden > hiddenMax) {
        throw new RangeError(`model ${i} has hidden ${model.hidden} > hiddenMax ${hiddenMax}`);
      }
    });
    const layers = layerGeometry(hiddenMax);
    const dims = {
      models: settings.length,
      batch: options.batchSize,
      params: parameterLayout(hiddenMax).size,
    };
    const plan = buildPlan(dims, layers);
    const kernels = [...plan.train, ...plan.evaluate];
    const specs = populationBuffers(dims, layers);
    const purpose = `a population of ${dims.models} models at batch ${dims.batch}`;
    const context = await GpuContext.create(deviceNeeds(specs, kernels), purpose);
    try {
      const compiler = new KernelCompiler(context.device);
      await compiler.compile(kernels);
      const buffers = await createBuffers(context, specs);
      const population = new Population(settings, hiddenMax, {
        context,
        compiler,
        plan,
        dims,
        buffers,
      });
      population.#writeModels();
      settings.forEach((model, i) => {
        population.setWeights(i, initialWeights(model.hidden, createRng(model.seed)));
      });
      return population;
    } catch (error) {
      context.destroy();
      throw error;
    }
  }

  /** The name of the adapter the population runs on. */
  get adapterName(): string {
    return this.#context.adapterName;
  }

  /** Training steps taken so far (Adam's t). */
  get steps(): number {
    return this.#steps;
  }

  /** Passes {@link Population.trainEpoch} has made so far. */
  get epochs(): number {
    return this.#epochs;
  }

  /**
   * Uploads `inputs` (`count × 784` bytes, image after image) and, for a denoiser, `targets` (the clean
   * images, same shape, same order): training then maps each input to its target.
   */
  async upload(inputs: Uint8Array, targets?: Uint8Array): Promise<GpuDataset> {
    this.#context.check();
    if (inputs.length === 0 || inputs.length % IMAGE_PIXELS !== 0) {
      throw new RangeError(
        `inputs must hold whole images of ${IMAGE_PIXELS} bytes, got ${inputs.length}`,
      );
    }
    if (targets && targets.length !== inputs.length) {
      throw new RangeError(`targets hold ${targets.length} bytes, inputs ${inputs.length}`);
    }
    const count = inputs.length / IMAGE_PIXELS;
    const specs = datasetBuffers(this.#dims.models, count, targets !== undefined);
    const limits = this.#context.device.limits;
    for (const spec of specs) {
      const allowed = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
      if (spec.bytes > allowed) {
        throw new DeviceLimitError(
          `the buffer of ${spec.holds} needs ${spec.bytes} bytes, but the device allows at most ` +
            `${allowed}; upload fewer images`,
        );
      }
    }
    const own = await createBuffers(this.#context, specs);
    const queue = this.#context.device.queue;
    queue.writeBuffer(own.get(BUFFERS.images)!, 0, bytesOf(inputs));
    if (targets) queue.writeBuffer(own.get(BUFFERS.targets)!, 0, bytesOf(targets));
    else own.set(BUFFERS.targets, own.get(BUFFERS.images)!);
    const buffers = new Map([...this.#buffers, ...own]);
    const dataset: GpuDataset = {
      count,
      denoising: targets !== undefined,
      destroy: () => {
        this.#datasets.delete(dataset);
        new Set(own.values()).forEach((buffer) => buffer.destroy());
      },
    };
    this.#datasets.set(dataset, {
      buffers,
      train: await this.#compiler.bind(this.#plan.train, buffers),
      evaluate: await this.#compiler.bind(this.#plan.evaluate, buffers),
    });
    return dataset;
  }

  /**
   * One pass over `data`: each model takes its epoch's shuffle of all of `data` (the order `epochOrder`
   * with the model's seed gives for the population's epoch number), or `orders[model]` (sample indices, all
   * orders of one length), then ⌈length / batch⌉ Adam steps (the last batch may be short). Returns each
   * model's mean of its batch losses (the MSE of each batch before its update), as
   * the tfjs trainer does.
   */
  async trainEpoch(data: GpuDataset, orders?: readonly ArrayLike<number>[]): Promise<Float32Array> {
    const dataset = this.#dataset(data);
    const epoch = this.#epochs++;
    const chosen = orders ?? this.models.map((model) => epochOrder(data.count, model.seed, epoch));
    const rows = this.#writeOrders(dataset, chosen, data.count);
    this.#writeState({ batch: 0, rows, training: 1 });
    const steps = Math.ceil(rows / this.batchSize);
    this.#run(dataset.train, steps);
    this.#steps += steps;
    return await this.#readLoss(steps);
  }

  /**
   * Takes `steps` training steps on the start of each model's next shuffle of `data` (not counted as an
   * epoch), with every kernel timed on the GPU: each kernel's mean time per step, in dispatch order.
   * Throws where the adapter cannot time kernels.
   */
  async profileTraining(data: GpuDataset, steps: number): Promise<KernelTime[]> {
    const dataset = this.#dataset(data);
    if (!Number.isInteger(steps) || steps < 1) {
      throw new RangeError(`steps must be a positive integer, got ${steps}`);
    }
    const length = Math.min(steps * this.batchSize, data.count);
    const orders = this.models.map((model) =>
      epochOrder(data.count, model.seed, this.#epochs).subarray(0, length)
    );
    const rows = this.#writeOrders(dataset, orders, data.count);
    this.#writeState({ batch: 0, rows, training: 1 });
    const taken = Math.ceil(rows / this.batchSize);
    const times = await timeDispatches(this.#context, dataset.train, taken);
    this.#steps += taken;
    return times;
  }

  /** Each model's loss (MSE over every pixel, no dropout) on all of `data`, as the tfjs trainer evaluates. */
  async evaluate(data: GpuDataset): Promise<Float32Array> {
    const dataset = this.#dataset(data);
    const identity = Array.from({ length: data.count }, (_, i) => i);
    const rows = this.#writeOrders(dataset, this.models.map(() => identity), data.count);
    this.#writeState({ batch: 0, rows, training: 0 });
    this.#run(dataset.evaluate, Math.ceil(rows / this.batchSize));
    return await this.#readLoss(rows);
  }

  /** The weights of `model` in PyTorch layout at its own latent size, keyed by PyTorch name. */
  async getWeights(model: number): Promise<Weights> {
    return await this.#readModel(BUFFERS.params, model);
  }

  /**
   * Replaces the weights of `model` (PyTorch layout and names at its own latent size; Adam's moments are
   * kept, as `load_state_dict` keeps an optimiser's).
   */
  setWeights(model: number, weights: Weights): void {
    this.#writeModel(BUFFERS.params, model, weights);
  }

  /** Adam's moments of `model`, laid out and named as its weights, for a checkpoint. */
  async getMoments(model: number): Promise<AdamMoments> {
    return {
      first: await this.#readModel(BUFFERS.moment1, model),
      second: await this.#readModel(BUFFERS.moment2, model),
    };
  }

  /** Replaces Adam's moments of `model` with what {@link Population.getMoments} gave. */
  setMoments(model: number, moments: AdamMoments): void {
    this.#writeModel(BUFFERS.moment1, model, moments.first);
    this.#writeModel(BUFFERS.moment2, model, moments.second);
  }

  /**
   * Sets the steps taken (Adam's t − 1 and the dropout RNG's step) and the epochs (the next epoch's
   * shuffle) to a checkpoint's, so that training goes on as the checkpointed run would have.
   */
  setProgress(progress: { steps: number; epochs: number }): void {
    for (const [name, value] of Object.entries(progress)) {
      if (!Number.isInteger(value) || value < 0) {
        throw new RangeError(`${name} must be a whole number, got ${value}`);
      }
    }
    this.#context.check();
    this.#steps = progress.steps;
    this.#epochs = progress.epochs;
    this.#context.device.queue.writeBuffer(
      this.#buffers.get(BUFFERS.state)!,
      0,
      new Uint32Array([progress.steps]),
    );
  }

  /** Frees the device and everything on it; later calls throw. */
  destroy(): void {
    this.#context.destroy();
  }

  #model(model: number): Required<ModelSettings> {
    const settings = this.models[model];
    if (!Number.isInteger(model) || !settings) {
      throw new RangeError(`no model ${model} in a population of ${this.models.length}`);
    }
    return settings;
  }

  #dataset(data: GpuDataset): DatasetState {
    this.#context.check();
    const dataset = this.#datasets.get(data);
    if (!dataset) throw new Error("this dataset was destroyed or belongs to another population");
    return dataset;
  }

  /** `model`'s slice of a buffer laid out as the parameters, as weights at its own latent size. */
  async #readModel(buffer: string, model: number): Promise<Weights> {
    const { hidden } = this.#model(model);
    const bytes = this.#dims.params * 4;
    const flat = await this.#context.read(this.#buffers.get(buffer)!, model * bytes, bytes);
    return unpackWeights(new Float32Array(flat), hidden, this.hiddenMax);
  }

  /** Writes `values` (laid out as `model`'s weights) into its slice of a buffer laid out as the parameters. */
  #writeModel(buffer: string, model: number, values: Weights): void {
    const { hidden } = this.#model(model);
    this.#context.check();
    const flat = packWeights(values, hidden, this.hiddenMax);
    this.#context.device.queue.writeBuffer(
      this.#buffers.get(buffer)!,
      model * this.#dims.params * 4,
      flat,
    );
  }

  #writeModels(): void {
    const words = new ArrayBuffer(this.models.length * MODEL_WORDS * 4);
    this.models.forEach((model, i) => {
      const floats = new Float32Array(words, i * MODEL_WORDS * 4, MODEL_WORDS);
      const ints = new Uint32Array(words, i * MODEL_WORDS * 4, MODEL_WORDS);
      floats[0] = model.lr;
      floats[1] = model.l2;
      floats[2] = model.dropout;
      ints[3] = model.seed >>> 0;
      ints[4] = model.hidden;
    });
    this.#context.device.queue.writeBuffer(this.#buffers.get(BUFFERS.models)!, 0, words);
  }

  /** Writes the state's batch, rows and training flag (the step count stays the GPU's). */
  #writeState(state: { batch: number; rows: number; training: number }): void {
    this.#context.device.queue.writeBuffer(
      this.#buffers.get(BUFFERS.state)!,
      4,
      new Uint32Array([state.batch, state.rows, state.training]),
    );
  }

  /** Checks and uploads one sample order per model; returns their common length. */
  #writeOrders(dataset: DatasetState, orders: readonly ArrayLike<number>[], count: number): number {
    if (orders.length !== this.models.length) {
      throw new RangeError(`${orders.length} orders for ${this.models.length} models`);
    }
    const rows = orders[0].length;
    if (rows < 1 || rows > count) throw new RangeError(`an order must hold 1 to ${count} indices`);
    const flat = new Uint32Array(orders.length * rows);
    orders.forEach((order, m) => {
      if (order.length !== rows) throw new RangeError("all orders must have the same length");
      for (let i = 0; i < rows; i++) {
        const index = order[i];
        if (!Number.isInteger(index) || index < 0 || index >= count) {
          throw new RangeError(`order ${m} holds ${index}, not a sample index below ${count}`);
        }
        flat[m * rows + i] = index;
      }
    });
    this.#context.device.queue.writeBuffer(dataset.buffers.get(BUFFERS.order)!, 0, flat);
    return rows;
  }

  /** Clears the loss sums and submits `steps` steps of `dispatches`, one command buffer each. */
  #run(dispatches: readonly Dispatch[], steps: number): void {
    const { device } = this.#context;
    let pending: GPUCommandBuffer[] = [];
    for (let step = 0; step < steps; step++) {
      const encoder = device.createCommandEncoder();
      if (step === 0) encoder.clearBuffer(this.#buffers.get(BUFFERS.lossSum)!);
      encodeDispatches(encoder, dispatches);
      pending.push(encoder.finish());
      if (pending.length === STEPS_PER_SUBMIT || step === steps - 1) {
        device.queue.submit(pending);
        pending = [];
      }
    }
  }

  /** The loss sums divided by `count` (steps when training, samples when evaluating). */
  async #readLoss(count: number): Promise<Float32Array> {
    const bytes = this.models.length * 4;
    const sums = new Float32Array(
      await this.#context.read(this.#buffers.get(BUFFERS.lossSum)!, 0, bytes),
    );
    return sums.map((sum) => sum / count);
  }
}

/** Fills in defaults and rejects settings the engine cannot train. */
function checkSettings(model: ModelSettings, index: number): Required<ModelSettings> {
  const settings = { l2: 0, dropout: 0, ...model };
  const problem = !Number.isInteger(settings.hidden) || settings.hidden < 1
    ? `hidden ${settings.hidden} is not a positive integer`
    : !(settings.lr > 0) || !Number.isFinite(settings.lr)
    ? `learning rate ${settings.lr} is not positive`
    : !(settings.l2 >= 0) || !Number.isFinite(settings.l2)
    ? `L2 weight decay ${settings.l2} is negative`
    : !(settings.dropout >= 0 && settings.dropout < 1)
    ? `dropout ${settings.dropout} is outside [0, 1)`
    : !Number.isInteger(settings.seed)
    ? `seed ${settings.seed} is not an integer`
    : null;
  if (problem) throw new RangeError(`model ${index}: ${problem}`);
  return settings;
}

/** The bytes a typed array views, as `queue.writeBuffer` takes them. */
function bytesOf(view: ArrayBufferView): Uint8Array<ArrayBuffer> {
  return new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength);
}

/** Creates the buffers of `specs` by name. */
async function createBuffers(
  context: GpuContext,
  specs: readonly BufferSpec[],
): Promise<Map<string, GPUBuffer>> {
  const buffers = new Map<string, GPUBuffer>();
  for (const spec of specs) {
    buffers.set(spec.name, await context.createBuffer(spec.name, spec.bytes));
  }
  return buffers;
}

export type { AdamMoments, KernelTime, Weights };
