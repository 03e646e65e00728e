/**
 * Where every WebGPU user of aelab — tfjs's webgpu backend and the fused engine — gets its adapter, so
 * that all share one notion of "hardware": a software rasteriser (Mesa's llvmpipe or lavapipe,
 * SwiftShader, WARP) is told apart from a GPU.
 *
 * @module
 */

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
 * import { requestAdapter } from "./adapter.ts";
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
