/**
 * WGSL pieces the layer kernels share: where a kernel reads a sample (a named activation buffer, uint8
 * images gathered through the sample order), what it does to a result before storing it
 * (bias and activation going forward, the activation's derivative going back), and dropout's counter-based
 * RNG. Each adds its helpers and bindings to a {@link KernelBuilder}.
 *
 * Activation buffers hold `[models][batch][row]` floats; images hold bytes packed four to a `u32`, image
 * after image; the sample order holds, for each model, the `rows` sample indices of the current pass.
 *
 * @module
 */
import type { KernelBuilder } from "../kernel.ts";
import type { Activation } from "../layout.ts";
import { IMAGE_PIXELS } from "../../data/geometry.ts";

/** Buffer names the engine's kernels bind besides the activations and gradients of the layers. */
export const BUFFERS = {
  /** The flat parameters of all models, model after model. */
  params: "params",
  /** Their gradients, same layout. */
  grads: "grads",
  /** Adam's first and second moments, same layout. */
  moment1: "moment1",
  moment2: "moment2",
  /** One `Model` struct per model: learning rate, L2, dropout, seed, latent size. */
  models: "models",
  /** The `State` struct: steps taken, batch within the pass, order length, training flag. */
  state: "state",
  /** The input images of a dataset (uint8, packed). */
  images: "images",
  /** The target images of a dataset (the inputs themselves unless denoising). */
  targets: "targets",
  /** Per model, the sample indices of the current pass over a dataset. */
  order: "order",
  /** Per model and row of the batch, the row's mean squared error. */
  rowLoss: "rowLoss",
  /** Per model, the sum of the row losses of the current pass. */
  lossSum: "lossSum",
  /**
   * The partial sums of the weight- and bias-gradient reductions: each layer's {@link PartialSlot},
   * summed into {@link BUFFERS.grads} at the end of the backward pass.
   */
  partials: "partials",
} as const;

/** Where a kernel reads each sample's values. */
export type Source =
  /** An activation buffer `[models][batch][size]`. */
  | { kind: "buffer"; name: string; size: number }
  /** A dataset's uint8 images (`images` or `targets`), each model's row `b` gathered through the order. */
  | { kind: "bytes"; name: string };

/** The activation buffer of a layer's output. */
export function activationBuffer(layerName: string): string {
  return `${layerName}.out`;
}

/** The buffer of the loss gradient with respect to a layer's pre-activation output. */
export function gradientBuffer(layerName: string): string {
  return `${layerName}.grad`;
}

/**
 * Where a layer's gradient reduction keeps its partial sums in {@link BUFFERS.partials}: a region of
 * `[models][slices][outputs]` floats from `offset`, one sum per slice of the reduced terms for each of the
 * layer's `outputs` gradient values — its weight's, then its bias's, in the order of the parameters.
 */
export interface PartialSlot {
  /** Index of the region's first float in the buffer. */
  offset: number;
  /** Slices the reduced terms are split into, each summed by workgroups of its own. */
  slices: number;
  /** Gradient values of the layer: its weight's and its bias's elements. */
  outputs: number;
}

/**
 * Adds `store_partial(m, slice, o, value)`, which stores model `m`'s sum over `slice` of gradient value
 * `o` of the layer (its weight's elements, then its bias's) in the layer's `slot`.
 */
export function partialWriter(k: KernelBuilder, slot: PartialSlot): void {
  const partials = k.use(BUFFERS.partials, "f32", "read_write");
  k.helper(
    "store_partial",
    `fn store_partial(m: u32, slice: u32, o: u32, value: f32) {
  ${partials}[${slot.offset}u + (m * ${slot.slices}u + slice) * ${slot.outputs}u + o] = value;
}`,
  );
}

/** The state buffer's WGSL name, declared read-only. */
function useState(k: KernelBuilder): string {
  return k.use(BUFFERS.state, "State");
}

/** Adds `valid_rows()`: the rows of the current batch that hold samples (fewer in a pass's last batch). */
export function validRows(k: KernelBuilder): void {
  const state = useState(k);
  k.helper(
    "valid_rows",
    `fn valid_rows() -> u32 {
  let start = ${state}[0].batch * BATCH;
  if (${state}[0].rows <= start) { return 0u; }
  return min(BATCH, ${state}[0].rows - start);
}`,
  );
}

/**
 * Adds `NAME_row(m, b) -> u32` and `NAME_at(row, i) -> f32` reading element `i` of model `m`'s sample in
 * batch row `b` from `source`; a row past the batch's valid rows reads as zeros.
 */
