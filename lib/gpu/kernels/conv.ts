/**
 * WGSL kernels of the 3 × 3, stride-2 convolutions, both kinds, forward and backward.
 *
 * A Conv2d and a ConvTranspose2d both relate a fine map (side F) to a coarse one (side C) through
 * fine position 2·c − p + k, and both keep their weight as `[coarse channel][fine channel][3][3]` (PyTorch's
 * `[out, in, k, k]` for Conv2d, `[in, out, k, k]` for ConvTranspose2d). So two gathers cover all data
 * movement — {@link convGather} `toCoarse` is Conv2d's forward and ConvTranspose2d's input gradient, `toFine`
 * is ConvTranspose2d's forward and Conv2d's input gradient — and one reduction, {@link convWeightGradient},
 * gives either kind's weight and bias gradients without atomics: one workgroup per (coarse channel, fine
 * channel) pair sums the nine taps over the batch and the map, then reduces in workgroup memory.
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
import { BUFFERS, type Epilogue, epilogueFunction, type Source, sourceReader } from "./common.ts";

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
 * only a 2 × 2 patch of the input. The taps are unrolled, each input with only the bounds checks it
 * can fail, so that neighbouring invocations run the same code.
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
  const outArea = outSide * outSide;
  const outSize = outChannels * outArea;
  const k = new KernelBuilder();
  const params = k.use(BUFFERS.params, "f32");
  sourceReader(k, "input", spec.input);
  epilogueFunction(k, spec.epilogue);
  const output = k.use(spec.output, "f32", "read_write");
  // Weight [coarse][fine][ky][kx]; the sum runs over the input channel `ic`, for output channels `oc`
  // and the next ones of its block, whose weights lie `channelStride` apart.
  const weight = toCoarse
    ? `(oc * ${g.fineChannels}u + ic) * 9u`
    : `(ic * ${g.fineChannels}u + oc) * 9u`;
  const channelStride = toCoarse ? 9 * g.fineChannels : 9;
  const block = [4, 2, 1].find((size) => outChannels % size === 0)!;
  const blocks = outChannels / block;
  // The outputs of a cell, each with its taps; the input coordinate of a tap is stride · q + offset.
  const [stride, cellSide] = toCoarse ? [2, outSide] : [1, Math.ceil(outSide / 2)];
  const parities = toCoarse ? [[0, 0]] : [[0, 0], [0, 1], [1, 0], [1, 1]];
  const outputs = parities.map(([py, px]) => ({
    py,
    px,
    taps: axisTaps(toCoarse, g.padding, py).flatMap((y) =>
      axisTaps(toCoarse, g.padding, px).map((x) => ({ y, x }))
    ),
  }));
  k.helper(
    "taps",
    tapsFunction(outputs, {
      stride,
      cellSide,
      inChannels,
      inSide,
      weight,
      channelStride,
      block,
      params,
    }),
  );
  // Each output of the cell that lies inside the map, through the epilogue, for each channel of the block.
  const cellArea = cellSide * cellSide;
  const stores = outputs.map(({ py, px }, o) => {
    const [oy, ox] = toCoarse ? ["qy", "qx"] : [`2u * qy + ${py}u`, `2u * qx + ${px}u`];
    const inside = ([["qy", py], ["qx", px]] as const)
      .filter(([, parity]) => !toCoarse && 2 * (cellSide - 1) + parity >= outSide)
      .map(([q, parity]) => `2u * ${q} + ${parity}u < ${outSide}u`);
    // Unrolled, so that `acc` is indexed by constants only (and stays in registers).
    const store = Array.from({ length: block }, (_, j) =>
      `{
    let e = (oc + ${j}u) * ${outArea}u + (${oy}) * ${outSide}u + ${ox};
    ${output}[(m * BATCH + b) * ${outSize}u + e] = epilogue(m, b, oc + ${j}u, e, acc[${
        o * block + j
      }]);
  }`).join("\n  ");
    return inside.length > 0 ? `if (${inside.join(" && ")}) {\n  ${store}\n  }` : store;
  });
  const main = `
@compute @workgroup_size(${GATHER_WORKGROUP})
fn main(${MAIN_PARAMETERS}) {
  let m = wg.z;
  let index = ${flatIndex(GATHER_WORKGROUP)};
  if (index >= BATCH * ${blocks * cellArea}u) { return; }
  let b = index / ${blocks * cellArea}u;
  let oc = (index / ${cellArea}u) % ${blocks}u * ${block}u;
  let qy = (index % ${cellArea}u) / ${cellSide}u;
  let qx = index % ${cellSide}u;
  let acc = taps(input_row(m, b), m * PARAMS + ${spec.weightOffset}u, oc, i32(qy), i32(qx));
  ${stores.join("\n  ")}
}`;
  const [x, y] = flatGrid(dims.batch * blocks * cellArea, GATHER_WORKGROUP);
  return k.build(dims, {
    label: spec.label,
    grid: [x, y, dims.models],
    workgroupSize: GATHER_WORKGROUP,
    main,
  });
}

/** One output of a gather's cell: its parity (0 going to coarse) and its taps on each axis. */
interface CellOutput {
  py: number;
  px: number;
  taps: { y: AxisTap; x: AxisTap }[];
}

