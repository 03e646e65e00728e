/**
 * A network of the layers in `architecture.ts` on tfjs, matching PyTorch's numbers: one `tf.variable` per
 * parameter (activations NHWC), the forward pass with optional dropout masks, and the weights going in
 * and out in PyTorch's names and layouts — so files, the PyTorch reference and every engine interchange
 * them. The models (`Autoencoder`) run it for inference and the tfjs trainers train it.
 *
 * @module
 */
import { tf } from "../deps_tfjs.ts";
import {
  elementCount,
  KERNEL,
  type LayerSpec,
  parametersOf,
  type ParameterSpec,
  STRIDE,
  type Weights,
} from "./architecture.ts";

/** Dropout masks by layer name: `[batch, outputs]`, each 0 or 1/(1−p). */
export type DropoutMasks = ReadonlyMap<string, tf.Tensor2D>;

/** Which layers to run, by index in forward order: `from` up to, not including, `to`. */
export interface LayerRange {
  from: number;
  to: number;
}

/** One parameter: its spec, its tfjs variable and the map from its tfjs to its PyTorch layout. */
interface Parameter {
  spec: ParameterSpec;
  variable: tf.Variable;
  /** `torchIndex[i]` is the PyTorch flat index of the tfjs flat index `i`. */
  torchIndex: Int32Array;
}

/** A layer as the forward pass runs it. */
interface Layer {
  spec: LayerSpec;
  weight: Parameter;
  bias: Parameter;
  /** A linear layer after a convolution reads its features in NHWC order, not PyTorch's CHW. */
  flattens?: MapShape;
  /** A linear layer before a transposed convolution writes its features in NHWC order. */
  unflattens?: MapShape;
}

/** Channels and side of a square feature map that a linear layer flattens or unflattens. */
interface MapShape {
  channels: number;
  side: number;
}

/**
 * A network on the current tfjs backend, built from `layers` and weights in PyTorch's layouts.
 *
 * @example
 * ```ts
 * import { Network } from "./network.ts";
 * import { initialWeights, layerSpecs } from "./architecture.ts";
 * import { createRng } from "../random.ts";
 * import { tf } from "../deps_tfjs.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const network = new Network(layerSpecs(4), initialWeights(4, createRng(1)));
 * const output = network.forward(tf.zeros([2, 28, 28, 1]));
 * console.log(output.shape); // [2, 28, 28, 1]
 * network.dispose();
 * ```
 */
export class Network {
  /** The layers, in forward order. */
  readonly layers: readonly LayerSpec[];
  readonly #layers: Layer[];
  readonly #parameters: Parameter[];

  /** Builds the variables of `layers` holding `weights` (PyTorch names and layouts, every parameter). */
  constructor(layers: readonly LayerSpec[], weights: Weights) {
    this.layers = layers;
    const parameters = parametersOf(layers);
    this.#layers = layers.map((spec, k) => {
      const before = layers[k - 1];
      const after = layers[k + 1];
      const flattens = spec.kind === "linear" && before?.kind === "conv"
        ? mapShape(spec.inputs, before.outputs)
        : undefined;
      const unflattens = spec.kind === "linear" && after?.kind === "convTranspose"
        ? mapShape(spec.outputs, after.inputs)
        : undefined;
      const [weight, bias] = [parameters[2 * k], parameters[2 * k + 1]].map((param) => {
        const torchIndex = tfjsToTorchIndex(param, spec, flattens, unflattens);
        checkValues(param.name, weights[param.name], torchIndex.length);
        const values = gather(weights[param.name], torchIndex);
        const variable = tf.variable(tf.tensor(values, tfjsShape(param, spec)), true);
        return { spec: param, variable, torchIndex };
      });
      return { spec, weight, bias, flattens, unflattens };
    });
    this.#parameters = this.#layers.flatMap(({ weight, bias }) => [weight, bias]);
  }

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return this.#parameters.reduce((sum, { torchIndex }) => sum + torchIndex.length, 0);
  }

  /** The variables, parameter after parameter (weight, then bias, of each layer). */
  get variables(): tf.Variable[] {
    return this.#parameters.map(({ variable }) => variable);
  }

  /**
   * The layers of `range` (all by default) applied to `x`, each followed by its activation and, where
   * `masks` holds one for it, its dropout mask. The caller disposes the result (or runs it in a tidy).
   */
  forward(
    x: tf.Tensor,
    range: LayerRange = { from: 0, to: this.#layers.length },
    masks?: DropoutMasks,
  ): tf.Tensor {
    return tf.tidy(() => {
      for (const layer of this.#layers.slice(range.from, range.to)) {
        x = apply(layer, x);
        const mask = masks?.get(layer.spec.name);
        if (mask) x = x.mul(mask);
      }
      return x;
    });
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
    for (const { spec, variable, torchIndex } of this.#parameters) {
      checkValues(spec.name, weights[spec.name], torchIndex.length);
      tf.tidy(() =>
        variable.assign(tf.tensor(gather(weights[spec.name], torchIndex), variable.shape))
      );
    }
  }

  /**
   * Values named and laid out as the weights (Adam's moments, say), flat in the order of
   * {@link Network.variables} and in their tfjs layouts.
   */
  flatten(values: Weights): Float32Array {
    const flat = new Float32Array(this.parameterCount);
    let offset = 0;
    for (const { spec, torchIndex } of this.#parameters) {
      checkValues(spec.name, values[spec.name], torchIndex.length);
      flat.set(gather(values[spec.name], torchIndex), offset);
      offset += torchIndex.length;
    }
    return flat;
  }

  /** The inverse of {@link Network.flatten}: a flat tfjs-ordered array as named PyTorch layouts. */
  unflatten(flat: Float32Array): Weights {
    const values: Weights = {};
    let offset = 0;
    for (const { spec, torchIndex } of this.#parameters) {
      values[spec.name] = scatter(flat.subarray(offset, offset + torchIndex.length), torchIndex);
      offset += torchIndex.length;
    }
    return values;
  }

  /** Frees the variables. */
  dispose(): void {
    tf.dispose(this.variables);
  }
}

