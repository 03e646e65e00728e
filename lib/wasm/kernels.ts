/**
 * The WebAssembly engine's kernels as this runtime can run them: the relaxed-SIMD build (`kernels.wasm`,
 * fused multiply-adds) where the runtime validates it, else the plain 128-bit SIMD build
 * (`kernels_plain.wasm`), else none — then {@link loadKernels} says why in one line. Each population
 * instantiates the compiled module once, on a memory of its own.
 *
 * @module
 */

/**
 * The kernels' exports: byte offsets into the instance's memory, and sizes (see the comments of
 * `assembly/kernels.ts` for what each computes and the layout of the maps).
 */
export interface KernelExports {
  gather(
    input: number,
    inChannels: number,
    inStride: number,
    output: number,
    outChannels: number,
    outStride: number,
    outArea: number,
    weights: number,
    wOut: number,
    wIn: number,
    bias: number,
    taps: number,
    rowBytes: number,
    lanes: number,
    mode: number,
    aux: number,
    scale: number,
  ): void;
  convWeightGradient(
    fine: number,
    fineChannels: number,
    fineStride: number,
    coarse: number,
    coarseChannels: number,
    coarseStride: number,
    coarseArea: number,
    taps: number,
    grads: number,
    rowBytes: number,
    lanes: number,
  ): void;
  channelSums(
    map: number,
    channels: number,
    stride: number,
    area: number,
    rowBytes: number,
    lanes: number,
    sums: number,
  ): void;
  linearForward(
    input: number,
    inFeatures: number,
    weights: number,
    bias: number,
    output: number,
    outFeatures: number,
    rowBytes: number,
    lanes: number,
    mode: number,
    aux: number,
  ): void;
  linearInputGradient(
    gradOut: number,
    outFeatures: number,
    weights: number,
    gradIn: number,
    inFeatures: number,
    rowBytes: number,
    lanes: number,
    mode: number,
    aux: number,
    scale: number,
  ): void;
  linearWeightGradient(
    gradOut: number,
    outFeatures: number,
    input: number,
    inFeatures: number,
    grads: number,
    biasGrads: number,
    rowBytes: number,
    lanes: number,
  ): void;
  squaredError(
    output: number,
    target: number,
    grad: number,
    area: number,
    rowBytes: number,
    lanes: number,
    rows: number,
    meanRows: number,
  ): number;
  adam(
    weights: number,
    grads: number,
    first: number,
    second: number,
    count: number,
    l2: number,
    stepSize: number,
    correction: number,
  ): void;
  /** The first byte past the module's own data. */
  heapBase(): number;
}

/** What a kernel does to each result before storing it (the `mode` of the kernels that store maps). */
export const EPILOGUE = {
  none: 0,
  relu: 1,
  sigmoid: 2,
  /** Forward: ReLU times the dropout mask `aux`. */
  reluMask: 3,
  /** Backward: the ReLU's derivative (from the activation `aux`) times the dropout scale. */
  reluScale: 4,
} as const;

/** The compiled kernels this runtime runs. */
export interface Kernels {
  module: WebAssembly.Module;
  /** Whether they are the relaxed-SIMD build (fused multiply-adds). */
  relaxed: boolean;
  /** What computes, for the log: `relaxed SIMD` or `SIMD`. */
  name: string;
}

let loading: Promise<Kernels | string> | undefined;

/**
 * The kernels for this runtime, compiled once per process, or one line saying why there are none (the
 * runtime has no WebAssembly SIMD).
 *
 * @example
 * ```ts
 * import { loadKernels } from "./kernels.ts";
 * const kernels = await loadKernels();
 * console.log(typeof kernels === "string" ? kernels : kernels.name); // relaxed SIMD
 * ```
 */
export function loadKernels(): Promise<Kernels | string> {
  return loading ??= (async () => {
    for (
      const [file, relaxed] of [["kernels.wasm", true], ["kernels_plain.wasm", false]] as const
    ) {
      const response = await fetch(new URL(file, import.meta.url));
      if (!response.ok) throw new Error(`cannot read ${file}: ${response.status}`);
      const bytes = await response.arrayBuffer();
      if (!WebAssembly.validate(bytes)) continue;
      const module = await WebAssembly.compile(bytes);
      return { module, relaxed, name: relaxed ? "relaxed SIMD" : "SIMD" };
    }
    return "engine wasm unavailable: this runtime's WebAssembly has no 128-bit SIMD";
  })();
}

/** Instantiates `kernels` on `memory` (which must start past {@link KernelExports.heapBase}'s data). */
export function instantiate(kernels: Kernels, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(kernels.module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
