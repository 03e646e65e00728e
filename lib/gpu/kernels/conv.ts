/**
 * WGSL kernels of the 3 × 3, stride-2 convolutions, both kinds, forward and backward.
 *
 * A Conv2d and a ConvTranspose2d both relate a fine map (side F) to a coarse one (side C) through
 * fine position 2·c − p + k, and both keep their weight as `[coarse channel][fine channel][3][3]` (PyTorch's
 * `[out, in, k, k]` for Conv2d, `[in, out, k, k]` for ConvTranspose2d). So two gathers cover all data
 * movement — {@link convGather} `toCoarse` is Conv2d's forward and ConvTranspose2d's input gradient, `toFine`
 * is ConvTranspose2d's forward and Conv2d's input gradient — and one reduction, {@link convWeightGradient},
 * gives either kind's weight and bias gradients without atomics: workgroups per (coarse channel, fine
 * channel) pair and slice of the batch and the map sum the nine taps over their slice, reduce in
 * workgroup memory and leave one partial sum per slice, which a second pass adds up.
 *
 * Each kernel is one WGSL text whose sizes are `const`s filled from the layer's geometry; its loops run
 * over those constants only, so that the shader compiler unrolls them and the private accumulators are
 * indexed by constants (and stay in registers).
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
import {
  BUFFERS,
  type Epilogue,
  epilogueFunction,
  type PartialSlot,
  partialWriter,
  type Source,
  sourceReader,
} from "./common.ts";

/** A convolution seen as a relation between a fine map and a coarse map. */
export interface ConvGeometry {
  fineChannels: number;
  fineSide: number;
  coarseChannels: number;
  coarseSide: number;
  padding: number;
}

/** The fine and coarse sides of a convolution layer: Conv2d reads fine and writes coarse, the transpose the reverse. */
export function convGeometry(layer: LayerGeometry): ConvGeometry {
  const { spec } = layer;
  if (spec.kind === "linear") throw new Error(`${spec.name} is not a convolution`);
  const conv = spec.kind === "conv";
  return {
    fineChannels: conv ? spec.inputs : spec.outputs,
    fineSide: conv ? layer.inputSide : layer.outputSide,
    coarseChannels: conv ? spec.outputs : spec.inputs,
    coarseSide: conv ? layer.outputSide : layer.inputSide,
    padding: spec.padding ?? 0,
  };
}

/** What {@link convGather} computes. */
export interface ConvGatherSpec {
  label: string;
  /** `toCoarse` reads the fine map and writes the coarse one; `toFine` the reverse. */
  direction: "toCoarse" | "toFine";
  geometry: ConvGeometry;
  /** Offset of the weight in a model's parameters. */
  weightOffset: number;
  input: Source;
  /** The buffer written, `[models][batch][channels × side²]`. */
  output: string;
  epilogue: Epilogue;
}

const GATHER_WORKGROUP = 256;

/**
 * The 3 × 3 × channels weighted sums over the input map, then the epilogue (bias and activation forward,
 * activation derivative backward). An invocation computes a cell of outputs for a block of up to 4
 * output channels, loading each input value it needs once for all of them.
 *
 * Going to coarse, a cell is one position o, whose nine taps read input 2·o − p + k. Going to fine, a
 * cell is the 2 × 2 positions 2·q + parity of one coarse position q: each parity has its own taps —
 * those k with parity + p − k even, reading input q + (parity + p − k) / 2 — and together they read
 * only a 2 × 2 patch of the input.
 *
 * @example
 * ```ts ignore
 * const kernel = convGather(dims, {
 *   label: "forward encoder_cnn.2", direction: "toCoarse", geometry, weightOffset: 80,
 *   input: { kind: "buffer", name: "encoder_cnn.0.out", size: 1568 }, output: "encoder_cnn.2.out",
 *   epilogue: { kind: "forward", activation: "relu", biasOffset: 1232, rowSize: 784, dropoutIndex: -1 },
 * });
 * ```
 */
