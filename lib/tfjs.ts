/**
 * TensorFlow.js, set up once: chooses the backend — `webgpu` on a hardware adapter from Deno's
 * `navigator.gpu` (asked for through `gpu/adapter.ts`, as the fused engine asks), else `wasm` (with the
 * kernels it lacks, see `_wasm_kernels.ts`), else `cpu` — and says which adapter it runs on.
 *
 * With webgpu, read tensors with `data()`/`array()`: the synchronous reads need a canvas Deno lacks.
 *
 * @module
 */
import { tf, tfWasm, WebGPUBackend } from "./deps.ts";
import { registerWasmKernels } from "./_wasm_kernels.ts";
import { type GpuAdapter, requestAdapter } from "./gpu/adapter.ts";

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

let current: { choice: BackendChoice; setup: BackendSetup } | undefined;

/**
 * Sets up the tfjs backend `choice` and makes it current; `auto` takes webgpu on a hardware adapter, else
 * wasm, else cpu (a software GPU adapter trains slower than wasm, so auto passes it over). A forced choice
 * that cannot be had is an error. Prints one line to standard error naming the backend and adapter (unless
 * `quiet`). Calling it again with the same choice returns the backend already set up.
 *
 * @example
 * ```ts
 * import { setupBackend } from "./tfjs.ts";
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
