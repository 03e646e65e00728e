/**
 * The fused engine's WebGPU device: asks for an adapter (through the shared {@link requestAdapter}),
 * checks up front that the adapter's limits allow what the engine needs and requests exactly those, and
 * turns every way the GPU can fail — no adapter, a limit too small, a lost device, an uncaptured error —
 * into a clear `Error` instead of a hang or a silently wrong answer.
 *
 * @module
 */
import { requestAdapter } from "./adapter.ts";

/** The device limits the engine raises above WebGPU's defaults when it needs to. */
export type EngineLimit =
  | "maxStorageBufferBindingSize"
  | "maxBufferSize"
  | "maxComputeWorkgroupsPerDimension"
  | "maxComputeWorkgroupStorageSize"
  | "maxComputeInvocationsPerWorkgroup"
  | "maxComputeWorkgroupSizeX"
  | "maxStorageBuffersPerShaderStage";

/** WebGPU's default values of {@link EngineLimit}, which every adapter offers. */
const DEFAULT_LIMITS: Record<EngineLimit, number> = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxStorageBuffersPerShaderStage: 8,
};

/** How long a failed read waits for the device's loss to be reported, in milliseconds. */
const LOSS_GRACE_MS = 1000;

/** The feature that times kernels on the GPU; requested wherever the adapter has it. */
export const TIMESTAMPS: GPUFeatureName = "timestamp-query";

/**
 * What the device cannot hold: a limit the engine's population or data exceeds, or GPU memory running
 * out. A caller that chose the engine itself can train on tfjs instead.
 */
export class DeviceLimitError extends Error {
  override name = "DeviceLimitError";
}

/** One thing the engine needs of the device: a limit, the value needed and why. */
export interface DeviceNeed {
  limit: EngineLimit;
  value: number;
  /** What needs it, for the error message, e.g. `the activations of encoder_cnn.0 (30 models × 256)`. */
  reason: string;
}

/**
 * A WebGPU device held by the engine, with the adapter's name, and a watch on its health: once the device
 * is lost or reports an error, {@link GpuContext.check} and every read throw.
 *
 * @example
 * ```ts ignore
 * const context = await GpuContext.create([], "a test");
 * const bytes = await context.read(buffer, 0, 16);
 * ```
 */
export class GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter's description, e.g. `NVIDIA H100 80GB HBM3`. */
  readonly adapterName: string;
  #failure: Error | undefined;
  #destroyed = false;
  #lost: Promise<never>;

  private constructor(device: GPUDevice, adapterName: string) {
    this.device = device;
    this.adapterName = adapterName;
    this.#lost = device.lost.then((info) => {
      if (!this.#destroyed) {
        this.#failure = new Error(
          `the GPU device of the fused engine was lost (${info.reason}): ${info.message}`,
        );
      }
      throw this.#failure;
    });
    this.#lost.catch(() => {}); // Reported through check() and read(), not as an unhandled rejection.
    device.addEventListener("uncapturederror", (event) => {
      this.#failure ??= new Error(
        `WebGPU error in the fused engine: ${(event as GPUUncapturedErrorEvent).error.message}`,
      );
    });
  }

  /**
   * Gets an adapter and a device with the limits `needs` asks for; `purpose` names the user in messages.
   * Throws when WebGPU or an adapter cannot be had, or when a need exceeds the adapter's limit.
   */
  static async create(needs: readonly DeviceNeed[], purpose: string): Promise<GpuContext> {
    const gpu = await requestAdapter();
    if (!gpu) {
      throw new Error(
        `${purpose}: no WebGPU adapter could be had (navigator.gpu is missing or offered none); ` +
          "on Linux without a GPU, Mesa's llvmpipe or lavapipe (DENO_WEBGPU_BACKEND=vulkan) provide one",
      );
    }
    // Buffer sizes: the adapter's most, so that datasets uploaded later fit wherever the adapter allows.
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: gpu.adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: gpu.adapter.limits.maxBufferSize,
    };
    for (const need of needs) {
      const allowed = gpu.adapter.limits[need.limit];
      if (need.value > allowed) {
        throw new DeviceLimitError(
          `${purpose} needs ${need.limit} ≥ ${need.value} for ${need.reason}, but the adapter ` +
            `${gpu.name} allows at most ${allowed}; use fewer models or a smaller batch`,
        );
      }
      if (need.value > (requiredLimits[need.limit] ?? DEFAULT_LIMITS[need.limit])) {
        requiredLimits[need.limit] = need.value;
      }
    }
    // Timestamp queries where the adapter has them, for timing kernels (`timeDispatches`).
    const requiredFeatures = [TIMESTAMPS].filter((feature) => gpu.adapter.features.has(feature));
    const device = await gpu.adapter.requestDevice({
      label: purpose,
      requiredLimits,
      requiredFeatures,
    });
    return new GpuContext(device, gpu.name);
  }

  /** Throws the reason if the device was lost or reported an error. */
  check(): void {
    if (this.#failure) throw this.#failure;
  }

  /**
   * Creates a buffer of `size` bytes for storage and copies, zero-filled; running out of memory throws.
   */
  async createBuffer(label: string, size: number): Promise<GPUBuffer> {
    this.device.pushErrorScope("out-of-memory");
    const buffer = this.device.createBuffer({
      label,
      size: Math.max(4, size),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const error = await this.device.popErrorScope();
    if (error) {
      throw new DeviceLimitError(
        `out of GPU memory for ${label} (${size} bytes): ${error.message}`,
      );
    }
    return buffer;
  }

  /**
   * Copies `size` bytes of `buffer` from `offset` back to the CPU, after all work submitted so far. Rejects
   * (instead of waiting forever) if the device is lost meanwhile, and if any error was reported.
   */
  async read(buffer: GPUBuffer, offset: number, size: number): Promise<ArrayBuffer> {
    this.check();
    const staging = this.device.createBuffer({
      label: `read ${buffer.label}`,
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.device.queue.submit([encoder.finish()]);
      try {
        await Promise.race([staging.mapAsync(GPUMapMode.READ), this.#lost]);
      } catch (error) {
        // A read fails first when the device is being lost; give the loss a moment to be reported.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          this.#lost.catch(() => {}),
          new Promise((resolve) => timer = setTimeout(resolve, LOSS_GRACE_MS)),
        ]);
        clearTimeout(timer);
        throw this.#failure ?? error;
      }
      this.check();
      return staging.getMappedRange().slice(0);
    } finally {
      staging.destroy();
    }
  }

  /** Releases the device; later use throws. */
  destroy(): void {
    this.#destroyed = true;
    this.#failure = new Error("the fused engine was destroyed");
    this.device.destroy();
  }
}
