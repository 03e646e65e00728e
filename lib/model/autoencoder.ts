/**
 * The seed's convolutional autoencoder on tfjs, matching PyTorch's numbers: the layers of
 * `architecture.ts` as one `tf.variable` per parameter (activations NHWC), PyTorch's default
 * initialisation, dropout, mean squared error and Adam with coupled L2 weight decay as `torch.optim.Adam`
 * applies it. Weights go in and out in PyTorch's names and layouts, so files and the PyTorch reference
 * are interchangeable.
 *
 * @module
 */
import { tf } from "../deps.ts";
import type { Digits } from "../data/mnist.ts";
import { type Batch, TensorBatches } from "../data/batches.ts";
import type { Codes } from "../latent.ts";
import { createRng, type Rng } from "../random.ts";
import {
  type AdamMoments,
  CONV_CODE,
  elementCount,
  initialWeights,
  KERNEL,
  type LayerSpec,
  layerSpecs,
  type ParameterSpec,
  parameterSpecs,
  STRIDE,
  type Weights,
} from "./architecture.ts";
import { loadSafetensors, saveSafetensors, type TensorData } from "./weights.ts";
import { FusedTrainer } from "./_fused_trainer.ts";
import type { Engine } from "../gpu.ts";

/** What an autoencoder is built and trained with. */
export interface AutoencoderConfig {
  /** Latent size d. */
  hidden: number;
  /** Dropout probability after the first linear layer of encoder and decoder, in [0, 1). */
  dropout: number;
  /** Adam's learning rate. */
  lr: number;
  /** L2 weight decay, added to the gradient as PyTorch's Adam does. */
  l2: number;
  /** Seed of the initial weights and of the dropout masks. */
  seed: number;
}

/** The defaults: d = 4 and the seed's best parameters (dropout 0.1508, lr 3.47e-4, L2 4.65e-6), seed 0. */
export const DEFAULT_CONFIG: AutoencoderConfig = {
  hidden: 4,
  dropout: 0.1508,
  lr: 3.47e-4,
  l2: 4.65e-6,
  seed: 0,
};
/** Adam's constants, as torch.optim.Adam's defaults. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Layers followed by dropout (after their ReLU), as in the seed. */
const DROPOUT_AFTER = new Set(["encoder_lin.0", "decoder_lin.0"]);

/** Options of {@link Autoencoder.trainEpoch}. */
export interface TrainEpochOptions {
  /** Called after each step with the number of steps done and the epoch's total. */
  onStep?: (done: number, total: number) => void;
}

/** Dropout masks by layer name: `[batch, outputs]`, each 0 or 1/(1−p). */
type DropoutMasks = ReadonlyMap<string, tf.Tensor2D>;

/** No dropout: evaluation, encoding and decoding. */
const NO_DROPOUT: DropoutMasks = new Map();

/** What training accumulates besides the weights: Adam's moments and the steps and epochs taken. */
export interface TrainingState {
  steps: number;
  epochs: number;
  moments: AdamMoments;
}

/** One parameter: its spec, its tfjs variable and the map from its tfjs to its PyTorch layout. */
interface Parameter {
  spec: ParameterSpec;
  variable: tf.Variable;
  /** `torchIndex[i]` is the PyTorch flat index of the tfjs flat index `i`. */
  torchIndex: Int32Array;
}

/** One layer as the forward pass runs it. */
interface Layer {
  spec: LayerSpec;
  part: "encoder" | "decoder";
  weight: Parameter;
  bias: Parameter;
  /** ReLU inside each part, nothing after the code layer, sigmoid at the output. */
  activation: "relu" | "linear" | "sigmoid";
  /** Whether dropout follows the activation (in training). */
  dropout: boolean;
  /** A linear layer after a convolution reads the 288 features in NHWC order, not PyTorch's CHW. */
  flattensInput: boolean;
  /** A linear layer before a transposed convolution writes its 288 features in NHWC order. */
  unflattensOutput: boolean;
}