/** A kernel index on one axis, and the offset of the input coordinate it reads. */
interface AxisTap {
  k: number;
  offset: number;
}

/**
 * WGSL `taps(row, base, oc, qy, qx) -> array<f32, outputs × block>`: the weighted sums of the outputs of
 * cell (qy, qx) for output channels `oc` … `oc + block − 1`, over the input channels. Each input value
 * the cell reads is loaded once per input channel (zero outside the map, checked only where some cell
 * can fall outside), then every tap of every output adds it, times its weight, for each channel.
 */
function tapsFunction(
  outputs: CellOutput[],
  shape: {
    /** Input coordinate per cell step, 2 going to coarse, 1 going to fine. */
    stride: number;
    cellSide: number;
    inChannels: number;
    inSide: number;
    /** WGSL of the offset of the 3 × 3 weights of (`ic`, `oc`) from the layer's weight. */
    weight: string;
    /** How far apart the weights of consecutive output channels lie. */
    channelStride: number;
    block: number;
    /** The WGSL name of the parameters buffer. */
    params: string;
  },
): string {
  const { stride, cellSide, inSide, block } = shape;
  const inputs = [
    ...new Set(outputs.flatMap(({ taps }) => taps.map(({ y, x }) => `${y.offset},${x.offset}`))),
  ];
  const loads = inputs.map((key, i) => {
    const [y, x] = key.split(",").map(Number);
    const [iy, ix] = [
      axisCoordinate(`iy${i}`, "qy", stride, y, cellSide, inSide),
      axisCoordinate(`ix${i}`, "qx", stride, x, cellSide, inSide),
    ];
    const checks = [...iy.checks, ...ix.checks];
    const load = `input_at(row, plane + u32(iy${i} * ${inSide} + ix${i}))`;
    const value = checks.length > 0
      ? `var v${i} = 0.0;
    if (${checks.join(" && ")}) { v${i} = ${load}; }`
      : `let v${i} = ${load};`;
    return `let iy${i} = ${iy.value};
    let ix${i} = ${ix.value};
    ${value}`;
  });
  const sums = outputs.flatMap(({ taps }, o) =>
    taps.flatMap(({ y, x }) => {
      const v = `v${inputs.indexOf(`${y.offset},${x.offset}`)}`;
      const tap = y.k * 3 + x.k;
      return Array.from(
        { length: block },
        (_, j) =>
          `acc[${o * block + j}] += ${v} * ${shape.params}[w + ${j * shape.channelStride + tap}u];`,
      );
    })
  );
  const size = outputs.length * block;
  return `fn taps(row: u32, base: u32, oc: u32, qy: i32, qx: i32) -> array<f32, ${size}> {
  var acc: array<f32, ${size}>;
  for (var ic = 0u; ic < ${shape.inChannels}u; ic++) {
    let w = base + ${shape.weight};
    let plane = ic * ${inSide * inSide}u;
    ${[...loads, ...sums].join("\n    ")}
  }
  return acc;
}`;
}

/**
 * The taps on one axis of an output: each kernel index `k` with the offset of its input coordinate.
 * Going to coarse, all three, at 2·q + (k − p); going to fine, from position 2·q + parity, the `k` with
 * parity + p − k even, at q + (parity + p − k) / 2.
 */
