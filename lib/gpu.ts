/**
 * The front door to the compute backends: chooses and sets up the tfjs backend once — `webgpu` on a
 * hardware adapter from Deno's `navigator.gpu`, else `wasm` (with the convolution gradients it lacks, see
 * `_wasm_kernels.ts`), else `cpu` — and says which adapter it runs on. {@link requestAdapter} is where any
 * other WebGPU user (the fused engine) gets its adapter too, so that all share one notion of "hardware".
 *
 * With webgpu, read tensors with `data()`/`array()`: the synchronous reads need a canvas Deno lacks.
 *
 * @module
 */
import { tf, tfWasm, WebGPUBackend } from "./deps.ts";
import { registerWasmKernels } from "./_wasm_kernels.ts";

/** A backend to ask {@link setupBackend} for; `auto` takes the fastest one that works here. */
export type BackendChoice = "auto" | "webgpu" | "wasm" | "cpu";

/** The backends {@link setupBackend} accepts, for flag validation and help texts. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "wasm", "cpu"];

/** The backend that {@link setupBackend} set up and what it runs on. */
export interface BackendSetup {
  /** tfjs's name of the backend: `webgpu`, `wasm` or `cpu`. */
  backend: string;
  /** The adapter's name (webgpu), or what runs the kernels (wasm, cpu). */
  adapter: string;
}

/** A WebGPU adapter with its human-readable name and whether it is a software rasteriser. */
export interface GpuAdapter {
  adapter: GPUAdapter;
  /** The adapter's description, e.g. `NVIDIA H100 80GB HBM3` or `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  name: string;
  /** True for a CPU implementation (Mesa llvmpipe/lavapipe, SwiftShader, WARP): slow for training. */
  software: boolean;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|warp|software|cpu/i;

/**
 * Asks `navigator.gpu` for a high-performance adapter. Returns `null` where the runtime offers no WebGPU
 * or no adapter.
 *
 * @example
 * ```ts
 * import { requestAdapter } from "./gpu.ts";
 * const gpu = await requestAdapter();
 * console.log(gpu ? `${gpu.name}${gpu.software ? " (software)" : ""}` : "no WebGPU");
 * ```
 */
export async function requestAdapter(): Promise<GpuAdapter | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  // Mesa's GL/EGL drivers print an error per adapter request when XDG_RUNTIME_DIR is unset (a bare CI
  // machine, a container); they only need it to exist.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) {
    Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("TMPDIR") ?? "/tmp");
  }
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return null;
  const info = adapter.info;
  const name = info.description || [info.vendor, info.architecture, info.device]
    .filter(Boolean).join(" ") ||
    "unknown adapter";
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const software = fallback === true ||
    SOFTWARE_ADAPTER.test(`${info.description} ${info.device} ${info.architecture}`);
  return { adapter, name, software };
}

let current: { choice: BackendChoice; setup: BackendSetup } | undefined;

/**
 * Sets up the tfjs backend `choice` and makes it current; `auto` takes webgpu on a hardware adapter, else
 * wasm, else cpu (a software GPU adapter trains slower than wasm, so auto passes it over). A forced choice
 * that cannot be had is an error. Prints one line to standard error naming the backend and adapter (unless
 * `quiet`). Calling it again with the same choice returns the backend already set up.
 *
 * @example
 * ```ts
 * import { setupBackend } from "./gpu.ts";
 * const { backend, adapter } = await setupBackend("wasm");
 * console.log(backend, adapter); // wasm WebAssembly SIMD, 1 thread
 * ```
 */