/**
 * The autoencoder: encoder (3 strided convolutions, 2 linear layers) to a code of `hidden` numbers and a
 * mirrored decoder back to 28 × 28 pixels in [0, 1]. Training keeps the data in backend memory and reads
 * the loss back once per epoch.
 *
 * @example
 * ```ts
 * import { Autoencoder } from "./autoencoder.ts";
 * import { setupBackend } from "../gpu.ts";
 * await setupBackend("wasm");
 * const model = Autoencoder.create({ hidden: 4, seed: 1 });
 * console.log(model.parameterCount); // 49541
 * const pixels = await model.generateFromEncodedSample([0, 0, 0, 0]);
 * console.log(pixels.length); // 784
 * model.dispose();
 * ```
 */
export class Autoencoder {
  /** The configuration the model was built with. */
  readonly config: Readonly<AutoencoderConfig>;
  readonly #layers: Layer[];
  readonly #parameters: Parameter[];
  /** Adam's first and second moments of all parameters, flat, in the order of the parameters. */
  readonly #moments: { first: tf.Variable; second: tf.Variable };
  readonly #constants: Record<
    "beta1" | "oneMinusBeta1" | "beta2" | "oneMinusBeta2" | "l2",
    tf.Scalar
  >;
  #dropoutRng: Rng;
  #steps = 0;
  #epochs = 0;
  /** Set when the model trains on the fused WebGPU engine ({@link Autoencoder.useEngine}). */
  #fused?: FusedTrainer;

