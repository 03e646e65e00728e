/**
 * Where the fused engine keeps a model: every parameter in one flat array per model, laid out in the order
 * and PyTorch layout of {@link parameterSpecs} at the population's largest latent size, and each layer's
 * geometry (sides, sizes, activation) derived from {@link layerSpecs}. A model of latent size `d` below that
 * largest size `dMax` holds its `d` latent units in the leading rows (`encoder_lin.3`) and columns
 * (`decoder_lin.0.weight`) and zeros in the rest, which the kernels keep masked.
 *
 * @module
 */
import {
  elementCount,
  KERNEL,
  type LayerSpec,
  layerSpecs,
  parametersOf,
  type ParameterSpec,
  parameterSpecs,
  STRIDE,
  type Weights,
} from "../model/architecture.ts";
import { IMAGE_SIDE } from "../data/geometry.ts";

/** One parameter tensor inside a model's flat parameter array. */
export interface TensorSlot {
  /** Name, shape and fan-in, at the layout's latent size. */
  spec: ParameterSpec;
  /** Index of the tensor's first element in the model's flat array. */
  offset: number;
  /** Number of elements. */
  size: number;
}

/**
 * What a layer's output passes through: `relu`, `reluDropout` (ReLU then dropout), `code` (none: the
 * latent code, masked to the model's own latent size), `sigmoid` (the reconstruction) or `linear` (none:
 * a classifier's logits).
 */
export type Activation = "relu" | "reluDropout" | "code" | "sigmoid" | "linear";

/** One layer as the engine runs it: its spec, where its parameters lie, its sizes and activation. */
export interface LayerGeometry {
  spec: LayerSpec;
  /** Position in forward order. */
  index: number;
  weight: TensorSlot;
  bias: TensorSlot;
  /** Side of the square input and output maps (1 for linear layers). */
  inputSide: number;
  outputSide: number;
  /** Elements of one sample's input and output (channels × side², or features). */
  inputSize: number;
  outputSize: number;
  activation: Activation;
  /** Which dropout layer this is (0, 1, …), for the dropout RNG; −1 where the layer has none. */
  dropoutIndex: number;
}

/**
 * The flat layout of one model's parameters at latent size `hiddenMax`: each tensor's offset, and the
 * total size (which {@link parameterCount} also gives).
 *
 * @example
 * ```ts
 * import { parameterLayout } from "./layout.ts";
 * const { tensors, size } = parameterLayout(4);
 * console.log(tensors[0].spec.name, tensors[0].offset, size); // encoder_cnn.0.weight 0 49541
 * ```
 */
export function parameterLayout(hiddenMax: number): { tensors: TensorSlot[]; size: number } {
  return networkLayout(layerSpecs(hiddenMax));
}

/**
 * The flat layout of the parameters of a network of `layers` (any model's, see `modelLayers`), as
 * {@link parameterLayout} lays out the autoencoder's.
 *
 * @example
 * ```ts
 * import { classifierLayers } from "../model/classifier.ts";
 * import { networkLayout } from "./layout.ts";
 * console.log(networkLayout(classifierLayers()).size); // 164106
 * ```
 */
export function networkLayout(
  layers: readonly LayerSpec[],
): { tensors: TensorSlot[]; size: number } {
  let offset = 0;
  const tensors = parametersOf(layers).map((spec) => {
    const slot = { spec, offset, size: elementCount(spec.shape) };
    offset += slot.size;
    return slot;
  });
  return { tensors, size: offset };
}

/**
 * The layers of a model laid out at latent size `hiddenMax`, in forward order, with the sides of their
 * maps (see {@link networkGeometry}).
 *
 * @example
 * ```ts
 * import { layerGeometry } from "./layout.ts";
 * const layers = layerGeometry(4);
 * console.log(layers.map((layer) => layer.outputSide).join(" ")); // 14 7 3 1 1 1 1 7 14 28
 * ```
 */
export function layerGeometry(hiddenMax: number): LayerGeometry[] {
  return networkGeometry(layerSpecs(hiddenMax));
}

/**
 * The layers of a network of `specs` (any model's, see `modelLayers`), in forward order, with the sides
 * of their maps: a convolution maps side s to ⌊(s + 2p − k)/stride⌋ + 1, a transposed one to
 * (s − 1)·stride − 2p + k + op, and a transposed convolution after a linear layer unflattens its input.
 * Activations follow the layers' specs: ReLU, dropout where a layer has it, none on an autoencoder's code
 * (the encoder's last layer) or a classifier's logits, sigmoid on the reconstruction.
 *
 * @example
 * ```ts
 * import { classifierLayers } from "../model/classifier.ts";
 * import { networkGeometry } from "./layout.ts";
 * const layers = networkGeometry(classifierLayers());
 * console.log(layers.map((layer) => layer.outputSide).join(" ")); // 26 12 5 2 1 1
 * ```
 */
