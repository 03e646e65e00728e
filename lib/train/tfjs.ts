/**
 * The tfjs engine: a population trained in this thread, model after model, on whichever tfjs backend is
 * set up (webgpu, wasm, cpu). Each step gathers its batch from the dataset's pixels, takes the loss of the
 * model's kind under the epoch's dropout masks — an autoencoder's mean squared error against the target
 * images, a classifier's cross-entropy against the labels ({@link OBJECTIVES}, the one place a loss is
 * chosen) — and applies `torch.optim.Adam` with coupled L2 weight decay as one fused update over all
 * parameters; the loss is read back once per epoch. The loops let the event loop turn every
 * {@link TURN_EVERY_MS}, so that a stop signal takes effect between batches.
 *
 * The worker pool (`workers.ts`) runs this same trainer inside each worker, so a model trains to the same
 * bytes in this thread and in a worker.
 *
 * @module
 */
import { tf } from "../deps.ts";
import { epochOrder } from "../data/batches.ts";
import { initialWeightsOf, type LayerSpec } from "../model/architecture.ts";
import { imagesTensor } from "../model/images.ts";
import { type DropoutMasks, Network } from "../model/network.ts";
import { DIGIT_CLASSES } from "../model/classifier.ts";
import { type ModelKind, modelLayers } from "../model/spec.ts";
import { createRng, DropoutStream } from "../random.ts";
import {
  type Dataset,
  type EpochOptions,
  type ModelState,
  type Split,
  stepsPerEpoch,
  type Trainer,
  type TrainingJob,
} from "./trainer.ts";

/** Adam's constants, as torch.optim.Adam's defaults. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Images evaluated at once. */
const EVALUATION_BATCH = 1000;

/**
 * The longest a training or evaluation loop runs before it lets the event loop turn, so that a stop
 * signal's listener runs between batches rather than at the epoch's end.
 */
const TURN_EVERY_MS = 100;

/**
 * A function for a loop's batches that lets the event loop turn (a timer of 0 ms) where
 * {@link TURN_EVERY_MS} have passed since it last did, and returns at once otherwise.
 */
function eventLoopTurns(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < TURN_EVERY_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    last = performance.now();
  };
}

/** What a model learns: the targets of a batch, and its loss against them. */
interface Objective {
  /** The targets of the images `indices` of `dataset`, whose `inputs` are already in a tensor. */
  targets(dataset: Dataset, indices: ArrayLike<number>, inputs: tf.Tensor4D): tf.Tensor;
  /** The loss of a batch, as training minimises it. */
  batchLoss(output: tf.Tensor, targets: tf.Tensor): tf.Scalar;
  /** The loss of each image of a batch `[n]`, as evaluation sums it. */
  imageLosses(output: tf.Tensor, targets: tf.Tensor): tf.Tensor1D;
}

/**
 * Each kind's objective: an autoencoder matches its target images (a denoiser's clean ones, else its
 * inputs) in mean squared error over every pixel, as PyTorch's `MSELoss`; a classifier names each image's
 * label, in softmax cross-entropy on its logits, as PyTorch's `CrossEntropyLoss`.
 */
const OBJECTIVES: Record<ModelKind, Objective> = {
  autoencoder: {
    targets: (dataset, indices, inputs) =>
      dataset.targets ? imagesTensor(dataset.targets, indices) : inputs,
    batchLoss: (output, targets) => tf.mean(tf.squaredDifference(output, targets)),
    imageLosses: (output, targets) => tf.squaredDifference(output, targets).mean([1, 2, 3]),
  },
  classifier: {
    targets: (dataset, indices) => {
      if (!dataset.labels) {
        throw new Error("a classifier trains on labelled images; these have none");
      }
      const labels = Int32Array.from(indices, (i) => dataset.labels![i]);
      return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), DIGIT_CLASSES));
    },
    batchLoss: (output, targets) => tf.mean(crossEntropy(output, targets)),
    imageLosses: crossEntropy,
  },
};

/**
 * Trains its models one after another in this thread on the current tfjs backend.
 *
 * @example
 * ```ts
 * import { TfjsTrainer } from "./tfjs.ts";
 * import { setupBackend } from "../tfjs.ts";
 * const { backend } = await setupBackend("wasm", { quiet: true });
 * const images = new Uint8Array(64 * 784).fill(128);
 * const trainer = new TfjsTrainer([{
 *   name: "d = 4",
 *   model: { kind: "autoencoder", hidden: 4, dropout: 0 },
 *   lr: 1e-3,
 *   l2: 0,
 *   seed: 1,
 *   train: { inputs: images, count: 64 },
 * }], { batchSize: 32, backend });
 * console.log((await trainer.trainEpoch()).length); // 1
 * await trainer.dispose();
 * ```
 */
