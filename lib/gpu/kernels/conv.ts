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
 * Each kernel is one WGSL text whose sizes are `const`s filled from the layer's geometry; its taps and
 * channels are listed in it one statement each (see {@link convGather} and {@link convWeightGradient}).
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
 * The loads, the taps and the stores are unrolled in the text — one statement each, listed from the
 * layer's geometry — so that the accumulators are indexed by constants only and stay in registers: shader
 * compilers do not reliably unroll WGSL loops (NVIDIA's, through SPIR-V, does not).
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
  // Each output of a cell (its parity going to fine) with the taps k = (ky, kx) that feed it, each
  // reading the input at step · q + (dy, dx): 2·q + k − p going to coarse, q + (parity + p − k) / 2
  // going to fine for the k with parity + p − k even.
  const parities = toCoarse ? [[0, 0]] : [[0, 0], [0, 1], [1, 0], [1, 1]];
  const offset = (parity: number, k: number) =>
    toCoarse ? k - g.padding : (parity + g.padding - k) / 2;
  const taps = parities.flatMap(([py, px], output) =>
    [0, 1, 2].flatMap((ky) =>
      [0, 1, 2].map((kx) => ({ output, k: ky * 3 + kx, dy: offset(py, ky), dx: offset(px, kx) }))
    )
  ).filter(({ dy, dx }) => Number.isInteger(dy) && Number.isInteger(dx));
  // The inputs a cell reads, each loaded once per input channel, and what each tap adds.
  const inputs = [...new Set(taps.map(({ dy, dx }) => `${dy}, ${dx}`))];
  const channels = [...Array(block).keys()];
  const sums = taps.flatMap(({ output, k, dy, dx }) =>
    channels.map((j) => ({ acc: output * block + j, input: inputs.indexOf(`${dy}, ${dx}`), j, k }))
  );
  const stores = parities.flatMap(([py, px], output) =>
    channels.map((j) => ({ py, px, j, acc: output * block + j }))
  );
  const k = new KernelBuilder();
  const params = k.use(BUFFERS.params, "f32");
  sourceReader(k, "input", spec.input);
  epilogueFunction(k, spec.epilogue);
  const output = k.use(spec.output, "f32", "read_write");
  const main = `
const IN_CHANNELS = ${inChannels}u;
const IN_SIDE = ${inSide};
const OUT_CHANNELS = ${outChannels}u;
const OUT_SIDE = ${outSide}u;
// Input and output positions per cell step: 2 and 1 going to coarse, 1 and 2 going to fine.
const IN_STEP = ${toCoarse ? 2 : 1};
const OUT_STEP = ${toCoarse ? 1 : 2}u;
// weight [coarse][fine][ky][kx]: the 3 × 3 kernels of consecutive output and input channels lie
// OC_KERNELS and IC_KERNELS kernels apart.
const WEIGHT = ${spec.weightOffset}u;
const OC_KERNELS = ${toCoarse ? "IN_CHANNELS" : "1u"};
const IC_KERNELS = ${toCoarse ? "1u" : "OUT_CHANNELS"};
// Output channels per invocation, and the blocks of them.
const BLOCK = ${block}u;
const BLOCKS = ${blocks}u;
const CELL_SIDE = ${cellSide}u;
const CELLS = BLOCKS * CELL_SIDE * CELL_SIDE;
// The sums of an invocation: acc[output · BLOCK + j] for output channel oc + j of each output of its cell.
const SUMS = ${parities.length}u * BLOCK;

// An invocation's cell: batch row b, the first output channel oc of its block, position (qy, qx).
struct Cell { b: u32, oc: u32, qy: i32, qx: i32 }
fn cell_of(index: u32) -> Cell {
  let position = index % (CELL_SIDE * CELL_SIDE);
  let oc = index % CELLS / (CELL_SIDE * CELL_SIDE) * BLOCK;
  return Cell(index / CELLS, oc, i32(position / CELL_SIDE), i32(position % CELL_SIDE));
}

// The input at IN_STEP · q + (dy, dx) in the channel whose plane starts at plane, 0 outside the map.
fn input_near(row: u32, plane: u32, cell: Cell, dy: i32, dx: i32) -> f32 {
  let iy = IN_STEP * cell.qy + dy;
  let ix = IN_STEP * cell.qx + dx;
  if (iy < 0 || iy >= IN_SIDE || ix < 0 || ix >= IN_SIDE) { return 0.0; }
  return input_at(row, plane + u32(iy * IN_SIDE + ix));
}

// Output OUT_STEP · q + (py, px) of channel oc + j for model m, through the epilogue, if inside the map.
fn store_output(m: u32, cell: Cell, py: u32, px: u32, j: u32, value: f32) {
  let oy = OUT_STEP * u32(cell.qy) + py;
  let ox = OUT_STEP * u32(cell.qx) + px;
  if (oy < OUT_SIDE && ox < OUT_SIDE) {
    let e = ((cell.oc + j) * OUT_SIDE + oy) * OUT_SIDE + ox;
    ${output}[(m * BATCH + cell.b) * OUT_CHANNELS * OUT_SIDE * OUT_SIDE + e] =
      epilogue(m, cell.b, cell.oc + j, e, value);
  }
}

@compute @workgroup_size(${GATHER_WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let m = wg.z;
  let index = ${flatIndex(GATHER_WORKGROUP)};
  if (index >= BATCH * CELLS) { return; }
  let cell = cell_of(index);
  let row = input_row(m, cell.b);
  var acc: array<f32, SUMS>;
  for (var ic = 0u; ic < IN_CHANNELS; ic++) {
    let w = m * PARAMS + WEIGHT + (cell.oc * OC_KERNELS + ic * IC_KERNELS) * 9u;
    let plane = ic * u32(IN_SIDE * IN_SIDE);
    ${inputs.map((at, i) => `let v${i} = input_near(row, plane, cell, ${at});`).join("\n    ")}
    ${
    sums.map(({ acc, input, j, k }) =>
      `acc[${acc}] += v${input} * ${params}[w + (${j}u * 9u * OC_KERNELS + ${k}u)];`
    ).join("\n    ")
  }
  }
  ${
    stores.map(({ py, px, j, acc }) => `store_output(m, cell, ${py}u, ${px}u, ${j}u, acc[${acc}]);`)
      .join("\n  ")
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
 *
 * The block's coarse values, each tap's multiply-adds and the hand-over of each channel's sums to
 * workgroup memory are unrolled in the text, one statement each, so that the accumulators are indexed
 * by constants only and stay in registers, as in {@link convGather}; so are the nine sums of each step
 * of the reduction and the stores.
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
  // The block's coarse channels cc + j, and the nine taps (ky, kx) of each: acc[j · 9 + ky · 3 + kx].
  const channels = [...Array(block).keys()];
  const taps = [0, 1, 2].flatMap((ky) => [0, 1, 2].map((kx) => ({ tap: ky * 3 + kx, ky, kx })));
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

// An invocation's job: model m, slice of the terms, the job's index and its first coarse channel cc and
// fine channel fc, the invocation's lane among the job's and its index li in the workgroup.
struct Job { m: u32, slice: u32, index: u32, cc: u32, fc: u32, lane: u32, li: u32 }
fn job_of(wg: vec3u, li: u32) -> Job {
  let job = wg.x * (WORKGROUP / LANES) + li / LANES;
  return Job(wg.z, wg.y, job, job / FINE_CHANNELS * BLOCK, job % FINE_CHANNELS, li % LANES, li);
}

// Whether fine position (fy, fx) lies inside the map.
fn inside_fine(fy: i32, fx: i32) -> bool {
  return fy >= 0 && fy < FINE_SIDE && fx >= 0 && fx < FINE_SIDE;
}

// The nine sums of coarse channel cc + j that the job's lanes left in workgroup memory, added up into
// lane 0, which stores them (a bias job's one sum with j = 0).
fn reduce_channel(job: Job, j: u32) {
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
    if (job.lane < stride) {
      ${
    taps.map(({ tap }) =>
      `partial[${tap}u * WORKGROUP + job.li] += partial[${tap}u * WORKGROUP + job.li + stride];`
    ).join("\n      ")
  }
    }
    workgroupBarrier();
  }
  if (job.lane == 0u) {
    if (job.index < PAIR_JOBS) {
      let weight = ((job.cc + j) * FINE_CHANNELS + job.fc) * 9u;
      ${
    taps.map(({ tap }) =>
      `store_partial(job.m, job.slice, weight + ${tap}u, partial[${tap}u * WORKGROUP + job.li]);`
    ).join("\n      ")
  }
    } else if (j == 0u && job.index < PAIR_JOBS + BIAS_CHANNELS) {
      store_partial(job.m, job.slice, WEIGHTS + job.index - PAIR_JOBS, partial[job.li]);
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let job = job_of(wg, li);
  let m = job.m;
  // acc[j · 9 + tap]: weight [cc + j][fc][tap].
  var acc: array<f32, 9u * BLOCK>;
  if (job.index < PAIR_JOBS) {
    let plane = job.fc * u32(FINE_SIDE * FINE_SIDE);
    let end = min(PAIR_TERMS, (job.slice + 1u) * PAIR_SLICE);
    for (var n = job.slice * PAIR_SLICE + job.lane; n < end; n += LANES) {
      let b = n / COARSE_AREA;
      let s = n % COARSE_AREA;
      let coarse = coarse_row(m, b);
      ${
    channels.map((j) => `let c${j} = coarse_at(coarse, (job.cc + ${j}u) * COARSE_AREA + s);`)
      .join("\n      ")
  }
      if (${channels.map((j) => `c${j} == 0.0`).join(" && ")}) { continue; }
      let row = fine_row(m, b);
      // Tap (ky, kx) of coarse position (cy, cx) reads fine position 2·c − p + k: (fy + ky, fx + kx).
      let fy = 2 * i32(s / COARSE_SIDE) - PADDING;
      let fx = 2 * i32(s % COARSE_SIDE) - PADDING;
      ${
    taps.map(({ tap, ky, kx }) =>
      [
        `if (inside_fine(fy + ${ky}, fx + ${kx})) {`,
        `  let f = fine_at(row, plane + u32((fy + ${ky}) * FINE_SIDE + fx + ${kx}));`,
        ...channels.map((j) => `  acc[${j * 9 + tap}] += c${j} * f;`),
        `}`,
      ].join("\n      ")
    ).join("\n      ")
  }
    }
  } else if (job.index < PAIR_JOBS + BIAS_CHANNELS) {
    let channel = job.index - PAIR_JOBS;
    let end = min(BIAS_TERMS, (job.slice + 1u) * BIAS_SLICE);
    for (var n = job.slice * BIAS_SLICE + job.lane; n < end; n += LANES) {
      acc[0] += gradient_at(gradient_row(m, n / BIAS_AREA), channel * BIAS_AREA + n % BIAS_AREA);
    }
  }
  // One coarse channel of the block at a time: its nine sums through workgroup memory, then stored.
  ${
    channels.flatMap((j) => [
      ...taps.map(({ tap }) => `partial[${tap}u * WORKGROUP + li] = acc[${j * 9 + tap}];`),
      `reduce_channel(job, ${j}u);`,
    ]).join("\n  ")
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
