/**
 * A population of models of one kind — the study's autoencoders, or digit classifiers — on aelab's own
 * WebAssembly kernels: one linear memory per population, allocated once, holding every model's
 * parameters, gradients and Adam moments (PyTorch's layouts, flat, in the order of `parametersOf`) and
 * the activations of one batch, which the models share as they take their steps one after another.
 *
 * Activations lie batch-innermost (see `assembly/kernels.ts`): the batch, padded to a multiple of 16
 * lanes, is the SIMD vector, so every layer vectorises alike. Each layer's bias and activation are fused
 * into its kernel; the sigmoid's derivative into an autoencoder's loss. A classifier's softmax
 * cross-entropy, over its 10 logits per image, is computed here in JavaScript.
 *
 * A model fed the same batches and dropout masks as the tfjs trainer trains like it, up to the order of
 * float arithmetic: the caller gathers the batches (`epochOrder`) and draws the masks (`dropoutMask`).
 *
 * @module
 */
import { type Pixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import { type LayerGeometry, networkGeometry, networkLayout } from "../gpu/layout.ts";
import {
  type AdamMoments,
  elementCount,
  initialWeightsOf,
  KERNEL,
  parametersOf,
  type ParameterSpec,
  STRIDE,
  type Weights,
} from "../model/architecture.ts";
import { type ModelKind, modelLayers, type ModelSpec } from "../model/spec.ts";
import { createRng } from "../random.ts";
import { EPILOGUE, instantiate, type KernelExports, type Kernels } from "./kernels.ts";

/** One model of a population. */
export interface WasmModel {
  /** What it is: its kind, and its latent size and dropout probability. */
  spec: ModelSpec;
  /** PyTorch's coupled L2 (`weight_decay`). */
  l2: number;
  /** Seeds the initial weights, as `initialWeightsOf(modelLayers(spec), createRng(seed))`. */
  seed: number;
}

/** Where a batch comes from: images, a denoiser's target images, a classifier's labels (a `Dataset`). */
export interface BatchSource {
  /** `count × 784` pixels: bytes 0–255 or floats in [0, 1]. */
  inputs: Pixels;
  /** The images an autoencoder's output should match (default: the inputs). */
  targets?: Pixels;
  /** The digit each image shows: what a classifier learns to name. */
  labels?: Uint8Array;
}

/** Adam's constants, as torch.optim.Adam's defaults (the kernel holds them too). */
const BETA1 = 0.9;
const BETA2 = 0.999;
/** Lanes of a SIMD block of the kernels: batches are padded to a multiple of it. */
const LANE_BLOCK = 16;
/** Alignment of every buffer, in bytes. */
const ALIGN = 64;
/** Bytes of one tap record of a gather table: a count and up to 9 (pixel, tap) pairs. */
const GATHER_RECORD = 76;
const PAGE = 65536;

/**
 * A map in memory: `channels` planes of `area` pixels, a row of lanes per pixel, and — where a
 * convolution reads it on its fine side — one zero pixel per plane.
 */
interface MapView {
  offset: number;
  channels: number;
  area: number;
  /** Bytes per plane. */
  stride: number;
}

/** The tap tables of one convolution geometry (byte offsets). */
interface Taps {
  toCoarse: number;
  toFine: number;
  weightGradient: number;
}

/** One layer of one model as the kernels run it: where its maps, parameters and tables lie. */
interface LayerPlan {
  geometry: LayerGeometry;
  input: MapView;
  output: MapView;
  /** The gradient of the output's pre-activation, laid out as the output. */
  grad: MapView;
  /** The gradient of the input's pre-activation (none for the first layer). */
  inputGrad?: MapView;
  /** The dropout mask, laid out as the output, where the layer has dropout. */
  mask?: number;
  /** Byte offsets of weight and bias in the parameters; the same offsets from the gradients' start. */
  weight: number;
  bias: number;
  taps?: Taps;
}

/** Where one model's state lies: parameters, gradients and Adam's moments, each `count` floats. */
interface ModelSlots {
  settings: WasmModel;
  /** Its parameters, in the order their values lie in each slot. */
  parameters: ParameterSpec[];
  layers: LayerPlan[];
  params: number;
  grads: number;
  first: number;
  second: number;
  /** Floats of each slot (the parameters padded to a multiple of 4). */
  count: number;
}

/**
 * The population: its memory and kernels, each model's slots, the shared batch maps.
 *
 * @example
 * ```ts
 * import { loadKernels } from "./kernels.ts";
 * import { WasmPopulation } from "./population.ts";
 * const kernels = await loadKernels();
 * if (typeof kernels !== "string") {
 *   const spec = { kind: "autoencoder", hidden: 4, dropout: 0 } as const;
 *   const population = new WasmPopulation(kernels, [{ spec, l2: 0, seed: 1 }], 32);
 *   population.loadBatch({ inputs: new Uint8Array(32 * 784).fill(200) }, [0, 1, 2]);
 *   console.log(population.step(0, 1e-3, 1) > 0); // true
 * }
 * ```
 */
export class WasmPopulation {
  /** Images a step takes at most. */
  readonly batchSize: number;
  readonly #kernels: KernelExports;
  readonly #memory: WebAssembly.Memory;
  readonly #models: ModelSlots[];
  readonly #rowBytes: number;
  readonly #images: MapView;
  readonly #targets: MapView;
  /** What the models are: each kind has its loss. */
  readonly #kind: ModelKind;
  /** Rows of the batch loaded, and the lanes the kernels run over. */
  #rows = 0;
  #lanes = 0;
  /** Whether the loaded batch has targets of its own. */
  #denoising = false;
  /** The loaded batch's labels (a classifier's). */
  #labels = new Uint8Array(0);

  /**
   * Lays out and allocates the memory of `models` (one or more, all of one kind) at batch `batchSize`,
   * each at its seed's weights.
   */
  constructor(kernels: Kernels, models: readonly WasmModel[], batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    }
    const kinds = new Set(models.map((model) => model.spec.kind));
    if (kinds.size !== 1) {
      throw new RangeError(`a population holds models of one kind, got ${[...kinds].join(", ")}`);
    }
    this.#kind = models[0].spec.kind;
    this.batchSize = batchSize;
    this.#memory = new WebAssembly.Memory({ initial: 1 });
    this.#kernels = instantiate(kernels, this.#memory);
    const lanes = Math.ceil(batchSize / LANE_BLOCK) * LANE_BLOCK;
    this.#rowBytes = lanes * 4;
    let top = align(this.#kernels.heapBase());
    const allocate = (bytes: number) => {
      const at = top;
      top = align(top + bytes);
      return at;
    };
    const map = (channels: number, area: number, padded: boolean): MapView => {
      const stride = (area + (padded ? 1 : 0)) * this.#rowBytes;
      return { offset: allocate(channels * stride), channels, area, stride };
    };
    this.#images = map(1, IMAGE_PIXELS, true);
    this.#targets = map(1, IMAGE_PIXELS, false);
    // The layers' maps, shared by all models: as wide as the widest (the largest latent size).
    const geometries = models.map((model) => networkGeometry(modelLayers(model.spec)));
    const shared = geometries[0].map((layer, i, layers) => {
      const [, area] = outputShape(layer, layers[i + 1]);
      const channels = Math.max(...geometries.map((g) => outputShape(g[i], g[i + 1])[0]));
      // The fine side of a convolution: a convolution's input, a transposed convolution's output.
      const padded = layers[i + 1]?.spec.kind === "conv" || layer.spec.kind === "convTranspose";
      return {
        output: map(channels, area, padded),
        grad: map(channels, area, padded),
        mask: layer.activation === "reluDropout" ? map(channels, area, false).offset : undefined,
      };
    });
    const tapTables = new Map<string, { taps: Taps; values: Int32Array[] }>();
    const tapsOf = (layer: LayerGeometry): Taps => {
      const convolution = sides(layer);
      const key = JSON.stringify(convolution);
      if (!tapTables.has(key)) {
        const values = [
          gatherTable(convolution, "toCoarse"),
          gatherTable(convolution, "toFine"),
          weightGradientTable(convolution),
        ];
        const [toCoarse, toFine, weightGradient] = values.map((table) =>
          allocate(table.byteLength)
        );
        tapTables.set(key, { taps: { toCoarse, toFine, weightGradient }, values });
      }
      return tapTables.get(key)!.taps;
    };
    this.#models = models.map((settings, m) => {
      const count = gradientCount(settings.spec);
      const [params, grads, first, second] = [0, 1, 2, 3].map(() => allocate(count * 4));
      const geometry = geometries[m];
      // Each layer reads the map its predecessor wrote.
      const layers: LayerPlan[] = [];
      geometry.forEach((layer, i) => {
        const [channels, area] = outputShape(layer, geometry[i + 1]);
        const view = (base: MapView): MapView => ({ ...base, channels, area });
        const previous = layers[i - 1];
        layers.push({
          geometry: layer,
          input: previous?.output ?? this.#images,
          output: view(shared[i].output),
          grad: view(shared[i].grad),
          inputGrad: previous?.grad,
          mask: shared[i].mask,
          weight: layer.weight.offset * 4,
          bias: layer.bias.offset * 4,
          taps: layer.spec.kind === "linear" ? undefined : tapsOf(layer),
        });
      });
      const parameters = parametersOf(modelLayers(settings.spec));
      return { settings, parameters, layers, params, grads, first, second, count };
    });
    const pages = Math.ceil(top / PAGE);
    this.#memory.grow(pages - this.#memory.buffer.byteLength / PAGE);
    for (const { values, taps } of tapTables.values()) {
      [taps.toCoarse, taps.toFine, taps.weightGradient].forEach((offset, k) =>
        new Int32Array(this.#memory.buffer, offset, values[k].length).set(values[k])
      );
    }
    this.#models.forEach(({ settings }, i) => {
      this.setWeights(i, initialWeightsOf(modelLayers(settings.spec), createRng(settings.seed)));
    });
  }

  /** Bytes of the population's memory. */
  get bytes(): number {
    return this.#memory.buffer.byteLength;
  }

  /**
   * Loads the batch of the images `indices` of `source`: its inputs (`count × 784`, bytes or floats in
   * [0, 1]) and, for a denoiser, its targets (else the inputs are the targets), as floats in [0, 1]
   * exactly as `unitPixels` makes them; for classifiers, their labels, which a loss needs.
   */
  loadBatch(source: BatchSource, indices: ArrayLike<number>): void {
    const rows = indices.length;
    if (rows < 1 || rows > this.batchSize) {
      throw new RangeError(`a batch holds 1 to ${this.batchSize} images, got ${rows}`);
    }
    const { inputs, targets, labels } = source;
    this.#rows = rows;
    this.#lanes = Math.ceil(rows / LANE_BLOCK) * LANE_BLOCK;
    this.#denoising = targets !== undefined;
    this.#writeImages(this.#images, inputs, indices);
    if (targets) this.#writeImages(this.#targets, targets, indices);
    this.#labels = labels ? Uint8Array.from(indices, (i) => labels[i]) : new Uint8Array(0);
  }

  /**
   * Writes model `model`'s dropout masks of the loaded batch: `masks[k]` (`rows × units`, row after row,
   * each 0 or 1/(1−p)) for its k-th dropout layer.
   */
  loadMasks(model: number, masks: readonly Float32Array[]): void {
    const layers = this.#onBatch(model).layers.filter((layer) => layer.mask !== undefined);
    const floats = new Float32Array(this.#memory.buffer);
    const lanes = this.#rowBytes / 4;
    layers.forEach((layer, k) => {
      const units = layer.output.channels;
      const values = masks[k];
      const base = layer.mask! / 4;
      const stride = layer.output.stride / 4;
      for (let b = 0; b < this.#rows; b++) {
        for (let u = 0; u < units; u++) floats[base + u * stride + b] = values[b * units + u];
      }
      for (let u = 0; u < units; u++) {
        floats.fill(0, base + u * stride + this.#rows, base + u * stride + lanes);
      }
    });
  }

  /**
   * One Adam step of model `model` on the loaded batch (with the masks loaded for it where it has
   * dropout), at learning rate `lr`, as Adam's step `t`: {@link gradient}, then {@link update}; returns
   * the batch's loss before the update.
   */
  step(model: number, lr: number, t: number): number {
    const sum = this.gradient(model);
    this.update(model, lr, t);
    return sum / this.#rows;
  }

  /**
   * Model `model`'s gradients (see {@link gradients}) of the mean loss over `meanRows` images, of which
   * the loaded batch is a slice (default: the loaded batch alone), with the masks loaded for it where it
   * has dropout; returns the loaded images' losses, summed (see {@link lossSum}). Slices of one batch,
   * their gradients summed, give the whole batch's gradients.
   */
  gradient(model: number, meanRows: number = this.#rows): number {
    const slots = this.#onBatch(model);
    this.#forward(slots, true);
    const sum = this.#loss(slots.layers.at(-1)!, meanRows);
    this.#backward(slots);
    return sum;
  }

  /** Model `model`'s Adam step from its gradients, at learning rate `lr`, as Adam's step `t`. */
  update(model: number, lr: number, t: number): void {
    const slots = this.#model(model);
    this.#kernels.adam(
      slots.params,
      slots.grads,
      slots.first,
      slots.second,
      slots.count,
      slots.settings.l2,
      lr / (1 - BETA1 ** t),
      1 / Math.sqrt(1 - BETA2 ** t),
    );
  }

  /**
   * Model `model`'s gradients in the population's memory, flat in the order of its weights (padded to a
   * multiple of 4 floats): written by {@link gradient}, read by {@link update}, and free to be summed
   * with other slices' gradients in between.
   */
  gradients(model: number): Float32Array {
    const slots = this.#model(model);
    return new Float32Array(this.#memory.buffer, slots.grads, slots.count);
  }

  /**
   * Model `model`'s loss on each image of the loaded batch, without dropout, summed over them: an
   * autoencoder's mean squared error over the image's pixels, a classifier's softmax cross-entropy.
   */
  lossSum(model: number): number {
    const slots = this.#onBatch(model);
    this.#forward(slots, false);
    return this.#loss(slots.layers.at(-1)!, 0);
  }

  /**
   * Model `model`'s outputs on the loaded batch, without dropout, image after image: an autoencoder's
   * 784 pixels of each reconstruction, a classifier's 10 logits.
   *
   * @example
   * ```ts
   * import { loadKernels } from "./kernels.ts";
   * import { WasmPopulation } from "./population.ts";
   * const kernels = await loadKernels();
   * if (typeof kernels !== "string") {
   *   const spec = { kind: "classifier", dropout: 0 } as const;
   *   const population = new WasmPopulation(kernels, [{ spec, l2: 0, seed: 1 }], 16);
   *   population.loadBatch({ inputs: new Uint8Array(2 * 784) }, [0, 1]);
   *   console.log(population.outputs(0).length); // 20
   * }
   * ```
   */
  outputs(model: number): Float32Array {
    const slots = this.#onBatch(model);
    this.#forward(slots, false);
    const { output } = slots.layers.at(-1)!;
    const units = output.channels * output.area;
    const floats = new Float32Array(this.#memory.buffer);
    const lanes = this.#rowBytes / 4;
    const values = new Float32Array(this.#rows * units);
    for (let u = 0; u < units; u++) {
      const row = (output.offset + Math.floor(u / output.area) * output.stride) / 4 +
        (u % output.area) * lanes;
      for (let b = 0; b < this.#rows; b++) values[b * units + u] = floats[row + b];
    }
    return values;
  }

  /** Model `model`'s weights, in PyTorch's names and layouts. */
  getWeights(model: number): Weights {
    return this.#read(model, this.#model(model).params);
  }

  /** Replaces model `model`'s weights (PyTorch's names and layouts, every parameter). */
  setWeights(model: number, weights: Weights): void {
    this.#write(model, this.#model(model).params, weights);
  }

  /** Model `model`'s Adam moments, named and laid out as its weights. */
  getMoments(model: number): AdamMoments {
    const slots = this.#model(model);
    return { first: this.#read(model, slots.first), second: this.#read(model, slots.second) };
  }

  /** Replaces model `model`'s Adam moments. */
  setMoments(model: number, moments: AdamMoments): void {
    const slots = this.#model(model);
    this.#write(model, slots.first, moments.first);
    this.#write(model, slots.second, moments.second);
  }

  /** Model `model`'s latest gradients (of the last step), named and laid out as its weights. */
  getGradients(model: number): Weights {
    return this.#read(model, this.#model(model).grads);
  }

  get #target(): MapView {
    return this.#denoising ? this.#targets : this.#images;
  }

  /**
   * The loss of the loaded images, each image's summed, from the last layer's outputs; with `meanRows`
   * (not 0), also its gradient of the mean loss over that many images, written into the layer's `grad`.
   */
  #loss(last: LayerPlan, meanRows: number): number {
    if (this.#kind === "classifier") return this.#crossEntropy(last, meanRows);
    const sum = this.#kernels.squaredError(
      last.output.offset,
      this.#target.offset,
      meanRows > 0 ? last.grad.offset : 0,
      IMAGE_PIXELS,
      this.#rowBytes,
      this.#lanes,
      this.#rows,
      meanRows || this.#rows,
    );
    return sum / IMAGE_PIXELS;
  }

  /**
   * The softmax cross-entropy of the logits of `last` against the loaded labels, summed over the images;
   * with `meanRows`, its gradient with respect to the logits, (softmax − one-hot) / meanRows, the lanes
   * past the batch zero.
   */
  #crossEntropy(last: LayerPlan, meanRows: number): number {
    const rows = this.#rows;
    if (this.#labels.length !== rows) {
      throw new Error("a classifier trains on labelled images; these have none");
    }
    const { output, grad } = last;
    const classes = output.channels;
    const floats = new Float32Array(this.#memory.buffer);
    const [logits, gradient, stride] = [output.offset / 4, grad.offset / 4, output.stride / 4];
    let total = 0;
    for (let b = 0; b < rows; b++) {
      const label = this.#labels[b];
      if (label >= classes) throw new RangeError(`label ${label} names no class of ${classes}`);
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, floats[logits + c * stride + b]);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(floats[logits + c * stride + b] - max);
      const logSum = max + Math.log(sum);
      total += logSum - floats[logits + label * stride + b];
      if (meanRows === 0) continue;
      for (let c = 0; c < classes; c++) {
        const p = Math.exp(floats[logits + c * stride + b] - logSum);
        floats[gradient + c * stride + b] = (p - (c === label ? 1 : 0)) / meanRows;
      }
    }
    if (meanRows > 0) {
      const lanes = this.#rowBytes / 4;
      for (let c = 0; c < classes; c++) {
        floats.fill(0, gradient + c * stride + rows, gradient + c * stride + lanes);
      }
    }
    return total;
  }

  /** Model `model`'s slots, for a pass over the loaded batch. */
  #onBatch(model: number): ModelSlots {
    if (this.#rows === 0) throw new Error("no batch loaded");
    return this.#model(model);
  }

  #model(model: number): ModelSlots {
    const slots = this.#models[model];
    if (!Number.isInteger(model) || !slots) {
      throw new RangeError(`no model ${model} among ${this.#models.length}`);
    }
    return slots;
  }

  /** Every layer forward, dropout (with the loaded masks) only in `training`. */
  #forward(slots: ModelSlots, training: boolean): void {
    const k = this.#kernels;
    const dropout = training && slots.settings.spec.dropout > 0;
    for (const layer of slots.layers) {
      const { geometry, input, output } = layer;
      const activation = geometry.activation;
      const masked = activation === "reluDropout" && dropout;
      const mode = masked
        ? EPILOGUE.reluMask
        : activation === "code" || activation === "linear"
        ? EPILOGUE.none
        : activation === "sigmoid"
        ? EPILOGUE.sigmoid
        : EPILOGUE.relu;
      const aux = masked ? layer.mask! : 0;
      const weight = slots.params + layer.weight;
      const bias = slots.params + layer.bias;
      if (geometry.spec.kind === "linear") {
        k.linearForward(
          input.offset,
          geometry.spec.inputs,
          weight,
          bias,
          output.offset,
          geometry.spec.outputs,
          this.#rowBytes,
          this.#lanes,
          mode,
          aux,
        );
      } else {
        const toCoarse = geometry.spec.kind === "conv";
        this.#gather(layer, input, output, toCoarse, weight, bias, mode, aux, 1);
      }
    }
  }

  /** Every layer's gradients, from the last layer's (the loss wrote it) back to the first. */
  #backward(slots: ModelSlots): void {
    const k = this.#kernels;
    const p = slots.settings.spec.dropout;
    for (let i = slots.layers.length - 1; i >= 0; i--) {
      const layer = slots.layers[i];
      const { geometry, input, grad } = layer;
      const gradWeight = slots.grads + layer.weight;
      const gradBias = slots.grads + layer.bias;
      const weight = slots.params + layer.weight;
      if (geometry.spec.kind === "linear") {
        k.linearWeightGradient(
          grad.offset,
          geometry.spec.outputs,
          input.offset,
          geometry.spec.inputs,
          gradWeight,
          gradBias,
          this.#rowBytes,
          this.#lanes,
        );
      } else {
        const conv = geometry.spec.kind === "conv";
        const [fine, coarse] = conv ? [input, grad] : [grad, input];
        k.convWeightGradient(
          fine.offset,
          fine.channels,
          fine.stride,
          coarse.offset,
          coarse.channels,
          coarse.stride,
          coarse.area,
          layer.taps!.weightGradient,
          gradWeight,
          this.#rowBytes,
          this.#lanes,
        );
        k.channelSums(
          grad.offset,
          grad.channels,
          grad.stride,
          grad.area,
          this.#rowBytes,
          this.#lanes,
          gradBias,
        );
      }
      if (i === 0) continue;
      // The input gradient, through the derivative of the previous layer's activation.
      const previous = slots.layers[i - 1];
      const activation = previous.geometry.activation;
      const mode = activation === "code"
        ? EPILOGUE.none
        : activation === "reluDropout" && p > 0
        ? EPILOGUE.reluScale
        : EPILOGUE.relu;
      const scale = p > 0 ? 1 / (1 - p) : 1;
      const target = layer.inputGrad!;
      if (geometry.spec.kind === "linear") {
        k.linearInputGradient(
          grad.offset,
          geometry.spec.outputs,
          weight,
          target.offset,
          geometry.spec.inputs,
          this.#rowBytes,
          this.#lanes,
          mode,
          previous.output.offset,
          scale,
        );
      } else {
        const toCoarse = geometry.spec.kind === "convTranspose";
        this.#gather(layer, grad, target, toCoarse, weight, 0, mode, previous.output.offset, scale);
      }
    }
  }

  /** A convolution's gather from map `from` to map `to`, towards the coarse or the fine side. */
  #gather(
    layer: LayerPlan,
    from: MapView,
    to: MapView,
    toCoarse: boolean,
    weight: number,
    bias: number,
    mode: number,
    aux: number,
    scale: number,
  ): void {
    const fineChannels = layer.geometry.spec.kind === "conv"
      ? layer.geometry.spec.inputs
      : layer.geometry.spec.outputs;
    const taps = 9 * fineChannels;
    this.#kernels.gather(
      from.offset,
      from.channels,
      from.stride,
      to.offset,
      to.channels,
      to.stride,
      to.area,
      weight,
      toCoarse ? taps : 9,
      toCoarse ? 9 : taps,
      bias,
      toCoarse ? layer.taps!.toCoarse : layer.taps!.toFine,
      this.#rowBytes,
      this.#lanes,
      mode,
      aux,
      scale,
    );
  }

  /** Writes the images `indices` of `pixels` into `map`, one lane each, the other lanes zero. */
  #writeImages(map: MapView, pixels: Pixels, indices: ArrayLike<number>): void {
    const floats = new Float32Array(this.#memory.buffer);
    const lanes = this.#rowBytes / 4;
    const base = map.offset / 4;
    const bytes = pixels instanceof Uint8Array;
    const rows = indices.length;
    const starts = Int32Array.from(indices, (index) => index * IMAGE_PIXELS);
    // Pixel after pixel, so that the writes run along a row of lanes.
    for (let p = 0; p < IMAGE_PIXELS; p++) {
      const row = base + p * lanes;
      // Bytes divided (not multiplied by 1/255), as unitPixels does, so the floats are the same.
      if (bytes) { for (let b = 0; b < rows; b++) floats[row + b] = pixels[starts[b] + p] / 255; }
      else for (let b = 0; b < rows; b++) floats[row + b] = pixels[starts[b] + p];
      floats.fill(0, row + rows, row + lanes);
    }
  }

  /** Model `model`'s slot at `offset` as weights. */
  #read(model: number, offset: number): Weights {
    const values: Weights = {};
    let at = offset;
    for (const spec of this.#models[model].parameters) {
      const size = elementCount(spec.shape);
      values[spec.name] = new Float32Array(this.#memory.buffer, at, size).slice();
      at += size * 4;
    }
    return values;
  }

  /** Writes `values` (named and laid out as model `model`'s weights) into its slot at `offset`. */
  #write(model: number, offset: number, values: Weights): void {
    const slots = this.#models[model];
    if (!slots) throw new RangeError(`no model ${model} among ${this.#models.length}`);
    let at = offset;
    for (const spec of slots.parameters) {
      const size = elementCount(spec.shape);
      const value = values[spec.name];
      if (!value || value.length !== size) {
        throw new RangeError(
          `${spec.name}: expected ${size} values, got ${value?.length ?? "none"}`,
        );
      }
      new Float32Array(this.#memory.buffer, at, size).set(value);
      at += size * 4;
    }
  }
}