  private constructor(config: AutoencoderConfig, initial: Weights) {
    this.config = Object.freeze({ ...config });
    const specs = layerSpecs(config.hidden);
    const parameters = parameterSpecs(config.hidden);
    this.#layers = specs.map((spec, k) => {
      const part = spec.name.startsWith("encoder") ? "encoder" : "decoder";
      const lastOfPart = !specs[k + 1]?.name.startsWith(part);
      const layer = {
        spec,
        part,
        activation: !lastOfPart ? "relu" : part === "encoder" ? "linear" : "sigmoid",
        dropout: DROPOUT_AFTER.has(spec.name),
        flattensInput: spec.kind === "linear" && specs[k - 1]?.kind === "conv",
        unflattensOutput: spec.kind === "linear" && specs[k + 1]?.kind === "convTranspose",
      } as Omit<Layer, "weight" | "bias">;
      const [weight, bias] = [parameters[2 * k], parameters[2 * k + 1]].map((param) => {
        const torchIndex = tfjsToTorchIndex(param, layer);
        const values = gather(initial[param.name], torchIndex);
        const variable = tf.variable(tf.tensor(values, tfjsShape(param, spec)), true);
        return { spec: param, variable, torchIndex };
      });
      return { ...layer, weight, bias };
    });
    this.#parameters = this.#layers.flatMap(({ weight, bias }) => [weight, bias]);
    const count = this.#parameters.reduce((sum, { variable }) => sum + variable.size, 0);
    this.#moments = {
      first: tf.variable(tf.zeros([count]), false),
      second: tf.variable(tf.zeros([count]), false),
    };
    this.#constants = {
      beta1: tf.scalar(BETA1),
      oneMinusBeta1: tf.scalar(1 - BETA1),
      beta2: tf.scalar(BETA2),
      oneMinusBeta2: tf.scalar(1 - BETA2),
      l2: tf.scalar(config.l2),
    };
    this.#dropoutRng = dropoutRng(config.seed, 0);
  }

  /** A new model with PyTorch's default initialisation ({@link initialWeights}), seeded by `seed`. */
  static create(config: Partial<AutoencoderConfig> = {}): Autoencoder {
    const full = checkConfig({ ...DEFAULT_CONFIG, ...config });
    return new Autoencoder(full, initialWeights(full.hidden, createRng(full.seed)));
  }

  /**
   * Loads a model saved by {@link Autoencoder.save}. The file's latent size (and dropout, when `config`
   * names one) must match `config`, and it must hold exactly the model's tensors in their shapes;
   * anything else is rejected with an error that says what differs.
   */
  static async load(path: string, config: Partial<AutoencoderConfig> = {}): Promise<Autoencoder> {
    const { tensors, metadata } = await loadSafetensors(path);
    const saved = { hidden: Number(metadata.hidden), dropout: Number(metadata.dropout) };
    if (!Number.isInteger(saved.hidden) || !Number.isFinite(saved.dropout)) {
      throw new Error(`${path}: not an autoencoder file (no hidden/dropout in its metadata)`);
    }
    for (const key of ["hidden", "dropout"] as const) {
      if (config[key] !== undefined && config[key] !== saved[key]) {
        throw new Error(
          `${path}: saved with ${key} ${saved[key]}, but ${key} ${config[key]} was asked for`,
        );
      }
    }
    const full = checkConfig({ ...DEFAULT_CONFIG, ...saved, ...config });
    const specs = parameterSpecs(full.hidden);
    const expected = new Set(specs.map((spec) => spec.name));
    const extra = Object.keys(tensors).filter((name) => !expected.has(name));
    if (extra.length > 0) throw new Error(`${path}: unexpected tensors ${extra.join(", ")}`);
    const weights: Weights = {};
    for (const spec of specs) {
      const tensor = tensors[spec.name];
      if (!tensor) throw new Error(`${path}: missing tensor ${spec.name}`);
      if (tensor.shape.join() !== spec.shape.join()) {
        throw new Error(
          `${path}: ${spec.name} has shape [${tensor.shape}], expected [${spec.shape}] (hidden ${full.hidden})`,
        );
      }
      weights[spec.name] = tensor.data;
    }
    return new Autoencoder(full, weights);
  }

  /** Number of scalar parameters, counted over the model's variables. */
  get parameterCount(): number {
    return this.#parameters.reduce((sum, { variable }) => sum + variable.size, 0);
  }

  /** Number of optimiser steps taken. */
  get steps(): number {
    return this.#steps;
  }

  /**
   * One epoch of training over `batches` (dropout active): per batch the mean squared error between the
   * output and the batch's targets, its gradients and an Adam step. Returns the mean of the batch losses,
   * read back once at the end.
   */
  async trainEpoch(batches: TensorBatches, options: TrainEpochOptions = {}): Promise<number> {
    if (this.#fused) return await this.#trainEpochFused(batches, options);
    // Each epoch's dropout masks follow from the seed and the epoch alone, so a run resumed from a
    // checkpoint ({@link Autoencoder.setTrainingState}) draws the masks an uninterrupted one would.
    this.#dropoutRng = dropoutRng(this.config.seed, this.#epochs++);
    let total: tf.Tensor = tf.scalar(0);
    let done = 0;
    for (const batch of batches.epoch()) {
      const masks = this.#dropoutMasks(batch.size);
      const sum = tf.tidy(() => {
        const variables = this.#parameters.map(({ variable }) => variable);
        const { value, grads } = tf.variableGrads(() => this.#loss(batch, masks), variables);
        this.#adamStep(variables.map((variable) => grads[variable.name]));
        return total.add(value);
      });
      tf.dispose([total, ...masks.values()]);
      total = sum;
      done++;
      options.onStep?.(done, batches.batchCount);
    }
    const mean = (await total.data())[0] / Math.max(done, 1);
    total.dispose();
    return mean;
  }

  /**
   * The mean squared error over every pixel of `batches` (dropout inactive), read back once: the loss of
   * the whole set, whatever its batching.
   */
  async testEpoch(batches: TensorBatches): Promise<number> {
    if (this.#fused) return await this.#fused.testEpoch(batches);
    let total: tf.Tensor = tf.scalar(0);
    for (const batch of batches.epoch()) {
      const sum = tf.tidy(() => total.add(this.#loss(batch, NO_DROPOUT).mul(batch.size)));
      total.dispose();
      total = sum;
    }
    const mean = (await total.data())[0] / Math.max(batches.count, 1);
    total.dispose();
    return mean;
  }

  /** The codes `[n, hidden]` of `images` `[n, 28, 28, 1]` (pixels in [0, 1]); the caller disposes them. */
  encode(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.#run("encoder", images, NO_DROPOUT) as tf.Tensor2D);
  }

  /** The images `[n, 28, 28, 1]` decoded from `codes` `[n, hidden]`; the caller disposes them. */
  decode(codes: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => this.#run("decoder", codes, NO_DROPOUT) as tf.Tensor4D);
  }

  /** `images` encoded and decoded again; the caller disposes the result. */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() =>
      this.#run("decoder", this.#run("encoder", images, NO_DROPOUT), NO_DROPOUT) as tf.Tensor4D
    );
  }

  /** The codes of all of `digits`, with their labels. */
  async getEncRepresentation(digits: Digits, batchSize = 1000): Promise<Codes> {
    const batches = TensorBatches.fromDigits(digits, { batchSize, shuffle: false });
    try {
      const parts: tf.Tensor2D[] = [];
      for (const batch of batches.epoch()) parts.push(this.encode(batch.inputs));
      const all = tf.concat(parts);
      tf.dispose(parts);
      const codes = await all.data() as Float32Array;
      all.dispose();
      return { codes, labels: digits.labels.slice(0, digits.count), hidden: this.config.hidden };
    } finally {
      batches.dispose();
    }
  }

  /** The 784 pixels (row-major, in [0, 1]) that the code `z` decodes to. */
  async generateFromEncodedSample(z: ArrayLike<number>): Promise<Float32Array> {
    if (z.length !== this.config.hidden) {
      throw new RangeError(`a code has ${this.config.hidden} numbers, got ${z.length}`);
    }
    const image = tf.tidy(() => this.decode(tf.tensor2d(Array.from(z), [1, z.length])));
    const pixels = await image.data() as Float32Array;
    image.dispose();
    return pixels;
  }

  /** The weights by PyTorch name, in PyTorch's layouts (read asynchronously, as WebGPU requires). */
  async getWeights(): Promise<Weights> {
    const weights: Weights = {};
    for (const { spec, variable, torchIndex } of this.#parameters) {
      weights[spec.name] = scatter(await variable.data() as Float32Array, torchIndex);
    }
    return weights;
  }

  /** Replaces the weights with `weights` (PyTorch names and layouts; every parameter, of its size). */
  setWeights(weights: Weights): void {
    this.#assign(weights);
    this.#fused?.setWeights(weights);
  }

  /** Saves the weights as safetensors (PyTorch names and layouts, hidden and dropout in the metadata). */
  async save(path: string): Promise<void> {
    const weights = await this.getWeights();
    const tensors: Record<string, TensorData> = {};
    for (const { spec } of this.#parameters) {
      tensors[spec.name] = { shape: spec.shape, data: weights[spec.name] };
    }
    await saveSafetensors(path, tensors, {
      format: "pt",
      hidden: String(this.config.hidden),
      dropout: String(this.config.dropout),
    });
  }

  /**
   * What training has accumulated besides the weights — Adam's moments, the steps and epochs taken — for a
   * checkpoint that resumes exactly (with {@link Autoencoder.setTrainingState} and the weights). On the
   * fused engine the moments are read from the GPU.
   */
  async getTrainingState(): Promise<TrainingState> {
    const progress = { steps: this.#steps, epochs: this.#epochs };
    if (this.#fused) {
      return { ...progress, moments: (await this.#fused.getTrainingState()).moments };
    }
    const { first, second } = this.#moments;
    return {
      ...progress,
      moments: {
        first: this.#unflatten(await first.data() as Float32Array),
        second: this.#unflatten(await second.data() as Float32Array),
      },
    };
  }

  /**
   * Restores what {@link Autoencoder.getTrainingState} gave, so that training goes on from there, on
   * whichever engine the model trains.
   */
  setTrainingState(state: TrainingState): void {
    const flat = [this.#flatten(state.moments.first), this.#flatten(state.moments.second)];
    tf.tidy(() => {
      this.#moments.first.assign(tf.tensor1d(flat[0]));
      this.#moments.second.assign(tf.tensor1d(flat[1]));
    });
    this.#steps = state.steps;
    this.#epochs = state.epochs;
    this.#fused?.setTrainingState({ steps: state.steps, moments: state.moments });
  }

  /** The engine the model trains on: `tfjs` (the current tfjs backend) or `fused` (WebGPU). */
  get engine(): Engine {
    return this.#fused ? "fused" : "tfjs";
  }

  /**
   * Trains on `engine` from now on. `fused` trains on the fused WebGPU engine (one command buffer per step,
   * the images on the GPU), from the current weights, and copies the weights back into the model after
   * each epoch, so that every other method — evaluation, codes, images, saving — works as before.
   */
  async useEngine(engine: Engine): Promise<void> {
    if (engine === this.engine) return;
    // Adam's moments and the step count go along, so that training goes on where it was.
    const state = await this.getTrainingState();
    if (engine === "tfjs") {
      this.#fused!.destroy();
      this.#fused = undefined;
    } else {
      this.#fused = new FusedTrainer(this.config, await this.getWeights());
    }
    this.setTrainingState(state);
  }

  /** Frees the model's tensors. */
  dispose(): void {
    this.#fused?.destroy();
    tf.dispose(this.#parameters.map(({ variable }) => variable));
    tf.dispose([this.#moments.first, this.#moments.second]);
    tf.dispose(Object.values(this.#constants));
  }

  /** The mean squared error of the model's output for the batch's inputs against its targets. */
  /** Writes `weights` (PyTorch names and layouts) into the tfjs variables. */
  #assign(weights: Weights): void {
    for (const { spec, variable, torchIndex } of this.#parameters) {
      const values = weights[spec.name];
      checkValues(spec.name, values, torchIndex.length);
      tf.tidy(() => variable.assign(tf.tensor(gather(values, torchIndex), variable.shape)));
    }
  }

  /** Values named and laid out as the weights, flat in the moments' order (parameter after parameter, tfjs layouts). */
  #flatten(values: Weights): Float32Array {
    const flat = new Float32Array(this.parameterCount);
    let offset = 0;
    for (const { spec, torchIndex } of this.#parameters) {
      checkValues(spec.name, values[spec.name], torchIndex.length);
      flat.set(gather(values[spec.name], torchIndex), offset);
      offset += torchIndex.length;
    }
    return flat;
  }

  /** The inverse of {@link Autoencoder.#flatten}. */
  #unflatten(flat: Float32Array): Weights {
    const values: Weights = {};
    let offset = 0;
    for (const { spec, torchIndex } of this.#parameters) {
      values[spec.name] = scatter(flat.subarray(offset, offset + torchIndex.length), torchIndex);
      offset += torchIndex.length;
    }
    return values;
  }

  async #trainEpochFused(batches: TensorBatches, options: TrainEpochOptions): Promise<number> {
    const { loss, weights } = await this.#fused!.trainEpoch(batches);
    this.#epochs++;
    this.#assign(weights);
    this.#steps += batches.batchCount;
    options.onStep?.(batches.batchCount, batches.batchCount);
    return loss;
  }

  #loss(batch: Batch, masks: DropoutMasks): tf.Scalar {
    const output = this.#run("decoder", this.#run("encoder", batch.inputs, masks), masks);
    return tf.mean(tf.squaredDifference(output, batch.targets));
  }

  /** The layers of `part` applied to `x`, each followed by its dropout mask, if `masks` holds one. */
  #run(part: Layer["part"], x: tf.Tensor, masks: DropoutMasks): tf.Tensor {
    for (const layer of this.#layers) {
      if (layer.part !== part) continue;
      x = apply(layer, x);
      const mask = masks.get(layer.spec.name);
      if (mask) x = x.mul(mask);
    }
    return x;
  }

  /** The dropout masks of one step (0 or 1/(1−p), PyTorch's scaling), none when p = 0. */
  #dropoutMasks(count: number): DropoutMasks {
    const p = this.config.dropout;
    const masks = new Map<string, tf.Tensor2D>();
    if (p === 0) return masks;
    for (const { spec } of this.#layers.filter((layer) => layer.dropout)) {
      const values = new Float32Array(count * spec.outputs);
      for (let i = 0; i < values.length; i++) values[i] = this.#dropoutRng() < p ? 0 : 1 / (1 - p);
      masks.set(spec.name, tf.tensor2d(values, [count, spec.outputs]));
    }
    return masks;
  }

  /**
   * torch.optim.Adam with coupled weight decay: g ← g + λw; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
   * w ← w − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε).
   */
  #adamStep(gradients: tf.Tensor[]): void {
    const t = ++this.#steps;
    const c = this.#constants;
    const { first, second } = this.#moments;
    const stepSize = tf.scalar(this.config.lr / (1 - BETA1 ** t));
    const correction = tf.scalar(1 / Math.sqrt(1 - BETA2 ** t));
    const epsilon = tf.scalar(EPSILON);
    // All parameters as one flat vector: a dozen operations per step, not a dozen per parameter.
    const variables = this.#parameters.map(({ variable }) => variable);
    const flat = (tensors: tf.Tensor[]) => tf.concat(tensors.map((x) => x.reshape([-1])));
    const w = flat(variables);
    let g = flat(gradients);
    if (this.config.l2 > 0) g = g.add(w.mul(c.l2));
    const m = first.mul(c.beta1).add(g.mul(c.oneMinusBeta1));
    const v = second.mul(c.beta2).add(g.square().mul(c.oneMinusBeta2));
    first.assign(m);
    second.assign(v);
    const updated = w.sub(m.mul(stepSize).div(v.sqrt().mul(correction).add(epsilon)));
    tf.split(updated, variables.map((x) => x.size)).forEach((part, i) =>
      variables[i].assign(part.reshape(variables[i].shape))
    );
  }
}

/** One layer's operation and activation, with the reshapes between convolutions and linear layers. */
function apply(layer: Layer, x: tf.Tensor): tf.Tensor {
  const { spec, activation } = layer;
  const w = layer.weight.variable;
  const b = layer.bias.variable;
  if (spec.kind === "conv") {
    return tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: w as tf.Tensor4D,
      strides: STRIDE,
      pad: spec.padding!,
      bias: b,
      activation: activation === "relu" ? "relu" : "linear",
    });
  }
  if (spec.kind === "convTranspose") {
    const input = x as tf.Tensor4D;
    const side = (input.shape[1] - 1) * STRIDE - 2 * spec.padding! + KERNEL + spec.outputPadding!;
    // PyTorch's ConvTranspose2d(padding p, output_padding) is the adjoint of a convolution with padding
    // p on both sides of an input `side` wide: tfjs's numeric (explicit) padding, not its "same".
    const y = tf.add(
      tf.conv2dTranspose(
        input,
        w as tf.Tensor4D,
        [input.shape[0], side, side, spec.outputs],
        STRIDE,
        spec.padding!,
      ),
      b,
    );
    return activation === "sigmoid" ? tf.sigmoid(y) : tf.relu(y);
  }
  const batch = x.shape[0];
  const flat = layer.flattensInput
    ? x.reshape([batch, spec.inputs]) as tf.Tensor2D
    : x as tf.Tensor2D;
  const y = tf.fused.matMul({
    a: flat,
    b: w as tf.Tensor2D,
    bias: b,
    activation: activation === "relu" ? "relu" : "linear",
  });
  return layer.unflattensOutput
    ? y.reshape([batch, CONV_CODE.side, CONV_CODE.side, CONV_CODE.channels])
    : y;
}

/** The generator of the dropout masks of epoch `epoch` of a model seeded `seed`. */
function dropoutRng(seed: number, epoch: number): Rng {
  return createRng(Math.imul((seed ^ 0x2545f491) >>> 0, 0x9e3779b1) + epoch);
}

function checkConfig(config: AutoencoderConfig): AutoencoderConfig {
  const { hidden, dropout, lr, l2, seed } = config;
  if (!Number.isInteger(hidden) || hidden < 1) {
    throw new RangeError(`hidden must be a positive integer, got ${hidden}`);
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw new RangeError(`dropout must be in [0, 1), got ${dropout}`);
  }
  if (!(lr > 0)) throw new RangeError(`lr must be > 0, got ${lr}`);
  if (!(l2 >= 0)) throw new RangeError(`l2 must be ≥ 0, got ${l2}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  return config;
}

/** Throws unless `values` (a parameter's, or its moment's) hold `count` numbers. */
function checkValues(name: string, values: Float32Array | undefined, count: number): void {
  if (!values || values.length !== count) {
    throw new RangeError(`${name}: expected ${count} values, got ${values?.length ?? "none"}`);
  }
}

/** `out[i] = values[indices[i]]`: PyTorch's layout to tfjs's, by a parameter's `torchIndex`. */
function gather(values: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]];
  return out;
}

/** `out[indices[i]] = values[i]`: tfjs's layout to PyTorch's, the inverse of {@link gather}. */
function scatter(values: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[indices[i]] = values[i];
  return out;
}

/** A parameter's shape in tfjs: conv [k, k, in, out], transposed conv [k, k, out, in], linear [in, out]. */
function tfjsShape(param: ParameterSpec, layer: LayerSpec): number[] {
  if (param.shape.length === 1) return param.shape;
  if (layer.kind === "conv") return [KERNEL, KERNEL, layer.inputs, layer.outputs];
  if (layer.kind === "convTranspose") return [KERNEL, KERNEL, layer.outputs, layer.inputs];
  return [layer.inputs, layer.outputs];
}

/**
 * For each flat index of the tfjs layout, the flat index of the same number in PyTorch's layout. Linear
 * layers next to the convolutions also reorder their 288 features between PyTorch's flatten order
 * (channel, row, column) and the NHWC order (row, column, channel) of the tfjs activations.
 */
function tfjsToTorchIndex(
  param: ParameterSpec,
  layer: Pick<Layer, "spec" | "flattensInput" | "unflattensOutput">,
): Int32Array {
  const { spec } = layer;
  const shape = tfjsShape(param, spec);
  const index = new Int32Array(elementCount(shape));
  const inFeature = layer.flattensInput ? chwIndex : (i: number) => i;
  const outFeature = layer.unflattensOutput ? chwIndex : (i: number) => i;
  let i = 0;
  if (param.shape.length === 1) {
    for (let o = 0; o < index.length; o++) index[o] = outFeature(o);
  } else if (spec.kind === "linear") {
    for (let a = 0; a < spec.inputs; a++) {
      for (let b = 0; b < spec.outputs; b++) {
        index[i++] = outFeature(b) * spec.inputs + inFeature(a);
      }
    }
  } else {
    // conv: tfjs [ky, kx, in, out] from PyTorch [out, in, ky, kx]; transposed: tfjs [ky, kx, out, in]
    // from PyTorch [in, out, ky, kx]. Either way PyTorch orders (fourth, third, ky, kx): the kernel is
    // not flipped, only the axes move.
    const [, , third, fourth] = shape;
    for (let ky = 0; ky < KERNEL; ky++) {
      for (let kx = 0; kx < KERNEL; kx++) {
        for (let c = 0; c < third; c++) {
          for (let d = 0; d < fourth; d++) {
            index[i++] = ((d * third + c) * KERNEL + ky) * KERNEL + kx;
          }
        }
      }
    }
  }
  return index;
}

/** PyTorch's flat index (channel, row, column) of the NHWC flat index `i` of the 32 × 3 × 3 code. */
function chwIndex(i: number): number {
  const { channels, side } = CONV_CODE;
  const c = i % channels;
  const pixel = (i - c) / channels;
  return c * side * side + pixel;
}
