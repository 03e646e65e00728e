/**
 * WGSL kernels of the loss and of the end of a step.
 *
 * {@link lossKernel}: one workgroup per (batch row, model) compares the reconstruction with the target,
 * writes the gradient of the batch's MSE (mean over the valid rows' pixels) with respect to the sigmoid's
 * input, and the row's share of the loss: its mean squared error, divided by the batch's valid rows when
 * training (so that a pass sums batch losses, as PyTorch loops report them) and not when evaluating (so
 * that a pass sums sample losses). {@link finishKernel}: one workgroup per model adds its rows'
 * errors to the model's running sum, and the first advances the state to the next batch (and step, when
 * training). Both reduce in workgroup memory: no atomics.
 *
 * @module
 */
import { type Dims, type Kernel, KernelBuilder } from "../kernel.ts";
import { BUFFERS, sourceReader, validRows } from "./common.ts";
import { IMAGE_PIXELS } from "../../data/geometry.ts";

const WORKGROUP = 256;

/** Adds `reduce(li, value) -> f32`: the sum of `value` over the workgroup, for every invocation. */
function workgroupSum(k: KernelBuilder): void {
  k.helper(
    "reduce",
    `var<workgroup> partial: array<f32, ${WORKGROUP}>;
fn reduce(li: u32, value: f32) -> f32 {
  partial[li] = value;
  workgroupBarrier();
  for (var stride = ${WORKGROUP / 2}u; stride > 0u; stride >>= 1u) {
    if (li < stride) { partial[li] += partial[li + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}`,
  );
}

/**
 * The MSE kernel: reads `reconstruction` (sigmoid outputs) and the dataset's targets, writes `gradient`
 * and {@link BUFFERS.rowLoss}.
 */
export function lossKernel(dims: Dims, reconstruction: string, gradient: string): Kernel {
  const k = new KernelBuilder();
  validRows(k);
  const state = k.use(BUFFERS.state, "State");
  sourceReader(k, "target", { kind: "bytes", name: BUFFERS.targets });
  const y = k.use(reconstruction, "f32");
  const dY = k.use(gradient, "f32", "read_write");
  const rowLoss = k.use(BUFFERS.rowLoss, "f32", "read_write");
  workgroupSum(k);
  const main = `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wg.z;
  let b = wg.x;
  let valid = valid_rows();
  let base = (m * BATCH + b) * ${IMAGE_PIXELS}u;
  let row = target_row(m, b);
  let scale = 2.0 / f32(max(valid, 1u) * ${IMAGE_PIXELS}u);
  var sum = 0.0;
  for (var p = li; p < ${IMAGE_PIXELS}u; p += ${WORKGROUP}u) {
    var gradient = 0.0;
    if (b < valid) {
      let out = ${y}[base + p];
      let difference = out - target_at(row, p);
      sum += difference * difference;
      gradient = scale * difference * out * (1.0 - out);
    }
    ${dY}[base + p] = gradient;
  }
  let total = reduce(li, sum);
  let share = select(1.0, 1.0 / f32(max(valid, 1u)), ${state}[0].training != 0u);
  if (li == 0u) { ${rowLoss}[m * BATCH + b] = total / ${IMAGE_PIXELS}.0 * share; }
}`;
  return k.build(dims, {
    label: "loss",
    grid: [dims.batch, 1, dims.models],
    workgroupSize: WORKGROUP,
    workgroupBytes: WORKGROUP * 4,
    main,
  });
}

/** The end-of-step kernel: sums {@link BUFFERS.rowLoss} into {@link BUFFERS.lossSum}, advances the state. */
export function finishKernel(dims: Dims): Kernel {
  const k = new KernelBuilder();
  const rowLoss = k.use(BUFFERS.rowLoss, "f32");
  const lossSum = k.use(BUFFERS.lossSum, "f32", "read_write");
  const state = k.use(BUFFERS.state, "State", "read_write");
  workgroupSum(k);
  const main = `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wg.x;
  var sum = 0.0;
  for (var b = li; b < BATCH; b += ${WORKGROUP}u) { sum += ${rowLoss}[m * BATCH + b]; }
  let total = reduce(li, sum);
  if (li == 0u) {
    ${lossSum}[m] += total;
    if (m == 0u) {
      ${state}[0].batch += 1u;
      if (${state}[0].training != 0u) { ${state}[0].step += 1u; }
    }
  }
}`;
  return k.build(dims, {
    label: "finish step",
    grid: [dims.models, 1, 1],
    workgroupSize: WORKGROUP,
    workgroupBytes: WORKGROUP * 4,
    main,
  });
}
