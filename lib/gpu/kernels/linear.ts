/**
 * WGSL kernels of the linear layers, as batched matrix products (one model per `z` of the grid): each
 * workgroup of 16 × 16 invocations computes a 32 × 32 tile of the result, each invocation a 2 × 2
 * block of it, from 32 × 16 slices of the operands staged in workgroup memory (each staged value read
 * twice from there instead of once per output). With the weight `W [out][in]` of PyTorch:
 * - `forward`: `Y [batch][out] = X · Wᵀ`, then bias and activation;
 * - `inputGradient`: `dX [batch][in] = dY · W`, then the input activation's derivative;
 * - `weightGradient`: `[dW | db] [out][in + 1] = dYᵀ · [X | 1]`, a reduction over the batch split into
 *   slices of {@link SLICE_ROWS} rows ({@link linearSlices}), each slice's product a partial sum in the
 *   layer's {@link PartialSlot} (the gradient-sum kernel adds them up): no atomics, and workgroups
 *   enough for a GPU at a large batch.
 *
 * The product is one WGSL text, {@link TILED_PRODUCT}; each role adds the three functions it calls —
 * `load_a`, `load_b` and `store` — and the product's sizes and slices.
 *
 * @module
 */
import { type Dims, type Kernel, KernelBuilder } from "../kernel.ts";
import type { LayerGeometry } from "../layout.ts";
import {
  BUFFERS,
  type Epilogue,
  epilogueFunction,
  type PartialSlot,
  partialWriter,
} from "./common.ts";

/** Invocations per side of a workgroup, and the depth of the slices staged per round. */
const THREADS = 16;
/** Results per invocation along each side. */
const PER_THREAD = 2;
/** The side of the result tile of a workgroup. */
const TILE = THREADS * PER_THREAD;
/** Batch rows per slice of a weight gradient's reduction: two staged rounds. */
const SLICE_ROWS = 2 * THREADS;

/** The slices of a linear layer's weight-gradient reduction over `batch` rows. */
export function linearSlices(batch: number): number {
  return Math.ceil(batch / SLICE_ROWS);
}

/**
 * `C [ROWS][COLS] = A [ROWS][DEPTH] · B [DEPTH][COLS]` for model `wg.z / SLICES`, over the slice
 * `wg.z % SLICES` of the depth (`SLICE_DEPTH` deep, a multiple of 16), each element passed to
 * `store(m, slice, r, c, value)`. Operands are staged per round as A [k][r] and B [k][c], so that reading them
 * across invocations walks consecutive addresses: invocation (tx, ty) loads A(r, k0 + tx) and
 * B(k0 + ty, c) for its rows r = ty + 16·i and columns c = tx + 16·j, and sums the results at those
 * rows and columns.
 */
const TILED_PRODUCT = `
const THREADS = ${THREADS}u;
const PER_THREAD = ${PER_THREAD}u;
const TILE = ${TILE}u;

var<workgroup> tileA: array<f32, THREADS * TILE>;
var<workgroup> tileB: array<f32, THREADS * TILE>;

@compute @workgroup_size(THREADS, THREADS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wg.z / SLICES;
  let slice = wg.z % SLICES;
  let end = min(DEPTH, (slice + 1u) * SLICE_DEPTH);
  let r0 = wg.y * TILE + lid.y;
  let c0 = wg.x * TILE + lid.x;
  var sums: array<f32, PER_THREAD * PER_THREAD>;
  for (var k0 = slice * SLICE_DEPTH; k0 < end; k0 += THREADS) {
    for (var i = 0u; i < PER_THREAD; i++) {
      let r = r0 + i * THREADS;
      var a = 0.0;
      if (r < ROWS && k0 + lid.x < end) { a = load_a(m, r, k0 + lid.x); }
      tileA[lid.x * TILE + lid.y + i * THREADS] = a;
      let c = c0 + i * THREADS;
      var b = 0.0;
      if (k0 + lid.y < end && c < COLS) { b = load_b(m, k0 + lid.y, c); }
      tileB[lid.y * TILE + lid.x + i * THREADS] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < THREADS; kk++) {
      for (var i = 0u; i < PER_THREAD; i++) {
        let a = tileA[kk * TILE + lid.y + i * THREADS];
        for (var j = 0u; j < PER_THREAD; j++) {
          sums[i * PER_THREAD + j] += a * tileB[kk * TILE + lid.x + j * THREADS];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < PER_THREAD; i++) {
    for (var j = 0u; j < PER_THREAD; j++) {
      let r = r0 + i * THREADS;
      let c = c0 + j * THREADS;
      if (r < ROWS && c < COLS) { store(m, slice, r, c, sums[i * PER_THREAD + j]); }
    }
  }
}`;