function axisTaps(toCoarse: boolean, padding: number, parity: number): AxisTap[] {
  return [0, 1, 2]
    .filter((k) => toCoarse || (parity + padding - k) % 2 === 0)
    .map((k) => ({ k, offset: toCoarse ? k - padding : (parity + padding - k) / 2 }));
}

/** What {@link convWeightGradient} computes. */
export interface ConvGradientSpec {
  label: string;
  geometry: ConvGeometry;
  weightOffset: number;
  biasOffset: number;
  /** The fine map (Conv2d: the input; ConvTranspose2d: the output gradient). */
  fine: Source;
  /** The coarse map (Conv2d: the output gradient; ConvTranspose2d: the input). */
  coarse: Source;
  /** Which map is the output gradient, whose sum per channel is the bias gradient. */
  biasFrom: "fine" | "coarse";
  /** Coarse channels per job (a divisor of their number); by default the kernel chooses. */
  block?: number;
}

const REDUCE_WORKGROUP = 256;
/** Terms each lane of a weight-gradient reduction sums at least (where the workgroup allows). */
const TERMS_PER_LANE = 64;
/** Workgroups (all models together) a weight-gradient kernel keeps, where it can, when it blocks channels. */
const MIN_REDUCTION_GROUPS = 128;

/**
 * Weight and bias gradients of a convolution, written (not accumulated) into {@link BUFFERS.grads}: for
 * weight [cc][fc][ky][kx] the sum over batch rows and coarse positions of coarse[cc] · fine[fc] at the tap,
 * for each bias the sum of the output gradient over its channel.
 *
 * A job is a block of up to 4 coarse channels with one fine channel — their nine taps each, every fine
 * value loaded once for the block — or one bias. The block is as large as leaves the kernel
 * {@link MIN_REDUCTION_GROUPS} workgroups, so that a single model's kernel still spreads over a GPU.
 * Each workgroup runs 256 / S jobs with S lanes each — S a power of two chosen so that a lane of a
 * channel job sums about {@link TERMS_PER_LANE} terms or more (a bias job's lanes sum more where its
 * map is the fine one) — and reduces the lanes in workgroup memory, a coarse channel of the block at a
 * time.
 */