/**
 * Floats of the gradients (and of the parameters and each Adam moment) of the model `spec` describes in
 * a population: its parameters, padded to a multiple of 4.
 *
 * @example
 * ```ts
 * import { gradientCount } from "./population.ts";
 * console.log(gradientCount({ kind: "autoencoder", hidden: 4, dropout: 0 })); // 49544
 * console.log(gradientCount({ kind: "classifier", dropout: 0 })); // 164108
 * ```
 */
export function gradientCount(spec: ModelSpec): number {
  return Math.ceil(networkLayout(modelLayers(spec)).size / 4) * 4;
}

/** `bytes` rounded up to the alignment of every buffer. */
function align(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}

/**
 * The map shape of a layer's output: a convolution's channels and area; a linear layer's features, one
 * pixel each, or — before a transposed convolution — the map it unflattens to.
 */
function outputShape(layer: LayerGeometry, next?: LayerGeometry): [number, number] {
  const { spec } = layer;
  if (spec.kind !== "linear") return [spec.outputs, layer.outputSide ** 2];
  if (next?.spec.kind === "convTranspose") {
    return [next.spec.inputs, spec.outputs / next.spec.inputs];
  }
  return [spec.outputs, 1];
}

/** A convolution's sides — fine (a convolution's input, a transposed one's output) and coarse — and steps. */
interface Sides {
  fine: number;
  coarse: number;
  padding: number;
  stride: number;
}