/** What {@link linearKernel} computes, and from which buffers. */
export type LinearSpec =
  & { label: string; layer: LayerGeometry }
  & (
    | { role: "forward"; input: string; output: string; epilogue: Epilogue }
    | { role: "inputGradient"; outputGradient: string; inputGradient: string; epilogue: Epilogue }
    | {
      role: "weightGradient";
      outputGradient: string;
      input: string;
      /** Where the slices' partial sums go, {@link linearSlices} of them. */
      partials: PartialSlot;
    }
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
  const k = new KernelBuilder();
  const layer = `
const IN = ${spec.layer.spec.inputs}u;
const OUT = ${spec.layer.spec.outputs}u;`;
  let roleCode: string, rows: number, cols: number, slices: number;
  if (spec.role === "weightGradient") {
    const dY = k.use(spec.outputGradient, "f32");
    const x = k.use(spec.input, "f32");
    partialWriter(k, spec.partials);
    const { inputs, outputs } = spec.layer.spec;
    if (spec.partials.outputs !== outputs * (inputs + 1)) {
      throw new RangeError(`${spec.label}: its partial sums hold ${spec.partials.outputs} values`);
    }
    [rows, cols, slices] = [outputs, inputs + 1, spec.partials.slices];
    roleCode = `${layer}
const ROWS = OUT;
const COLS = IN + 1u;
const DEPTH = BATCH;
const SLICES = ${slices}u;
const SLICE_DEPTH = ${THREADS * Math.ceil(dims.batch / slices / THREADS)}u;

// A(r = out, k = b) = dY[b][out]; B(k = b, c = in) = X[b][in], or 1 in the bias column c = in.
fn load_a(m: u32, r: u32, kk: u32) -> f32 { return ${dY}[(m * BATCH + kk) * OUT + r]; }
fn load_b(m: u32, kk: u32, c: u32) -> f32 {
  return select(1.0, ${x}[(m * BATCH + kk) * IN + min(c, IN - 1u)], c < IN);
}
// The layer's gradient values: the weight [out][in], then the bias [out].
fn store(m: u32, slice: u32, r: u32, c: u32, value: f32) {
  store_partial(m, slice, select(OUT * IN + r, r * IN + c, c < IN), value);
}`;
  } else {
    const params = k.use(BUFFERS.params, "f32");
    epilogueFunction(k, spec.epilogue);
    const forward = spec.role === "forward";
    const a = k.use(forward ? spec.input : spec.outputGradient, "f32");
    const out = k.use(forward ? spec.output : spec.inputGradient, "f32", "read_write");
    [rows, cols, slices] = [
      dims.batch,
      forward ? spec.layer.spec.outputs : spec.layer.spec.inputs,
      1,
    ];
    // forward: A(r = b, k = in) = X[b][in], B(k = in, c = out) = W[out][in], C = Y;
    // inputGradient: A(r = b, k = out) = dY[b][out], B(k = out, c = in) = W[out][in], C = dX.
    roleCode = `${layer}
const WEIGHT = ${spec.layer.weight.offset}u;
const ROWS = BATCH;
const COLS = ${forward ? "OUT" : "IN"};
const DEPTH = ${forward ? "IN" : "OUT"};
const SLICES = 1u;
const SLICE_DEPTH = DEPTH;

fn load_a(m: u32, r: u32, kk: u32) -> f32 { return ${a}[(m * BATCH + r) * DEPTH + kk]; }
fn load_b(m: u32, kk: u32, c: u32) -> f32 {
  return ${params}[m * PARAMS + WEIGHT + ${forward ? "c * IN + kk" : "kk * IN + c"}];
}
fn store(m: u32, slice: u32, r: u32, c: u32, value: f32) {
  ${out}[(m * BATCH + r) * COLS + c] = epilogue(m, r, c, c, value);
}`;
  }
  return k.build(dims, {
    label: spec.label,
    grid: [Math.ceil(cols / TILE), Math.ceil(rows / TILE), dims.models * slices],
    workgroupSize: THREADS * THREADS,
    workgroupBytes: 2 * THREADS * TILE * 4,
    main: `${roleCode}\n${TILED_PRODUCT}`,
  });
}