export class TfjsTrainer implements Trainer {
  readonly jobs: readonly TrainingJob[];
  readonly batchSize: number;
  readonly description: string;
  readonly numerics: string;
  readonly #models: TfjsModel[];

  /** Builds each job's model from its seed on the current backend, named `backend`. */
  constructor(jobs: readonly TrainingJob[], options: { batchSize: number; backend: string }) {
    this.jobs = jobs;
    this.batchSize = options.batchSize;
    this.description = `tfjs ${options.backend} in this thread`;
    this.numerics = `tfjs ${options.backend}`;
    this.#models = jobs.map((job) => new TfjsModel(job));
  }

  async trainEpoch(options: EpochOptions = {}): Promise<number[]> {
    const chosen = this.#models.map((_, i) => options.active?.[i] ?? true);
    const total = this.#models.reduce(
      (sum, model, i) =>
        sum + (chosen[i] ? stepsPerEpoch(model.job.train.count, this.batchSize, options.steps) : 0),
      0,
    );
    let done = 0;
    const losses: number[] = [];
    for (const [i, model] of this.#models.entries()) {
      if (!chosen[i]) {
        losses.push(NaN);
        continue;
      }
      losses.push(
        await model.trainEpoch(
          this.batchSize,
          () => options.onProgress?.(++done, total),
          options.steps,
        ),
      );
    }
    return losses;
  }

  async evaluate(split: Split, active?: readonly boolean[]): Promise<(number | null)[]> {
    const losses: (number | null)[] = [];
    for (const [i, model] of this.#models.entries()) {
      const dataset = model.job[split];
      losses.push(dataset && (active?.[i] ?? true) ? await model.evaluate(dataset) : null);
    }
    return losses;
  }

  getState(index: number): Promise<ModelState> {
    return this.#model(index).getState();
  }

  setState(index: number, state: ModelState): Promise<void> {
    this.#model(index).setState(state);
    return Promise.resolve();
  }

  dispose(): Promise<void> {
    this.#models.forEach((model) => model.dispose());
    return Promise.resolve();
  }

  #model(index: number): TfjsModel {
    const model = this.#models[index];
    if (!model) throw new RangeError(`no model ${index} among ${this.#models.length}`);
    return model;
  }
}

/** One model of a {@link TfjsTrainer}: its network, Adam's state and its progress. */
class TfjsModel {
  readonly job: TrainingJob;
  readonly #network: Network;
  readonly #layers: readonly LayerSpec[];
  readonly #objective: Objective;
  /** Adam's first and second moments of all parameters, flat, in the order of the variables. */
  readonly #moments: { first: tf.Variable; second: tf.Variable };
  #steps = 0;
  #epochs = 0;

