/**
 * WGSL kernels of the linear layers, as batched matrix products (one model per `z` of the grid): each
 * workgroup of 16 × 16 invocations computes a 32 × 32 tile of the result, each invocation a 2 × 2
 * block of it, from 32 × 16 slices of the operands staged in workgroup memory (each staged value read
 * twice from there instead of once per output). With the weight `W [out][in]` of PyTorch:
 * - `forward`: `Y [batch][out] = X · Wᵀ`, then bias and activation;
 * - `inputGradient`: `dX [batch][in] = dY · W`, then the input activation's derivative;
 * - `weightGradient`: `[dW | db] [out][in + 1] = dYᵀ · [X | 1]`, a reduction over the batch written to
 *   {@link BUFFERS.grads} without atomics.
 *
 * @module
 */
import { type Dims, type Kernel, KernelBuilder } from "../kernel.ts";
import type { LayerGeometry } from "../layout.ts";
import { BUFFERS, type Epilogue, epilogueFunction } from "./common.ts";

/** Invocations per side of a workgroup, and the depth of the slices staged per round. */
const THREADS = 16;
/** Results per invocation along each side. */
const PER_THREAD = 2;
/** The side of the result tile of a workgroup. */
const TILE = THREADS * PER_THREAD;

/** What {@link linearKernel} computes, and from which buffers. */
export type LinearSpec =
  & { label: string; layer: LayerGeometry }
  & (
    | { role: "forward"; input: string; output: string; epilogue: Epilogue }
    | { role: "inputGradient"; outputGradient: string; inputGradient: string; epilogue: Epilogue }
    | { role: "weightGradient"; outputGradient: string; input: string }
  );

/**
 * A tiled batched matrix product for one role of a linear layer.
 *
 * @example
 * ```ts ignore
 * const kernel = linearKernel(dims, {
 *   label: "forward encoder_lin.3", role: "forward", layer, input: "encoder_lin.0.out",
 *   output: "encoder_lin.3.out", epilogue: { kind: "forward", activation: "code", … },
 * });
 * ```
 */
export function linearKernel(dims: Dims, spec: LinearSpec): Kernel {
  const features = { in: spec.layer.spec.inputs, out: spec.layer.spec.outputs };
  const k = new KernelBuilder();
  const weight = `m * PARAMS + ${spec.layer.weight.offset}u`;
  let rows: number, cols: number, depth: number, loadA: string, loadB: string, store: string;
  if (spec.role === "weightGradient") {
    // A(r = out, k = b) = dY[b][out]; B(k = b, c = in) = X[b][in], or 1 in the bias column c = in.
    const dY = k.use(spec.outputGradient, "f32");
    const x = k.use(spec.input, "f32");
    const grads = k.use(BUFFERS.grads, "f32", "read_write");
    [rows, cols, depth] = [features.out, features.in + 1, dims.batch];
    loadA = `${dY}[(m * BATCH + kk) * ${features.out}u + r]`;
    loadB = `select(1.0, ${x}[(m * BATCH + kk) * ${features.in}u + min(c, ${features.in - 1}u)], ` +
      `c < ${features.in}u)`;
    store = `if (c < ${features.in}u) {
      ${grads}[${weight} + r * ${features.in}u + c] = acc;
    } else {
      ${grads}[m * PARAMS + ${spec.layer.bias.offset}u + r] = acc;
    }`;
  } else {
    const params = k.use(BUFFERS.params, "f32");
    epilogueFunction(k, spec.epilogue);
    const forward = spec.role === "forward";
    const a = k.use(forward ? spec.input : spec.outputGradient, "f32");
    const out = k.use(forward ? spec.output : spec.inputGradient, "f32", "read_write");
    [rows, cols, depth] = forward
      ? [dims.batch, features.out, features.in]
      : [dims.batch, features.in, features.out];
    loadA = `${a}[(m * BATCH + r) * ${depth}u + kk]`;
    // forward: B(k = in, c = out) = W[out][in]; inputGradient: B(k = out, c = in) = W[out][in].
    loadB = forward
      ? `${params}[${weight} + c * ${features.in}u + kk]`
      : `${params}[${weight} + kk * ${features.in}u + c]`;
    store = `${out}[(m * BATCH + r) * ${cols}u + c] = epilogue(m, r, c, c, acc);`;
  }
  const range = [...Array(PER_THREAD).keys()];
  const multiplyAdd = [
    ...range.map((i) => `let a${i} = tileA[kk * ${TILE}u + lid.y + ${i * THREADS}u];`),
    ...range.map((j) => `let b${j} = tileB[kk * ${TILE}u + lid.x + ${j * THREADS}u];`),
    ...range.flatMap((i) => range.map((j) => `sums[${i * PER_THREAD + j}] += a${i} * b${j};`)),
  ].join("\n      ");
  // Unrolled, so that `sums` is indexed by constants only (and stays in registers).
  const stores = range.flatMap((i) =>
    range.map((j) =>
      `{
    let r = r0 + ${i * THREADS}u;
    let c = c0 + ${j * THREADS}u;
    let acc = sums[${i * PER_THREAD + j}];
    if (r < ${rows}u && c < ${cols}u) {
      ${store}
    }
  }`
    )
  ).join("\n  ");
  // Slices staged per round: A as [k][r] and B as [k][c], so that reading them across invocations
  // walks consecutive addresses. Invocation (tx, ty) loads A(r, k0 + tx) and B(k0 + ty, c) for its two
  // rows r = ty + 16·i and columns c = tx + 16·j, and sums the results at those rows and columns.
  const main = `
var<workgroup> tileA: array<f32, ${THREADS * TILE}>;
var<workgroup> tileB: array<f32, ${THREADS * TILE}>;

fn load_a(m: u32, r: u32, kk: u32) -> f32 { return ${loadA}; }
fn load_b(m: u32, kk: u32, c: u32) -> f32 { return ${loadB}; }

@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wg.z;
  let r0 = wg.y * ${TILE}u + lid.y;
  let c0 = wg.x * ${TILE}u + lid.x;
  var sums: array<f32, ${PER_THREAD * PER_THREAD}>;
  for (var k0 = 0u; k0 < ${depth}u; k0 += ${THREADS}u) {
    for (var i = 0u; i < ${PER_THREAD}u; i++) {
      let r = r0 + i * ${THREADS}u;
      var a = 0.0;
      if (r < ${rows}u && k0 + lid.x < ${depth}u) { a = load_a(m, r, k0 + lid.x); }
      tileA[lid.x * ${TILE}u + lid.y + i * ${THREADS}u] = a;
      let c = c0 + i * ${THREADS}u;
      var b = 0.0;
      if (k0 + lid.y < ${depth}u && c < ${cols}u) { b = load_b(m, k0 + lid.y, c); }
      tileB[lid.y * ${TILE}u + lid.x + i * ${THREADS}u] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${THREADS}u; kk++) {
      ${multiplyAdd}
    }
    workgroupBarrier();
  }
  ${stores}
}`;
  return k.build(dims, {
    label: spec.label,
    grid: [Math.ceil(cols / TILE), Math.ceil(rows / TILE), dims.models],
    workgroupSize: THREADS * THREADS,
    workgroupBytes: 2 * THREADS * TILE * 4,
    main,
  });
}