/** The sides of `layer`, a convolution or a transposed one. */
function sides(layer: LayerGeometry): Sides {
  const conv = layer.spec.kind === "conv";
  return {
    fine: conv ? layer.inputSide : layer.outputSide,
    coarse: conv ? layer.outputSide : layer.inputSide,
    padding: layer.spec.padding ?? 0,
    stride: layer.spec.stride ?? STRIDE,
  };
}

/**
 * The gather table of a convolution of `sides` towards its coarse or its fine side: per output pixel,
 * the count of its taps, then (input pixel, tap) for each. Fine position s·c − p + k relates coarse c to
 * fine taps k, at stride s.
 */
function gatherTable(sides: Sides, direction: "toCoarse" | "toFine"): Int32Array {
  const { padding, stride } = sides;
  const [outSide, inSide] = direction === "toCoarse"
    ? [sides.coarse, sides.fine]
    : [sides.fine, sides.coarse];
  const table = new Int32Array(outSide * outSide * (GATHER_RECORD / 4));
  for (let y = 0; y < outSide; y++) {
    for (let x = 0; x < outSide; x++) {
      const record = (y * outSide + x) * (GATHER_RECORD / 4);
      let n = 0;
      for (let ky = 0; ky < KERNEL; ky++) {
        for (let kx = 0; kx < KERNEL; kx++) {
          const [iy, ix] = direction === "toCoarse"
            ? [stride * y - padding + ky, stride * x - padding + kx]
            : [(y + padding - ky) / stride, (x + padding - kx) / stride];
          if (!inside(iy, inSide) || !inside(ix, inSide)) continue;
          table[record + 1 + 2 * n] = iy * inSide + ix;
          table[record + 2 + 2 * n] = ky * KERNEL + kx;
          n++;
        }
      }
      table[record] = n;
    }
  }
  return table;
}

/** Per coarse pixel, the fine pixel each of the 9 taps reads, or the zero pixel past the map. */
function weightGradientTable({ fine, coarse, padding, stride }: Sides): Int32Array {
  const table = new Int32Array(coarse * coarse * 9);
  for (let y = 0; y < coarse; y++) {
    for (let x = 0; x < coarse; x++) {
      for (let ky = 0; ky < KERNEL; ky++) {
        for (let kx = 0; kx < KERNEL; kx++) {
          const [fy, fx] = [stride * y - padding + ky, stride * x - padding + kx];
          const pixel = inside(fy, fine) && inside(fx, fine) ? fy * fine + fx : fine * fine;
          table[(y * coarse + x) * 9 + ky * KERNEL + kx] = pixel;
        }
      }
    }
  }
  return table;
}

/** Whether `i` is a whole coordinate inside a side of `side`. */
function inside(i: number, side: number): boolean {
  return Number.isInteger(i) && i >= 0 && i < side;
}
