/**
 * The second pass of the weight- and bias-gradient reductions. Each layer's weight-gradient kernel splits
 * its sums over the batch (and, for a convolution, the map) into slices, each slice summed by workgroups
 * of its own into a partial sum in the layer's region of {@link BUFFERS.partials}; after the last of
 * them, {@link gradientSumKernel} adds each gradient value's partial sums in slice order into
 * {@link BUFFERS.grads}. The slices are sized from the batch and the layer, and every sum runs in a
 * fixed order: the same inputs give the same bits, in any population.
 *
 * @module
 */
import {
  type Dims,
  flatGrid,
  flatIndex,
  type Kernel,
  KernelBuilder,
  MAIN_PARAMETERS,
} from "../kernel.ts";
import type { LayerGeometry } from "../layout.ts";
import { BUFFERS, type PartialSlot } from "./common.ts";
import { convGeometry, convReduction } from "./conv.ts";
import { linearSlices } from "./linear.ts";

/** Every layer's {@link PartialSlot} (in layer order), and the floats the buffer holds. */
export interface GradientPartials {
  slots: PartialSlot[];
  size: number;
}

/**
 * Where each of `layers` keeps its partial sums at sizes `dims`: a region per layer, one after another,
 * with the slices its weight-gradient kernel splits its reduction into.
 *
 * @example
 * ```ts
 * import { gradientPartials } from "./partial_sums.ts";
 * import { layerGeometry, parameterLayout } from "../layout.ts";
 * const dims = { models: 1, batch: 256, params: parameterLayout(4).size };
 * const { slots } = gradientPartials(dims, layerGeometry(4));
 * console.log(slots.map((slot) => slot.slices).join(" ")); // 49 13 3 8 8 8 8 3 13 49
 * ```
 */
export function gradientPartials(dims: Dims, layers: readonly LayerGeometry[]): GradientPartials {
  let size = 0;
  const slots = layers.map((layer) => {
    const slices = layer.spec.kind === "linear"
      ? linearSlices(dims.batch)
      : convReduction(dims.batch, convGeometry(layer)).slices;
    const slot = { offset: size, slices, outputs: layer.weight.size + layer.bias.size };
    size += dims.models * slices * slot.outputs;
    return slot;
  });
  return { slots, size };
}

const WORKGROUP = 256;

/**
 * One invocation per parameter of every model: the sum, slice after slice, of the partial sums of its
 * gradient, written to {@link BUFFERS.grads}. Each layer's weight and bias lie side by side among the
 * parameters, in the order of its gradient values.
 */
export function gradientSumKernel(
  dims: Dims,
  layers: readonly LayerGeometry[],
  partials: GradientPartials,
): Kernel {
  layers.forEach((layer, i) => {
    const end = i + 1 < layers.length ? layers[i + 1].weight.offset : dims.params;
    if (layer.bias.offset !== layer.weight.offset + layer.weight.size) {
      throw new Error(`${layer.spec.name}: its bias does not follow its weight`);
    }
    if (layer.weight.offset + partials.slots[i].outputs !== end) {
      throw new Error(`${layer.spec.name}: its gradient values do not fill its parameters`);
    }
  });
  const k = new KernelBuilder();
  const sums = k.use(BUFFERS.partials, "f32");
  const grads = k.use(BUFFERS.grads, "f32", "read_write");
  const table = (values: number[]) =>
    `array<u32, LAYERS>(${values.map((v) => `${v}u`).join(", ")})`;
  const main = `
const LAYERS = ${layers.length}u;
// Per layer: its first parameter, its gradient values, its slices and the start of its region.
const FIRST = ${table(layers.map((layer) => layer.weight.offset))};
const VALUES = ${table(partials.slots.map((slot) => slot.outputs))};
const SLICES = ${table(partials.slots.map((slot) => slot.slices))};
const REGION = ${table(partials.slots.map((slot) => slot.offset))};

@compute @workgroup_size(${WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let i = ${flatIndex(WORKGROUP)};
  if (i >= MODELS * PARAMS) { return; }
  let m = i / PARAMS;
  let p = i % PARAMS;
  var layer = 0u;
  for (var l = 1u; l < LAYERS; l++) {
    if (p >= FIRST[l]) { layer = l; }
  }
  let values = VALUES[layer];
  let slices = SLICES[layer];
  let first = REGION[layer] + m * slices * values + p - FIRST[layer];
  var sum = 0.0;
  for (var slice = 0u; slice < slices; slice++) { sum += ${sums}[first + slice * values]; }
  ${grads}[i] = sum;
}`;
  const [x, y] = flatGrid(dims.models * dims.params, WORKGROUP);
  return k.build(dims, { label: "gradient sums", grid: [x, y, 1], workgroupSize: WORKGROUP, main });
}