export function networkGeometry(specs: readonly LayerSpec[]): LayerGeometry[] {
  const { tensors } = networkLayout(specs);
  const codeIndex = specs.findLastIndex((layer) => layer.name.startsWith("encoder"));
  let side = IMAGE_SIDE;
  let previousSize = IMAGE_SIDE * IMAGE_SIDE;
  let dropouts = 0;
  return specs.map((spec, index) => {
    let inputSide = 1;
    let outputSide = 1;
    if (spec.kind !== "linear") {
      inputSide = side > 1 ? side : Math.round(Math.sqrt(previousSize / spec.inputs));
      const padding = spec.padding ?? 0;
      const stride = spec.stride ?? STRIDE;
      outputSide = spec.kind === "conv"
        ? Math.floor((inputSide + 2 * padding - KERNEL) / stride) + 1
        : (inputSide - 1) * stride - 2 * padding + KERNEL + (spec.outputPadding ?? 0);
    }
    const inputSize = spec.inputs * inputSide * inputSide;
    if (inputSize !== previousSize) {
      throw new Error(`layer ${spec.name} takes ${inputSize} values but receives ${previousSize}`);
    }
    const activation: Activation = index === codeIndex
      ? "code"
      : spec.activation === "sigmoid"
      ? "sigmoid"
      : spec.activation === "linear"
      ? "linear"
      : spec.dropout
      ? "reluDropout"
      : "relu";
    side = outputSide;
    previousSize = spec.outputs * outputSide * outputSide;
    return {
      spec,
      index,
      weight: tensors[2 * index],
      bias: tensors[2 * index + 1],
      inputSide,
      outputSide,
      inputSize,
      outputSize: previousSize,
      activation,
      dropoutIndex: activation === "reluDropout" ? dropouts++ : -1,
    };
  });
}

/**
 * Packs the weights of a model with latent size `hidden` into a flat array laid out at `hiddenMax`: each
 * tensor into the leading corner of its larger slot, zeros elsewhere. Throws on a missing tensor or a wrong
 * length.
 *
 * @example
 * ```ts
 * import { initialWeights } from "../model/architecture.ts";
 * import { packWeights } from "./layout.ts";
 * import { createRng } from "../random.ts";
 * const flat = packWeights(initialWeights(3, createRng(1)), 3, 6);
 * console.log(flat.length); // 49799
 * ```
 */
export function packWeights(
  weights: Weights,
  hidden: number,
  hiddenMax: number,
): Float32Array<ArrayBuffer> {
  const { tensors, size } = parameterLayout(hiddenMax);
  const flat = new Float32Array(size);
  parameterSpecs(hidden).forEach((spec, i) => {
    const values = weights[spec.name];
    if (!values) throw new Error(`weights lack ${spec.name}`);
    if (values.length !== elementCount(spec.shape)) {
      throw new Error(
        `${spec.name} has ${values.length} values, but shape [${spec.shape}] needs ${
          elementCount(spec.shape)
        }`,
      );
    }
    const slot = tensors[i];
    copyCorner(
      values,
      spec.shape,
      flat.subarray(slot.offset, slot.offset + slot.size),
      slot.spec.shape,
      "in",
    );
  });
  return flat;
}

/** The weights of a model with latent size `hidden` out of its flat array laid out at `hiddenMax`. */
export function unpackWeights(flat: Float32Array, hidden: number, hiddenMax: number): Weights {
  const { tensors } = parameterLayout(hiddenMax);
  const weights: Weights = {};
  parameterSpecs(hidden).forEach((spec, i) => {
    const slot = tensors[i];
    const values = new Float32Array(elementCount(spec.shape));
    copyCorner(
      values,
      spec.shape,
      flat.subarray(slot.offset, slot.offset + slot.size),
      slot.spec.shape,
      "out",
    );
    weights[spec.name] = values;
  });
  return weights;
}

/** Copies a row-major tensor into (`in`) or out of (`out`) the leading corner of a larger one of equal rank. */
function copyCorner(
  small: Float32Array,
  smallShape: readonly number[],
  large: Float32Array,
  largeShape: readonly number[],
  direction: "in" | "out",
): void {
  const inner = smallShape.length - 1;
  const walk = (axis: number, smallBase: number, largeBase: number) => {
    if (axis === inner) {
      const run = smallShape[axis];
      if (direction === "in") large.set(small.subarray(smallBase, smallBase + run), largeBase);
      else small.set(large.subarray(largeBase, largeBase + run), smallBase);
      return;
    }
    const smallStride = elementCount(smallShape.slice(axis + 1));
    const largeStride = elementCount(largeShape.slice(axis + 1));
    for (let i = 0; i < smallShape[axis]; i++) {
      walk(axis + 1, smallBase + i * smallStride, largeBase + i * largeStride);
    }
  };
  walk(0, 0, 0);
}