export function convGather(dims: Dims, spec: ConvGatherSpec): Kernel {
  const g = spec.geometry;
  const toCoarse = spec.direction === "toCoarse";
  const [inChannels, inSide, outChannels, outSide] = toCoarse
    ? [g.fineChannels, g.fineSide, g.coarseChannels, g.coarseSide]
    : [g.coarseChannels, g.coarseSide, g.fineChannels, g.fineSide];
  // A cell is one output position going to coarse, a 2 × 2 of them going to fine.
  const cellSide = toCoarse ? outSide : Math.ceil(outSide / 2);
  const block = [4, 2, 1].find((size) => outChannels % size === 0)!;
  const blocks = outChannels / block;
  const k = new KernelBuilder();
  const params = k.use(BUFFERS.params, "f32");
  sourceReader(k, "input", spec.input);
  epilogueFunction(k, spec.epilogue);
  const output = k.use(spec.output, "f32", "read_write");
  // The sizes, an invocation's cell and the entry point, both directions alike; each adds `gather`.
  const cells = `
const IN_CHANNELS = ${inChannels}u;
const IN_SIDE = ${inSide};
const OUT_CHANNELS = ${outChannels}u;
const OUT_SIDE = ${outSide}u;
const PADDING = ${g.padding};
const WEIGHT = ${spec.weightOffset}u;
// Output channels per invocation, and the blocks of them.
const BLOCK = ${block}u;
const BLOCKS = ${blocks}u;
const CELL_SIDE = ${cellSide}u;
const CELLS = BLOCKS * CELL_SIDE * CELL_SIDE;

// An invocation's cell: batch row b, the first output channel oc of its block, position (qy, qx).
struct Cell { b: u32, oc: u32, qy: i32, qx: i32 }
fn cell_of(index: u32) -> Cell {
  let position = index % (CELL_SIDE * CELL_SIDE);
  let oc = index % CELLS / (CELL_SIDE * CELL_SIDE) * BLOCK;
  return Cell(index / CELLS, oc, i32(position / CELL_SIDE), i32(position % CELL_SIDE));
}
fn output_index(m: u32, b: u32, element: u32) -> u32 {
  return (m * BATCH + b) * OUT_CHANNELS * OUT_SIDE * OUT_SIDE + element;
}

@compute @workgroup_size(${GATHER_WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let m = wg.z;
  let index = ${flatIndex(GATHER_WORKGROUP)};
  if (index >= BATCH * CELLS) { return; }
  let cell = cell_of(index);
  gather(m, cell, input_row(m, cell.b));
}`;
  const main = toCoarse
    ? `${cells}

// The outputs of the cell for model m, whose input sample starts at row.
fn gather(m: u32, cell: Cell, row: u32) {
  var acc: array<f32, BLOCK>;
  for (var ic = 0u; ic < IN_CHANNELS; ic++) {
    // weight [oc][ic][ky][kx]: the block's output channels lie 9 · IN_CHANNELS apart.
    let w = m * PARAMS + WEIGHT + (cell.oc * IN_CHANNELS + ic) * 9u;
    let plane = ic * u32(IN_SIDE * IN_SIDE);
    for (var ky = 0; ky < 3; ky++) {
      let iy = 2 * cell.qy - PADDING + ky;
      let inside = iy >= 0 && iy < IN_SIDE;
      for (var kx = 0; kx < 3; kx++) {
        let ix = 2 * cell.qx - PADDING + kx;
        var v = 0.0;
        if (inside && ix >= 0 && ix < IN_SIDE) {
          v = input_at(row, plane + u32(iy * IN_SIDE + ix));
        }
        for (var j = 0u; j < BLOCK; j++) {
          acc[j] += v * ${params}[w + j * 9u * IN_CHANNELS + u32(ky * 3 + kx)];
        }
      }
    }
  }
  for (var j = 0u; j < BLOCK; j++) {
    let e = ((cell.oc + j) * OUT_SIDE + u32(cell.qy)) * OUT_SIDE + u32(cell.qx);
    ${output}[output_index(m, cell.b, e)] = epilogue(m, cell.b, cell.oc + j, e, acc[j]);
  }
}`
    : `${cells}
// A cell reads the 2 × 2 input patch from q + PATCH, PATCH the least (parity + p − k) / 2
// with parity + p − k even.
const PATCH = ${(g.padding - 1) >> 1};

// The outputs of the cell for model m, whose input sample starts at row.
fn gather(m: u32, cell: Cell, row: u32) {
  // acc[(py · 2 + px) · BLOCK + j]: output 2·q + (py, px), channel oc + j.
  var acc: array<f32, 4u * BLOCK>;
  for (var ic = 0u; ic < IN_CHANNELS; ic++) {
    // weight [ic][oc][ky][kx]: the block's output channels lie 9 apart.
    let w = m * PARAMS + WEIGHT + (ic * OUT_CHANNELS + cell.oc) * 9u;
    let plane = ic * u32(IN_SIDE * IN_SIDE);
    var quad: array<f32, 4>;
    for (var dy = 0; dy < 2; dy++) {
      let iy = cell.qy + PATCH + dy;
      for (var dx = 0; dx < 2; dx++) {
        let ix = cell.qx + PATCH + dx;
        if (iy >= 0 && iy < IN_SIDE && ix >= 0 && ix < IN_SIDE) {
          quad[dy * 2 + dx] = input_at(row, plane + u32(iy * IN_SIDE + ix));
        }
      }
    }
    // Tap k feeds the output of parity (k + p) mod 2, from the input q + (parity + p − k) / 2.
    for (var ky = 0; ky < 3; ky++) {
      let py = (ky + PADDING) & 1;
      let dy = ((py + PADDING - ky) >> 1u) - PATCH;
      for (var kx = 0; kx < 3; kx++) {
        let px = (kx + PADDING) & 1;
        let v = quad[dy * 2 + ((px + PADDING - kx) >> 1u) - PATCH];
        for (var j = 0u; j < BLOCK; j++) {
          acc[u32(py * 2 + px) * BLOCK + j] += v * ${params}[w + j * 9u + u32(ky * 3 + kx)];
        }
      }
    }
  }
  for (var py = 0u; py < 2u; py++) {
    for (var px = 0u; px < 2u; px++) {
      let fy = 2u * u32(cell.qy) + py;
      let fx = 2u * u32(cell.qx) + px;
      if (fy < OUT_SIDE && fx < OUT_SIDE) {
        for (var j = 0u; j < BLOCK; j++) {
          let e = ((cell.oc + j) * OUT_SIDE + fy) * OUT_SIDE + fx;
          let value = acc[(py * 2u + px) * BLOCK + j];
          ${output}[output_index(m, cell.b, e)] = epilogue(m, cell.b, cell.oc + j, e, value);
        }
      }
    }
  }
}`;
  const [x, y] = flatGrid(dims.batch * blocks * cellSide * cellSide, GATHER_WORKGROUP);
  return k.build(dims, {
    label: spec.label,
    grid: [x, y, dims.models],
    workgroupSize: GATHER_WORKGROUP,
    main,
  });
}