export async function setupBackend(
  choice: BackendChoice = "auto",
  options: { quiet?: boolean } = {},
): Promise<BackendSetup> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown backend "${choice}": choose one of ${BACKEND_CHOICES.join(", ")}`);
  }
  if (current?.choice === choice && tf.getBackend() === current.setup.backend) return current.setup;
  const { setup, note } = await pickBackend(choice);
  current = { choice, setup };
  if (!options.quiet) {
    console.error(`backend: ${setup.backend} on ${setup.adapter}${note ? ` (${note})` : ""}`);
  }
  return setup;
}

async function pickBackend(choice: BackendChoice): Promise<{ setup: BackendSetup; note?: string }> {
  let note: string | undefined;
  if (choice === "webgpu" || choice === "auto") {
    const gpu = await requestAdapter();
    if (gpu && (!gpu.software || choice === "webgpu")) {
      await useWebGpu(gpu);
      return { setup: { backend: "webgpu", adapter: gpu.name } };
    }
    note = gpu ? `passed over the software adapter ${gpu.name}` : "no WebGPU adapter";
    if (choice === "webgpu") throw new Error(`backend webgpu unavailable: ${note}`);
  }
  if (choice === "wasm" || choice === "auto") {
    try {
      await activate("wasm");
      registerWasmKernels();
      const threads = tfWasm.getThreadsCount();
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const adapter = `WebAssembly${simd ? " SIMD" : ""}, ${threads} thread${
        threads === 1 ? "" : "s"
      }`;
      return { setup: { backend: "wasm", adapter }, note };
    } catch (error) {
      if (choice === "wasm") throw error;
      note = `wasm failed: ${(error as Error).message}`;
    }
  }
  await activate("cpu");
  // tfjs greets its first cpu tensor under Node.js (Deno's npm layer passes for it) with a banner
  // recommending tfjs-node; the backend's choice has already been printed.
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  return { setup: { backend: "cpu", adapter: "JavaScript" }, note };
}

async function useWebGpu({ adapter }: GpuAdapter): Promise<void> {
  // The same device tfjs-backend-webgpu would ask for, but on the adapter chosen here.
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: (["timestamp-query"] as GPUFeatureName[]).filter((f) =>
      adapter.features.has(f)
    ),
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device, adapter.info), 3);
  await activate("webgpu");
}

/** Makes `name` the current backend, or throws (tfjs itself only returns false and logs). */
async function activate(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

/** What trains the models: tfjs on its backend, or aelab's fused WebGPU engine (`lib/gpu/`). */
export type Engine = "tfjs" | "fused";

/** An engine to ask {@link resolveEngine} for; `auto` takes the faster one here. */
export type EngineChoice = "auto" | Engine;

/** The engines scripts accept, for flag validation and help texts. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ["auto", "fused", "tfjs"];

/**
 * The engine to train with: `auto` takes `fused` on a hardware WebGPU adapter and `tfjs` elsewhere. On a
 * CPU, tfjs's wasm backend beats the fused engine on a software adapter (6× in the benchmark); on a GPU,
 * tfjs-webgpu spends a step on per-op overhead (about 2,500 samples/s on an H100) while the fused engine
 * records a step as one command buffer, and already beats tfjs-webgpu 3.6× on a software adapter.
 * `fused` without any adapter is an error. Prints one line unless `quiet`.
 *
 * @example
 * ```ts
 * import { resolveEngine } from "./gpu.ts";
 * console.log(await resolveEngine("auto", { quiet: true })); // "tfjs" on a machine without a GPU
 * ```
 */
export async function resolveEngine(
  choice: EngineChoice,
  options: { quiet?: boolean } = {},
): Promise<Engine> {
  if (!ENGINE_CHOICES.includes(choice)) {
    throw new Error(`unknown engine "${choice}": choose one of ${ENGINE_CHOICES.join(", ")}`);
  }
  if (choice === "tfjs") return "tfjs";
  const gpu = await requestAdapter();
  if (choice === "fused") {
    if (!gpu) throw new Error("engine fused unavailable: this runtime offers no WebGPU adapter");
    if (!options.quiet) {
      console.error(`engine: fused WebGPU on ${gpu.name}${gpu.software ? " (software)" : ""}`);
    }
    return "fused";
  }
  const engine = gpu && !gpu.software ? "fused" : "tfjs";
  if (!options.quiet && engine === "fused") console.error(`engine: fused WebGPU on ${gpu!.name}`);
  return engine;
}