export function convWeightGradient(dims: Dims, spec: ConvGradientSpec): Kernel {
  const g = spec.geometry;
  const coarseArea = g.coarseSide * g.coarseSide;
  const biasSide = spec.biasFrom === "fine" ? g.fineSide : g.coarseSide;
  const biasChannels = spec.biasFrom === "fine" ? g.fineChannels : g.coarseChannels;
  const biasArea = biasSide * biasSide;
  const terms = dims.batch * coarseArea;
  const lanes = Math.min(
    REDUCE_WORKGROUP,
    2 ** Math.max(0, Math.ceil(Math.log2(terms / TERMS_PER_LANE))),
  );
  const jobsPerGroup = REDUCE_WORKGROUP / lanes;
  const groups = (block: number) =>
    Math.ceil(((g.coarseChannels / block) * g.fineChannels + biasChannels) / jobsPerGroup);
  const block = spec.block ??
    [4, 2].find((size) =>
      g.coarseChannels % size === 0 && groups(size) * dims.models >= MIN_REDUCTION_GROUPS
    ) ?? 1;
  if (!Number.isInteger(block) || block < 1 || g.coarseChannels % block !== 0) {
    throw new RangeError(`${spec.label}: a block of ${block} does not divide ${g.coarseChannels}`);
  }
  const pairJobs = (g.coarseChannels / block) * g.fineChannels;
  const blockRange = [...Array(block).keys()];
  const k = new KernelBuilder();
  sourceReader(k, "fine", spec.fine);
  sourceReader(k, "coarse", spec.coarse);
  const grads = k.use(BUFFERS.grads, "f32", "read_write");
  // Tap (ky, kx) of coarse position (cy, cx) reads fine position 2·c − p + k.
  const taps = [0, 1, 2].flatMap((ky) =>
    [0, 1, 2].map((kx) => {
      const [fy, fx] = [
        axisCoordinate("fy", "cy", 2, ky - g.padding, g.coarseSide, g.fineSide),
        axisCoordinate("fx", "cx", 2, kx - g.padding, g.coarseSide, g.fineSide),
      ];
      const checks = [...fy.checks, ...fx.checks];
      const sum = `let f = fine_at(row, plane + u32(fy * ${g.fineSide} + fx));` +
        blockRange.map((j) => ` acc[${j * 9 + ky * 3 + kx}] += c${j} * f;`).join("");
      return `{
        let fy = ${fy.value};
        let fx = ${fx.value};
        ${checks.length > 0 ? `if (${checks.join(" && ")}) { ${sum} }` : sum}
      }`;
    })
  );
  // One coarse channel of the block at a time: its nine sums through workgroup memory, then to grads.
  const reductions = blockRange.map((j) => `
  ${
    Array.from(
      { length: 9 },
      (_, t) => `partial[${t * REDUCE_WORKGROUP}u + li] = acc[${j * 9 + t}];`,
    ).join("\n  ")
  }
  workgroupBarrier();
  for (var stride = ${lanes >> 1}u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      for (var t = 0u; t < 9u; t++) {
        partial[t * ${REDUCE_WORKGROUP}u + li] += partial[t * ${REDUCE_WORKGROUP}u + li + stride];
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u) {
    if (job < ${pairJobs}u) {
      let weight = ((cc + ${j}u) * ${g.fineChannels}u + fc) * 9u;
      for (var t = 0u; t < 9u; t++) {
        ${grads}[m * PARAMS + ${spec.weightOffset}u + weight + t] = partial[t * ${REDUCE_WORKGROUP}u + li];
      }
    }${
    j === 0
      ? ` else if (job < ${pairJobs + biasChannels}u) {
      ${grads}[m * PARAMS + ${spec.biasOffset}u + job - ${pairJobs}u] = partial[li];
    }`
      : ""
  }
  }
  workgroupBarrier();`).join("\n");
  const main = `
var<workgroup> partial: array<f32, ${9 * REDUCE_WORKGROUP}>;

@compute @workgroup_size(${REDUCE_WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let m = wg.z;
  let job = wg.x * ${jobsPerGroup}u + li / ${lanes}u;
  let lane = li % ${lanes}u;
  let cc = job / ${g.fineChannels}u * ${block}u;
  let fc = job % ${g.fineChannels}u;
  var acc: array<f32, ${9 * block}>;
  if (job < ${pairJobs}u) {
    let plane = fc * ${g.fineSide * g.fineSide}u;
    for (var n = lane; n < BATCH * ${coarseArea}u; n += ${lanes}u) {
      let b = n / ${coarseArea}u;
      let s = n % ${coarseArea}u;
      let coarse = coarse_row(m, b);
      ${
    blockRange.map((j) => `let c${j} = coarse_at(coarse, (cc + ${j}u) * ${coarseArea}u + s);`).join(
      "\n      ",
    )
  }
      if (${blockRange.map((j) => `c${j} == 0.0`).join(" && ")}) { continue; }
      let cy = i32(s / ${g.coarseSide}u);
      let cx = i32(s % ${g.coarseSide}u);
      let row = fine_row(m, b);
      ${taps.join("\n      ")}
    }
  } else if (job < ${pairJobs + biasChannels}u) {
    let channel = job - ${pairJobs}u;
    for (var n = lane; n < BATCH * ${biasArea}u; n += ${lanes}u) {
      let b = n / ${biasArea}u;
      acc[0] += ${spec.biasFrom}_at(${spec.biasFrom}_row(m, b), channel * ${biasArea}u + n % ${biasArea}u);
    }
  }
  ${reductions}
}`;
  return k.build(dims, {
    label: spec.label,
    grid: [groups(block), 1, dims.models],
    workgroupSize: REDUCE_WORKGROUP,
    workgroupBytes: 9 * REDUCE_WORKGROUP * 4,
    main,
  });
}

/**
 * A tap's input coordinate `name` on one axis, `stride · q + offset` for position `q` < `count`, with
 * only the checks it can fail of lying in a map of side `side`.
 */
function axisCoordinate(
  name: string,
  q: string,
  stride: number,
  offset: number,
  count: number,
  side: number,
): { value: string; checks: string[] } {
  return {
    value: `${stride} * ${q} + ${offset}`,
    checks: [
      ...(offset < 0 ? [`${name} >= 0`] : []),
      ...(stride * (count - 1) + offset >= side ? [`${name} < ${side}`] : []),
    ],
  };
}