  constructor(job: TrainingJob) {
    this.job = job;
    this.#layers = modelLayers(job.model);
    this.#objective = OBJECTIVES[job.model.kind];
    this.#network = new Network(this.#layers, initialWeightsOf(this.#layers, createRng(job.seed)));
    const count = this.#network.parameterCount;
    this.#moments = {
      first: tf.variable(tf.zeros([count]), false),
      second: tf.variable(tf.zeros([count]), false),
    };
  }

  /**
   * One epoch over the job's training images (its first `limit` steps); returns the mean of its batch
   * losses, read back once.
   */
  async trainEpoch(batchSize: number, onStep: () => void, limit = Infinity): Promise<number> {
    const { train } = this.job;
    const order = epochOrder(train.count, this.job.seed, this.#epochs)
      .subarray(0, Math.min(train.count, limit * batchSize));
    // Each epoch's dropout masks and learning rate follow from the seed and the epoch alone, so a run
    // resumed from a checkpoint draws the masks and takes the steps an uninterrupted one would.
    const lr = this.job.lr * (this.job.lrDecay ?? 1) ** this.#epochs;
    const dropout = new DropoutStream(this.job.seed, this.#epochs++);
    let total: tf.Tensor = tf.scalar(0);
    let steps = 0;
    const turn = eventLoopTurns();
    for (let start = 0; start < order.length; start += batchSize) {
      await turn();
      const indices = order.subarray(start, Math.min(start + batchSize, order.length));
      const { inputs, targets } = this.#batch(train, indices);
      const masks = this.#dropoutMasks(indices.length, dropout);
      const sum = tf.tidy(() => {
        const variables = this.#network.variables;
        const { value, grads } = tf.variableGrads(
          () => this.#objective.batchLoss(this.#network.forward(inputs, undefined, masks), targets),
          variables,
        );
        this.#adamStep(variables.map((variable) => grads[variable.name]), lr);
        return total.add(value);
      });
      tf.dispose([total, inputs, targets, ...masks.values()]);
      total = sum;
      steps++;
      onStep();
    }
    const mean = (await total.data())[0] / Math.max(steps, 1);
    total.dispose();
    return mean;
  }

  /**
   * The mean loss of the images of `dataset` (no dropout), read back once: each image's loss first (an
   * autoencoder's mean over its pixels), then their sum, which float32 adds up far more exactly than one
   * mean over every pixel.
   */
  async evaluate(dataset: Dataset): Promise<number> {
    let total: tf.Tensor = tf.scalar(0);
    const turn = eventLoopTurns();
    for (let start = 0; start < dataset.count; start += EVALUATION_BATCH) {
      await turn();
      const end = Math.min(start + EVALUATION_BATCH, dataset.count);
      const indices = Int32Array.from({ length: end - start }, (_, i) => start + i);
      const { inputs, targets } = this.#batch(dataset, indices);
      const sum = tf.tidy(() =>
        total.add(this.#objective.imageLosses(this.#network.forward(inputs), targets).sum())
      );
      tf.dispose([total, inputs, targets]);
      total = sum;
    }
    const mean = (await total.data())[0] / Math.max(dataset.count, 1);
    total.dispose();
    return mean;
  }

  async getState(): Promise<ModelState> {
    const { first, second } = this.#moments;
    return {
      weights: await this.#network.getWeights(),
      moments: {
        first: this.#network.unflatten(await first.data() as Float32Array),
        second: this.#network.unflatten(await second.data() as Float32Array),
      },
      steps: this.#steps,
      epochs: this.#epochs,
    };
  }

  setState(state: ModelState): void {
    this.#network.setWeights(state.weights);
    const flat = [state.moments.first, state.moments.second].map((m) => this.#network.flatten(m));
    tf.tidy(() => {
      this.#moments.first.assign(tf.tensor1d(flat[0]));
      this.#moments.second.assign(tf.tensor1d(flat[1]));
    });
    this.#steps = state.steps;
    this.#epochs = state.epochs;
  }

  dispose(): void {
    this.#network.dispose();
    tf.dispose([this.#moments.first, this.#moments.second]);
  }

  /** The batch `indices` of `dataset`: its inputs, and the targets of the model's objective. */
  #batch(
    dataset: Dataset,
    indices: ArrayLike<number>,
  ): { inputs: tf.Tensor4D; targets: tf.Tensor } {
    const inputs = imagesTensor(dataset.inputs, indices);
    return { inputs, targets: this.#objective.targets(dataset, indices, inputs) };
  }

  /** The dropout masks of one step (0 or 1/(1−p), PyTorch's scaling), none when p = 0. */
  #dropoutMasks(count: number, dropout: DropoutStream): DropoutMasks {
    const p = this.job.model.dropout;
    const masks = new Map<string, tf.Tensor2D>();
    if (p === 0) return masks;
    for (const layer of this.#layers.filter((layer) => layer.dropout)) {
      const values = dropout.mask(count, layer.outputs, p);
      masks.set(layer.name, tf.tensor2d(values, [count, layer.outputs]));
    }
    return masks;
  }

  /**
   * torch.optim.Adam with coupled weight decay, at learning rate `lr`: g ← g + λw; m ← β₁m + (1−β₁)g;
   * v ← β₂v + (1−β₂)g²; w ← w − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).
   */
  #adamStep(gradients: tf.Tensor[], lr: number): void {
    const t = ++this.#steps;
    const { first, second } = this.#moments;
    // All parameters as one flat vector: a dozen operations per step, not a dozen per parameter.
    const variables = this.#network.variables;
    const flat = (tensors: tf.Tensor[]) => tf.concat(tensors.map((x) => x.reshape([-1])));
    const w = flat(variables);
    let g = flat(gradients);
    if (this.job.l2 > 0) g = g.add(w.mul(tf.scalar(this.job.l2)));
    const m = first.mul(tf.scalar(BETA1)).add(g.mul(tf.scalar(1 - BETA1)));
    const v = second.mul(tf.scalar(BETA2)).add(g.square().mul(tf.scalar(1 - BETA2)));
    first.assign(m);
    second.assign(v);
    const stepSize = tf.scalar(lr / (1 - BETA1 ** t));
    const correction = tf.scalar(1 / Math.sqrt(1 - BETA2 ** t));
    const updated = w.sub(m.mul(stepSize).div(v.sqrt().mul(correction).add(tf.scalar(EPSILON))));
    tf.split(updated, variables.map((x) => x.size)).forEach((part, i) =>
      variables[i].assign(part.reshape(variables[i].shape))
    );
  }
}

/** The softmax cross-entropy of each row of `logits` `[n, classes]` against one-hot `targets`. */
function crossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits as tf.Tensor2D)), 1));
}