export function sourceReader(k: KernelBuilder, prefix: string, source: Source): void {
  if (source.kind === "buffer") {
    const buffer = k.use(source.name, "f32");
    k.helper(
      prefix,
      `fn ${prefix}_row(m: u32, b: u32) -> u32 { return (m * BATCH + b) * ${source.size}u; }
fn ${prefix}_at(row: u32, i: u32) -> f32 { return ${buffer}[row + i]; }`,
    );
  } else {
    validRows(k);
    const state = useState(k);
    const order = k.use(BUFFERS.order, "u32");
    const bytes = k.use(source.name, "u32");
    k.helper("no_row", "const NO_ROW = 0xffffffffu;");
    k.helper(
      prefix,
      `fn ${prefix}_row(m: u32, b: u32) -> u32 {
  if (b >= valid_rows()) { return NO_ROW; }
  return ${order}[m * ${state}[0].rows + ${state}[0].batch * BATCH + b] * ${IMAGE_PIXELS}u;
}
fn ${prefix}_at(row: u32, i: u32) -> f32 {
  if (row == NO_ROW) { return 0.0; }
  let p = row + i;
  return f32((${bytes}[p >> 2u] >> ((p & 3u) * 8u)) & 255u) / 255.0;
}`,
    );
  }
}

/**
 * Adds dropout's RNG: `dropout_keep(m, layer, b, unit, units)` decides from a PCG hash of (model seed,
 * step, layer, row, unit) — reproducible for a seed, independent of dispatch order — whether a unit is
 * kept (with probability 1 − p, always outside training); `dropout_scale(m)` is 1/(1 − p) in training.
 */
function dropoutRng(k: KernelBuilder): void {
  const state = useState(k);
  const models = k.use(BUFFERS.models, "Model");
  k.helper(
    "dropout",
    `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let word = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (word >> 22u) ^ word;
}
fn dropout_keep(m: u32, layer: u32, b: u32, unit: u32, units: u32) -> bool {
  let p = ${models}[m].dropout;
  if (${state}[0].training == 0u || p <= 0.0) { return true; }
  let h = pcg(((layer * BATCH + b) * units + unit) ^ pcg(${state}[0].step ^ pcg(${models}[m].seed)));
  return f32(h >> 8u) * (1.0 / 16777216.0) >= p;
}
fn dropout_scale(m: u32) -> f32 {
  if (${state}[0].training == 0u) { return 1.0; }
  return 1.0 / (1.0 - ${models}[m].dropout);
}`,
  );
}

/**
 * What a kernel does to each result `acc` before storing it. Going `forward`, it adds the bias and
 * applies the layer's activation (dropout and the latent mask included). Going `backward`, `acc` is the
 * gradient with respect to a layer's input, which is the activation `input` of the layer before; the
 * epilogue turns it into the gradient with respect to that layer's pre-activation.
 */
export type Epilogue =
  | {
    kind: "forward";
    activation: Activation;
    /** Offset of the bias in a model's parameters. */
    biasOffset: number;
    /** Elements per sample of the output (the dropout RNG's units per row). */
    rowSize: number;
    /** The layer's dropout index, for the RNG. */
    dropoutIndex: number;
  }
  | {
    kind: "backward";
    /** The activation of the layer whose output is being differentiated. */
    activation: Activation;
    /** That layer's activation buffer (its stored output). */
    input: string;
    rowSize: number;
  };

/** Adds `epilogue(m, b, channel, element, acc) -> f32` for the element at `element` of a row. */
export function epilogueFunction(k: KernelBuilder, epilogue: Epilogue): void {
  const signature = "fn epilogue(m: u32, b: u32, channel: u32, element: u32, acc: f32) -> f32";
  const models = () => k.use(BUFFERS.models, "Model");
  let body: string;
  if (epilogue.kind === "forward") {
    const params = k.use(BUFFERS.params, "f32");
    const value = `let v = acc + ${params}[m * PARAMS + ${epilogue.biasOffset}u + channel];`;
    switch (epilogue.activation) {
      case "relu":
        body = `${value} return max(v, 0.0);`;
        break;
      case "reluDropout":
        dropoutRng(k);
        body = `${value}
  if (!dropout_keep(m, ${epilogue.dropoutIndex}u, b, element, ${epilogue.rowSize}u)) { return 0.0; }
  return max(v, 0.0) * dropout_scale(m);`;
        break;
      case "code":
        body = `${value} return select(0.0, v, channel < ${models()}[m].hidden);`;
        break;
      case "sigmoid":
        body = `${value} return 1.0 / (1.0 + exp(-v));`;
        break;
      case "linear":
        body = `${value} return v;`;
        break;
    }
  } else {
    const stored = () =>
      `let a = ${k.use(epilogue.input, "f32")}[(m * BATCH + b) * ${epilogue.rowSize}u + element];`;
    switch (epilogue.activation) {
      case "relu":
        body = `${stored()} return select(0.0, acc, a > 0.0);`;
        break;
      case "reluDropout":
        dropoutRng(k);
        body = `${stored()} return select(0.0, acc * dropout_scale(m), a > 0.0);`;
        break;
      case "code":
        body = `return select(0.0, acc, channel < ${models()}[m].hidden);`;
        break;
      case "linear":
        body = "return acc;";
        break;
      case "sigmoid":
        throw new Error("the sigmoid's derivative belongs to the loss kernel");
    }
  }
  k.helper("epilogue", `${signature} {\n  ${body}\n}`);
}