/** What {@link convWeightGradient} computes. */
export interface ConvGradientSpec {
  label: string;
  geometry: ConvGeometry;
  /** The fine map (Conv2d: the input; ConvTranspose2d: the output gradient). */
  fine: Source;
  /** The coarse map (Conv2d: the output gradient; ConvTranspose2d: the input). */
  coarse: Source;
  /** Which map is the output gradient, whose sum per channel is the bias gradient. */
  biasFrom: "fine" | "coarse";
  /** Where the slices' partial sums go, sliced as {@link convReduction} says. */
  partials: PartialSlot;
  /** Coarse channels per job (a divisor of their number); by default the kernel chooses. */
  block?: number;
}

const REDUCE_WORKGROUP = 256;
/** Terms each lane of a weight-gradient slice sums (more where a job has fewer terms than lanes). */
const TERMS_PER_LANE = 4;
/** Workgroups (all models and slices together) that fill a large GPU: blocking channels keeps as many. */
const FILL_GROUPS = 1024;

/**
 * How a convolution's weight-gradient reduction over `batch` rows and the coarse map's positions is
 * split: `lanes` per job, a power of two up to 256, so that a lane sums {@link TERMS_PER_LANE} terms of
 * a slice, and as many `slices` as that takes — sized from the batch and the layer alone, so that a model
 * gets the same sums in any population.
 */
