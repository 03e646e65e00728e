/**
 * The kernels of the engine's passes, in dispatch order, built from the layer list: a training step
 * (forward, loss, backward, the gradient sums, Adam, finish: 33 dispatches for the study's ten layers)
 * and an evaluation step (forward without dropout, loss, finish).
 *
 * Per layer, forward is one kernel; backward is a weight-gradient kernel, which leaves partial sums over
 * slices of the batch, and, except for the first layer, an input-gradient kernel that also applies the
 * previous layer's activation derivative. One kernel then adds up every layer's partial sums.
 *
 * @module
 */
import type { Dims, Kernel } from "./kernel.ts";
import type { LayerGeometry } from "./layout.ts";
import { adamKernel } from "./kernels/adam.ts";
import {
  activationBuffer,
  BUFFERS,
  gradientBuffer,
  type PartialSlot,
  type Source,
} from "./kernels/common.ts";
import { convGather, convGeometry, convWeightGradient } from "./kernels/conv.ts";
import { linearKernel } from "./kernels/linear.ts";
import { finishKernel, lossKernel } from "./kernels/loss.ts";
import { gradientPartials, gradientSumKernel } from "./kernels/partial_sums.ts";

/** The kernels of every pass the engine runs. */
export interface Plan {
  /** One training step on the batch the state points at. */
  train: Kernel[];
  /** One evaluation step: the loss of the batch the state points at, no dropout, no update. */
  evaluate: Kernel[];
}

/** The buffer a layer reads: the previous layer's output, or the images for the first layer. */
export function layerInput(layers: readonly LayerGeometry[], index: number, first: Source): Source {
  if (index === 0) return first;
  const previous = layers[index - 1];
  return { kind: "buffer", name: activationBuffer(previous.spec.name), size: previous.outputSize };
}

/** The forward kernel of `layer`, reading `input`. */
function forwardKernel(dims: Dims, layer: LayerGeometry, input: Source): Kernel {
  const label = `forward ${layer.spec.name}`;
  const output = activationBuffer(layer.spec.name);
  const epilogue = {
    kind: "forward" as const,
    activation: layer.activation,
    biasOffset: layer.bias.offset,
    rowSize: layer.outputSize,
    dropoutIndex: layer.dropoutIndex,
  };
  if (layer.spec.kind === "linear") {
    if (input.kind !== "buffer") {
      throw new Error(`${layer.spec.name} must read an activation buffer`);
    }
    return linearKernel(dims, {
      label,
      role: "forward",
      layer,
      input: input.name,
      output,
      epilogue,
    });
  }
  return convGather(dims, {
    label,
    direction: layer.spec.kind === "conv" ? "toCoarse" : "toFine",
    geometry: convGeometry(layer),
    weightOffset: layer.weight.offset,
    input,
    output,
    epilogue,
  });
}

/**
 * The weight-gradient kernel of convolution `layer`, reading `input` and writing its partial sums to
 * `partials`; `block` forces the coarse channels per job (and names the kernel after it), else the kernel
 * chooses.
 */
export function convWeightGradientKernel(
  dims: Dims,
  layer: LayerGeometry,
  input: Source,
  partials: PartialSlot,
  block?: number,
): Kernel {
  const conv = layer.spec.kind === "conv";
  const gradient: Source = {
    kind: "buffer",
    name: gradientBuffer(layer.spec.name),
    size: layer.outputSize,
  };
  return convWeightGradient(dims, {
    label: `weight gradient ${layer.spec.name}${block ? ` (block ${block})` : ""}`,
    geometry: convGeometry(layer),
    fine: conv ? input : gradient,
    coarse: conv ? gradient : input,
    biasFrom: conv ? "coarse" : "fine",
    partials,
    block,
  });
}

/**
 * The backward kernels of `layer`: its weight gradient (partial sums to `partials`), then (not for the
 * first) its input gradient.
 */
function backwardKernels(
  dims: Dims,
  layers: readonly LayerGeometry[],
  layer: LayerGeometry,
  input: Source,
  partials: PartialSlot,
): Kernel[] {
  const name = layer.spec.name;
  const outputGradient = gradientBuffer(name);
  const gradientSource: Source = { kind: "buffer", name: outputGradient, size: layer.outputSize };
  const kernels: Kernel[] = [];
  if (layer.spec.kind === "linear") {
    if (input.kind !== "buffer") throw new Error(`${name} must read an activation buffer`);
    kernels.push(linearKernel(dims, {
      label: `weight gradient ${name}`,
      role: "weightGradient",
      layer,
      outputGradient,
      input: input.name,
      partials,
    }));
  } else {
    kernels.push(convWeightGradientKernel(dims, layer, input, partials));
  }
  if (layer.index === 0) return kernels;
  const previous = layers[layer.index - 1];
  const label = `input gradient ${name}`;
  const inputGradient = gradientBuffer(previous.spec.name);
  const epilogue = {
    kind: "backward" as const,
    activation: previous.activation,
    input: activationBuffer(previous.spec.name),
    rowSize: previous.outputSize,
  };
  kernels.push(
    layer.spec.kind === "linear"
      ? linearKernel(dims, {
        label,
        role: "inputGradient",
        layer,
        outputGradient,
        inputGradient,
        epilogue,
      })
      : convGather(dims, {
        label,
        direction: layer.spec.kind === "conv" ? "toFine" : "toCoarse",
        geometry: convGeometry(layer),
        weightOffset: layer.weight.offset,
        input: gradientSource,
        output: inputGradient,
        epilogue,
      }),
  );
  return kernels;
}

/**
 * The kernels of all passes for `layers` (from {@link layerGeometry}) at sizes `dims`.
 *
 * @example
 * ```ts
 * import { buildPlan } from "./plan.ts";
 * import { layerGeometry, parameterLayout } from "./layout.ts";
 * const plan = buildPlan({ models: 2, batch: 8, params: parameterLayout(4).size }, layerGeometry(4));
 * console.log(plan.train.length); // 33
 * ```
 */
export function buildPlan(dims: Dims, layers: readonly LayerGeometry[]): Plan {
  const images: Source = { kind: "bytes", name: BUFFERS.images };
  const last = layers[layers.length - 1];
  const forward = layers.map((layer) =>
    forwardKernel(dims, layer, layerInput(layers, layer.index, images))
  );
  const loss = lossKernel(dims, activationBuffer(last.spec.name), gradientBuffer(last.spec.name));
  const partials = gradientPartials(dims, layers);
  const backward = layers.toReversed().flatMap((layer) =>
    backwardKernels(
      dims,
      layers,
      layer,
      layerInput(layers, layer.index, images),
      partials.slots[layer.index],
    )
  );
  const sums = gradientSumKernel(dims, layers, partials);
  return {
    train: [...forward, loss, ...backward, sums, adamKernel(dims), finishKernel(dims)],
    evaluate: [...forward, loss, finishKernel(dims)],
  };
}
