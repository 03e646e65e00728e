/**
 * The study's convolutional autoencoder, described once as data: every layer with its PyTorch name, its
 * activation and dropout, every parameter with its PyTorch shape and the fan-in that PyTorch's default
 * initialisation uses. The tfjs network, the fused WebGPU engine and the safetensors files all follow this
 * list, in this order; the parts that describe any network of these layers (parameters, initialisation)
 * serve the digit classifier too.
 *
 * Encoder: Conv2d(1→8, k3, s2, p1) ReLU → Conv2d(8→16, k3, s2, p1) ReLU → Conv2d(16→32, k3, s2, p0) ReLU →
 * flatten (288) → Linear(288→64) ReLU Dropout → Linear(64→d).
 * Decoder: Linear(d→64) ReLU Dropout → Linear(64→288) ReLU → unflatten 32×3×3 →
 * ConvTranspose2d(32→16, k3, s2, p0) ReLU → ConvTranspose2d(16→8, k3, s2, p1, op1) ReLU →
 * ConvTranspose2d(8→1, k3, s2, p1, op1) → sigmoid.
 *
 * @module
 */
import type { Rng } from "../random.ts";

/** What a parameter belongs to, which decides its layout and fan-in. */
export type LayerKind = "conv" | "convTranspose" | "linear";

/** What a layer's output passes through: ReLU, nothing (a code, logits) or a sigmoid (pixels). */
export type Activation = "relu" | "linear" | "sigmoid";

/**
 * How a layer's parameters start: `pytorch`, PyTorch's default for its layers (weight and bias from
 * U(−1/√fanIn, 1/√fanIn)); or `he`, He's initialisation for ReLU networks (weight from
 * U(−√(6/fanIn), √(6/fanIn)), bias 0, as `nn.init.kaiming_uniform_(w, nonlinearity="relu")`), from which
 * a deeper ReLU network trains faster.
 */
export type Init = "pytorch" | "he";

/** One layer of a network, with the PyTorch module name its parameters carry. */
export interface LayerSpec {
  /** PyTorch module path, e.g. `encoder_cnn.0`; parameters are `${name}.weight` and `${name}.bias`. */
  name: string;
  kind: LayerKind;
  /** Input channels (conv) or features (linear). */
  inputs: number;
  /** Output channels (conv) or features (linear). */
  outputs: number;
  /** Padding (convolutions only). */
  padding?: number;
  /** Stride (convolutions only); default {@link STRIDE}, the autoencoder's. */
  stride?: number;
  /** Output padding (transposed convolutions only). */
  outputPadding?: number;
  /** What follows the layer. */
  activation: Activation;
  /** Whether dropout follows the activation in training (PyTorch's `Dropout` module after it). */
  dropout?: boolean;
  /** How its parameters start (default `pytorch`). */
  init?: Init;
}

/** Side of the square kernels of every convolution. */
export const KERNEL = 3;
/**
 * Stride of a convolution that names none: every one of the autoencoder's (the fused engine's layouts
 * rely on it).
 */
export const STRIDE = 2;
/** Width of the two hidden linear layers. */
export const LINEAR_WIDTH = 64;
/** Channels × height × width of the last encoder convolution (32 × 3 × 3). */
export const CONV_CODE = { channels: 32, side: 3, size: 288 } as const;

/**
 * The layers of the study's autoencoder with latent size `hidden`, in forward order: ReLU inside encoder
 * and decoder, dropout after their 64-wide linear layers, nothing on the code, a sigmoid on the pixels.
 */
export function layerSpecs(hidden: number): LayerSpec[] {
  return [
    { name: "encoder_cnn.0", kind: "conv", inputs: 1, outputs: 8, padding: 1, activation: "relu" },
    { name: "encoder_cnn.2", kind: "conv", inputs: 8, outputs: 16, padding: 1, activation: "relu" },
    {
      name: "encoder_cnn.4",
      kind: "conv",
      inputs: 16,
      outputs: 32,
      padding: 0,
      activation: "relu",
    },
    {
      name: "encoder_lin.0",
      kind: "linear",
      inputs: CONV_CODE.size,
      outputs: LINEAR_WIDTH,
      activation: "relu",
      dropout: true,
    },
    {
      name: "encoder_lin.3",
      kind: "linear",
      inputs: LINEAR_WIDTH,
      outputs: hidden,
      activation: "linear",
    },
    {
      name: "decoder_lin.0",
      kind: "linear",
      inputs: hidden,
      outputs: LINEAR_WIDTH,
      activation: "relu",
      dropout: true,
    },
    {
      name: "decoder_lin.3",
      kind: "linear",
      inputs: LINEAR_WIDTH,
      outputs: CONV_CODE.size,
      activation: "relu",
    },
    {
      name: "decoder_conv.0",
      kind: "convTranspose",
      inputs: 32,
      outputs: 16,
      padding: 0,
      outputPadding: 0,
      activation: "relu",
    },
    {
      name: "decoder_conv.2",
      kind: "convTranspose",
      inputs: 16,
      outputs: 8,
      padding: 1,
      outputPadding: 1,
      activation: "relu",
    },
    {
      name: "decoder_conv.4",
      kind: "convTranspose",
      inputs: 8,
      outputs: 1,
      padding: 1,
      outputPadding: 1,
      activation: "sigmoid",
    },
  ];
}