export function convReduction(batch: number, g: ConvGeometry): { lanes: number; slices: number } {
  const terms = batch * g.coarseSide * g.coarseSide;
  const lanes = Math.min(
    REDUCE_WORKGROUP,
    2 ** Math.max(0, Math.ceil(Math.log2(terms / TERMS_PER_LANE))),
  );
  return { lanes, slices: Math.ceil(terms / (lanes * TERMS_PER_LANE)) };
}

/**
 * The first pass of a convolution's weight and bias gradients: partial sums, per slice of the batch rows
 * and coarse positions, of weight [cc][fc][ky][kx] — coarse[cc] · fine[fc] at the tap — and of each bias
 * — the output gradient over its channel — written to the layer's {@link PartialSlot}; the
 * gradient-sum kernel adds the slices up. No atomics: every sum has one writer.
 *
 * A job is a block of up to 4 coarse channels with one fine channel — their nine taps each, every fine
 * value loaded once for the block — or one bias. The block is as large as leaves the kernel
 * {@link FILL_GROUPS} workgroups, so that a single model's kernel still spreads over a GPU. A workgroup
 * takes one slice of 256 / S jobs with S lanes each ({@link convReduction}); a lane sums every S-th term
 * of its slice (a bias job's lanes sum more where its map is the fine one), and the lanes reduce in
 * workgroup memory, a coarse channel of the block at a time.
 */