/** One layer's operation and activation, with the reshapes between convolutions and linear layers. */
function apply(layer: Layer, x: tf.Tensor): tf.Tensor {
  const { spec } = layer;
  const w = layer.weight.variable;
  const b = layer.bias.variable;
  const fusedActivation = spec.activation === "relu" ? "relu" : "linear";
  if (spec.kind === "conv") {
    const y = tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: w as tf.Tensor4D,
      strides: spec.stride ?? STRIDE,
      pad: spec.padding!,
      bias: b,
      activation: fusedActivation,
    });
    return spec.activation === "sigmoid" ? tf.sigmoid(y) : y;
  }
  if (spec.kind === "convTranspose") {
    const input = x as tf.Tensor4D;
    const stride = spec.stride ?? STRIDE;
    const side = (input.shape[1] - 1) * stride - 2 * spec.padding! + KERNEL + spec.outputPadding!;
    // PyTorch's ConvTranspose2d(padding p, output_padding) is the adjoint of a convolution with padding
    // p on both sides of an input `side` wide: tfjs's numeric (explicit) padding, not its "same".
    const y = tf.add(
      tf.conv2dTranspose(
        input,
        w as tf.Tensor4D,
        [input.shape[0], side, side, spec.outputs],
        stride,
        spec.padding!,
      ),
      b,
    );
    return activate(y, spec);
  }
  const batch = x.shape[0];
  const flat = layer.flattens ? x.reshape([batch, spec.inputs]) as tf.Tensor2D : x as tf.Tensor2D;
  const y = tf.fused.matMul({ a: flat, b: w as tf.Tensor2D, bias: b, activation: fusedActivation });
  const activated = spec.activation === "sigmoid" ? tf.sigmoid(y) : y;
  const shape = layer.unflattens;
  return shape ? activated.reshape([batch, shape.side, shape.side, shape.channels]) : activated;
}

/** The activation of a layer whose operation did not fuse it. */
function activate(y: tf.Tensor, spec: LayerSpec): tf.Tensor {
  if (spec.activation === "relu") return tf.relu(y);
  return spec.activation === "sigmoid" ? tf.sigmoid(y) : y;
}

/** The square map of `channels` channels that `features` values form. */
function mapShape(features: number, channels: number): MapShape {
  const side = Math.round(Math.sqrt(features / channels));
  if (channels * side * side !== features) {
    throw new Error(`${features} features do not form a square map of ${channels} channels`);
  }
  return { channels, side };
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
 * layers next to the convolutions also reorder their features between PyTorch's flatten order (channel,
 * row, column) and the NHWC order (row, column, channel) of the tfjs activations.
 */
function tfjsToTorchIndex(
  param: ParameterSpec,
  spec: LayerSpec,
  flattens?: MapShape,
  unflattens?: MapShape,
): Int32Array {
  const shape = tfjsShape(param, spec);
  const index = new Int32Array(elementCount(shape));
  const inFeature = flattens ? chwIndex(flattens) : (i: number) => i;
  const outFeature = unflattens ? chwIndex(unflattens) : (i: number) => i;
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

/** PyTorch's flat index (channel, row, column) of each NHWC flat index of a map of `shape`. */
function chwIndex({ channels, side }: MapShape): (i: number) => number {
  return (i) => {
    const c = i % channels;
    const pixel = (i - c) / channels;
    return c * side * side + pixel;
  };
}