/** The number of the autoencoder's layers that encode (the rest decode the code). */
export const ENCODER_LAYERS = 5;

/** One parameter tensor: its PyTorch name and shape, and the fan-in PyTorch initialises it with. */
export interface ParameterSpec {
  name: string;
  /** Shape in PyTorch's layout: Conv2d [out, in, k, k], ConvTranspose2d [in, out, k, k], Linear [out, in]. */
  shape: number[];
  /** PyTorch's default init draws weight and bias from U(−1/√fanIn, 1/√fanIn). */
  fanIn: number;
}

/** The parameters of the autoencoder with latent size `hidden`, weight then bias for each layer. */
export function parameterSpecs(hidden: number): ParameterSpec[] {
  return parametersOf(layerSpecs(hidden));
}

/** The parameters of `layers`, weight then bias for each, in PyTorch's shapes. */
export function parametersOf(layers: readonly LayerSpec[]): ParameterSpec[] {
  return layers.flatMap((layer) => {
    const area = KERNEL * KERNEL;
    const [shape, fanIn] = layer.kind === "conv"
      ? [[layer.outputs, layer.inputs, KERNEL, KERNEL], layer.inputs * area]
      : layer.kind === "convTranspose"
      // PyTorch computes a transposed convolution's fan-in from weight.size(1), its output channels.
      ? [[layer.inputs, layer.outputs, KERNEL, KERNEL], layer.outputs * area]
      : [[layer.outputs, layer.inputs], layer.inputs];
    return [
      { name: `${layer.name}.weight`, shape, fanIn },
      { name: `${layer.name}.bias`, shape: [layer.outputs], fanIn },
    ];
  });
}

/** Number of values in a tensor of `shape`. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of scalar parameters of the autoencoder with latent size `hidden` (49,541 at d = 4). */
export function parameterCount(hidden: number): number {
  return parameterSpecs(hidden).reduce((sum, p) => sum + elementCount(p.shape), 0);
}

/** Weights by PyTorch parameter name, each a flat Float32Array in PyTorch's layout. */
export type Weights = Record<string, Float32Array>;

/** Adam's first and second moments of a model, each named and laid out as its {@link Weights}. */
export interface AdamMoments {
  first: Weights;
  second: Weights;
}

/**
 * PyTorch's default initialisation of the autoencoder with latent size `hidden`: every weight and bias from
 * U(−1/√fanIn, 1/√fanIn), drawn from `rng` in the order of {@link parameterSpecs}, in PyTorch's layouts.
 * Every engine starts a model of seed `s` from `initialWeights(hidden, createRng(s))`.
 *
 * @example
 * ```ts
 * import { initialWeights } from "./architecture.ts";
 * import { createRng } from "../random.ts";
 * console.log(initialWeights(4, createRng(1))["encoder_cnn.0.weight"].length); // 72
 * ```
 */
export function initialWeights(hidden: number, rng: Rng): Weights {
  return initialWeightsOf(layerSpecs(hidden), rng);
}

/**
 * The initial parameters of `layers`, each layer's as its {@link Init} says (PyTorch's default unless it
 * says otherwise), drawn from `rng` in the order of {@link parametersOf}, as {@link initialWeights}.
 */
export function initialWeightsOf(layers: readonly LayerSpec[], rng: Rng): Weights {
  const weights: Weights = {};
  for (const layer of layers) {
    const [weight, bias] = parametersOf([layer]);
    const he = layer.init === "he";
    weights[weight.name] = uniform(
      weight,
      he ? Math.sqrt(6 / weight.fanIn) : 1 / Math.sqrt(weight.fanIn),
      rng,
    );
    weights[bias.name] = he
      ? new Float32Array(elementCount(bias.shape))
      : uniform(bias, 1 / Math.sqrt(bias.fanIn), rng);
  }
  return weights;
}

/** Values of a parameter of `spec`'s shape, drawn from U(−bound, bound) with `rng`. */
function uniform(spec: ParameterSpec, bound: number, rng: Rng): Float32Array {
  const values = new Float32Array(elementCount(spec.shape));
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng() - 1) * bound;
  return values;
}
