/**
 * The one fused optimiser kernel: Adam as `torch.optim.Adam` runs it, with PyTorch's coupled L2
 * (`weight_decay` added to the gradient before the moments), over the flat parameters of all models at
 * once, each model with its own learning rate and L2 from its `Model` struct. The step `t` is the state's
 * step count + 1; the finish kernel advances it after this kernel.
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
import { BUFFERS } from "./common.ts";

/** Adam's β1, β2 and ε (PyTorch's defaults). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

const WORKGROUP = 256;

/**
 * One invocation per parameter of every model:
 * `g ← grad + wd·p; m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)`.
 */
export function adamKernel(dims: Dims): Kernel {
  const k = new KernelBuilder();
  const state = k.use(BUFFERS.state, "State");
  const models = k.use(BUFFERS.models, "Model");
  const params = k.use(BUFFERS.params, "f32", "read_write");
  const grads = k.use(BUFFERS.grads, "f32");
  const moment1 = k.use(BUFFERS.moment1, "f32", "read_write");
  const moment2 = k.use(BUFFERS.moment2, "f32", "read_write");
  // 1 − βᵗ = −expm1(t·ln β), by its series where t·ln β is small (where 1 − exp would cancel).
  k.helper(
    "one_minus_power",
    `fn one_minus_power(log_beta: f32, t: f32) -> f32 {
  let x = t * log_beta;
  if (x > -0.1) { return -x * (1.0 + x / 2.0 * (1.0 + x / 3.0 * (1.0 + x / 4.0 * (1.0 + x / 5.0)))); }
  return 1.0 - exp(x);
}`,
  );
  const main = `
@compute @workgroup_size(${WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let i = ${flatIndex(WORKGROUP)};
  if (i >= MODELS * PARAMS) { return; }
  let model = ${models}[i / PARAMS];
  let t = f32(${state}[0].step + 1u);
  let p = ${params}[i];
  let g = ${grads}[i] + model.l2 * p;
  let m = ${ADAM.beta1} * ${moment1}[i] + ${1 - ADAM.beta1} * g;
  let v = ${ADAM.beta2} * ${moment2}[i] + ${(1 - ADAM.beta2).toPrecision(9)} * g * g;
  ${moment1}[i] = m;
  ${moment2}[i] = v;
  let correction1 = one_minus_power(${Math.log(ADAM.beta1)}, t);
  let correction2 = one_minus_power(${Math.log(ADAM.beta2)}, t);
  ${params}[i] = p - model.lr / correction1 * m / (sqrt(v) / sqrt(correction2) + ${ADAM.epsilon});
}`;
  const [x, y] = flatGrid(dims.models * dims.params, WORKGROUP);
  return k.build(dims, { label: "adam", grid: [x, y, 1], workgroupSize: WORKGROUP, main });
}