export function convWeightGradient(dims: Dims, spec: ConvGradientSpec): Kernel {
  const g = spec.geometry;
  const [biasChannels, biasSide] = spec.biasFrom === "fine"
    ? [g.fineChannels, g.fineSide]
    : [g.coarseChannels, g.coarseSide];
  const { lanes } = convReduction(dims.batch, g);
  const { slices } = spec.partials;
  if (spec.partials.outputs !== 9 * g.coarseChannels * g.fineChannels + biasChannels) {
    throw new RangeError(`${spec.label}: its partial sums hold ${spec.partials.outputs} values`);
  }
  const jobsPerGroup = REDUCE_WORKGROUP / lanes;
  const groups = (block: number) =>
    Math.ceil(((g.coarseChannels / block) * g.fineChannels + biasChannels) / jobsPerGroup);
  const block = spec.block ??
    [4, 2].find((size) =>
      g.coarseChannels % size === 0 && groups(size) * slices * dims.models >= FILL_GROUPS
    ) ?? 1;
  if (!Number.isInteger(block) || block < 1 || g.coarseChannels % block !== 0) {
    throw new RangeError(`${spec.label}: a block of ${block} does not divide ${g.coarseChannels}`);
  }
  const k = new KernelBuilder();
  sourceReader(k, "fine", spec.fine);
  sourceReader(k, "coarse", spec.coarse);
  sourceReader(k, "gradient", spec.biasFrom === "fine" ? spec.fine : spec.coarse);
  partialWriter(k, spec.partials);
  const main = `
const FINE_CHANNELS = ${g.fineChannels}u;
const FINE_SIDE = ${g.fineSide};
const COARSE_SIDE = ${g.coarseSide}u;
const COARSE_AREA = COARSE_SIDE * COARSE_SIDE;
const PADDING = ${g.padding};
// The weight's elements, which come before the biases among the layer's gradient values.
const WEIGHTS = ${9 * g.coarseChannels * g.fineChannels}u;
// The output gradient's channels and their area, for the bias.
const BIAS_CHANNELS = ${biasChannels}u;
const BIAS_AREA = ${biasSide * biasSide}u;
// Coarse channels per job, and the jobs of (block of coarse channels, fine channel) pairs.
const BLOCK = ${block}u;
const PAIR_JOBS = ${(g.coarseChannels / block) * g.fineChannels}u;
const LANES = ${lanes}u;
const WORKGROUP = ${REDUCE_WORKGROUP}u;
// The terms of a pair job and of a bias job, and how many of them one slice holds.
const SLICES = ${slices}u;
const PAIR_TERMS = BATCH * COARSE_AREA;
const PAIR_SLICE = (PAIR_TERMS + SLICES - 1u) / SLICES;
const BIAS_TERMS = BATCH * BIAS_AREA;
const BIAS_SLICE = (BIAS_TERMS + SLICES - 1u) / SLICES;

var<workgroup> partial: array<f32, 9u * WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wg.z;
  let slice = wg.y;
  let job = wg.x * (WORKGROUP / LANES) + li / LANES;
  let lane = li % LANES;
  let cc = job / FINE_CHANNELS * BLOCK;
  let fc = job % FINE_CHANNELS;
  // acc[j · 9 + tap]: weight [cc + j][fc][tap].
  var acc: array<f32, 9u * BLOCK>;
  if (job < PAIR_JOBS) {
    let plane = fc * u32(FINE_SIDE * FINE_SIDE);
    let end = min(PAIR_TERMS, (slice + 1u) * PAIR_SLICE);
    for (var n = slice * PAIR_SLICE + lane; n < end; n += LANES) {
      let b = n / COARSE_AREA;
      let s = n % COARSE_AREA;
      let coarse = coarse_row(m, b);
      var c: array<f32, BLOCK>;
      var nonzero = false;
      for (var j = 0u; j < BLOCK; j++) {
        c[j] = coarse_at(coarse, (cc + j) * COARSE_AREA + s);
        nonzero = nonzero || c[j] != 0.0;
      }
      if (!nonzero) { continue; }
      let row = fine_row(m, b);
      // Tap (ky, kx) of coarse position (cy, cx) reads fine position 2·c − p + k.
      for (var ky = 0; ky < 3; ky++) {
        let fy = 2 * i32(s / COARSE_SIDE) - PADDING + ky;
        for (var kx = 0; kx < 3; kx++) {
          let fx = 2 * i32(s % COARSE_SIDE) - PADDING + kx;
          if (fy >= 0 && fy < FINE_SIDE && fx >= 0 && fx < FINE_SIDE) {
            let f = fine_at(row, plane + u32(fy * FINE_SIDE + fx));
            for (var j = 0u; j < BLOCK; j++) { acc[j * 9u + u32(ky * 3 + kx)] += c[j] * f; }
          }
        }
      }
    }
  } else if (job < PAIR_JOBS + BIAS_CHANNELS) {
    let channel = job - PAIR_JOBS;
    let end = min(BIAS_TERMS, (slice + 1u) * BIAS_SLICE);
    for (var n = slice * BIAS_SLICE + lane; n < end; n += LANES) {
      acc[0] += gradient_at(gradient_row(m, n / BIAS_AREA), channel * BIAS_AREA + n % BIAS_AREA);
    }
  }
  // One coarse channel of the block at a time: its nine sums through workgroup memory, then stored.
  for (var j = 0u; j < BLOCK; j++) {
    for (var t = 0u; t < 9u; t++) { partial[t * WORKGROUP + li] = acc[j * 9u + t]; }
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
      if (lane < stride) {
        for (var t = 0u; t < 9u; t++) {
          partial[t * WORKGROUP + li] += partial[t * WORKGROUP + li + stride];
        }
      }
      workgroupBarrier();
    }
    if (lane == 0u) {
      if (job < PAIR_JOBS) {
        let weight = ((cc + j) * FINE_CHANNELS + fc) * 9u;
        for (var t = 0u; t < 9u; t++) {
          store_partial(m, slice, weight + t, partial[t * WORKGROUP + li]);
        }
      } else if (j == 0u && job < PAIR_JOBS + BIAS_CHANNELS) {
        store_partial(m, slice, WEIGHTS + job - PAIR_JOBS, partial[li]);
      }
    }
    workgroupBarrier();
  }
}`;
  return k.build(dims, {
    label: spec.label,
    grid: [groups(block), slices, dims.models],
    workgroupSize: REDUCE_WORKGROUP,
    workgroupBytes: 9 * REDUCE_WORKGROUP * 4,
    main,
  });
}
