/**
 * A compute kernel as data — its WGSL, the named storage buffers it binds and the workgroups it dispatches —
 * and the one place that turns kernels into pipelines, bind groups and dispatches. Kernels name the buffers
 * they read and write; whoever owns the buffers binds them by those names, once.
 *
 * Every kernel's WGSL starts with the same header: the population's sizes as constants, the two structs
 * the engine shares with the host ({@link STATE_WORDS}, {@link MODEL_WORDS}) and the binding declarations.
 *
 * @module
 */

/** Sizes that every kernel of a population bakes in. */
export interface Dims {
  /** Models trained side by side. */
  models: number;
  /** Samples per batch (the last batch of an epoch may hold fewer). */
  batch: number;
  /** Parameters of one model at the population's largest latent size. */
  params: number;
}

/** WGSL element type of a bound buffer. */
export type ElementType = "f32" | "u32" | "State" | "Model";

/** One storage buffer a kernel binds, by name. */
export interface Binding {
  name: string;
  type: ElementType;
  access: "read" | "read_write";
}

/** A compute kernel: WGSL with a `main` entry point, the buffers it binds and its dispatch grid. */
export interface Kernel {
  /** A short name for errors and debugging, e.g. `forward encoder_cnn.0`. */
  label: string;
  /** Bound buffers, in binding order (group 0). */
  bindings: Binding[];
  /** Complete WGSL source. */
  code: string;
  /** Workgroups to dispatch along x, y and z. */
  grid: [number, number, number];
  /** Invocations per workgroup. */
  workgroupSize: number;
  /** Bytes of workgroup memory the kernel declares. */
  workgroupBytes: number;
}

/** 32-bit words of the `State` struct: step, batch, rows, training. */
export const STATE_WORDS = 4;
/** 32-bit words of the `Model` struct: lr, l2, dropout, seed, hidden and padding. */
export const MODEL_WORDS = 8;

/** The WGSL name of a buffer (buffer names may hold dots, e.g. `encoder_cnn.0.out`). */
function wgslName(name: string): string {
  return `buf_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
}

/**
 * A kernel's WGSL header: the population's sizes, the shared structs and the binding declarations.
 *
 * `State` holds the step count so far (Adam's t − 1, and the dropout RNG's step), the batch within the
 * current pass over the data, the length of each model's sample order (`rows`) and whether dropout is on.
 */
function wgslHeader(dims: Dims, bindings: readonly Binding[]): string {
  const declarations = bindings.map((binding, i) => {
    const access = binding.access === "read" ? "read" : "read_write";
    return `@group(0) @binding(${i}) var<storage, ${access}> ${
      wgslName(binding.name)
    }: array<${binding.type}>;`;
  });
  return `
const MODELS = ${dims.models}u;
const BATCH = ${dims.batch}u;
const PARAMS = ${dims.params}u;
struct State { step: u32, batch: u32, rows: u32, training: u32 }
struct Model {
  lr: f32, l2: f32, dropout: f32, seed: u32,
  hidden: u32, pad0: u32, pad1: u32, pad2: u32,
}
${declarations.join("\n")}
`;
}

/**
 * Builds one kernel: collects the buffers its WGSL uses (in first-use order, so that the declared bindings
 * are exactly the used ones) and the helper functions it needs (each once), then assembles the source.
 */
export class KernelBuilder {
  /** The bindings collected so far. */
  readonly bindings: Binding[] = [];
  #helpers = new Map<string, string>();

  /** Declares `name` (read-only unless `access` says otherwise) and returns its WGSL name. */
  use(name: string, type: ElementType, access: Binding["access"] = "read"): string {
    const existing = this.bindings.find((binding) => binding.name === name);
    if (!existing) this.bindings.push({ name, type, access });
    else if (existing.type !== type || existing.access !== access) {
      throw new Error(`buffer ${name} bound twice with different types or access`);
    }
    return wgslName(name);
  }

  /** Adds the WGSL helper `code` under `key`, unless one with that key was added already. */
  helper(key: string, code: string): void {
    if (!this.#helpers.has(key)) this.#helpers.set(key, code);
  }

  /** The kernel whose entry point is `main`, a WGSL `@compute fn main` using what was declared. */
  build(
    dims: Dims,
    kernel: Omit<Kernel, "bindings" | "code" | "workgroupBytes"> & {
      main: string;
      workgroupBytes?: number;
    },
  ): Kernel {
    return {
      label: kernel.label,
      bindings: this.bindings,
      grid: kernel.grid,
      workgroupSize: kernel.workgroupSize,
      workgroupBytes: kernel.workgroupBytes ?? 0,
      code: [wgslHeader(dims, this.bindings), ...this.#helpers.values(), kernel.main].join("\n"),
    };
  }
}

/** Workgroups along x and y for `count` invocations in groups of `size` (x at most 65,535). */
export function flatGrid(count: number, size: number): [number, number] {
  const groups = Math.max(1, Math.ceil(count / size));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/** WGSL expression of the flat invocation index within a {@link flatGrid} dispatch. */
export function flatIndex(size: number): string {
  return `(wg.y * nwg.x + wg.x) * ${size}u + li`;
}

/** WGSL builtin parameters for `main` that {@link flatIndex} and most kernels use. */
export const MAIN_PARAMETERS =
  "@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, " +
  "@builtin(local_invocation_index) li: u32";

/** A kernel ready to encode: its pipeline, its bind group and its grid. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  grid: [number, number, number];
}

/**
 * Turns kernels into pipelines once (identical WGSL shares one pipeline) and binds them to named buffers.
 *
 * @example
 * ```ts ignore
 * const compiler = new KernelCompiler(device);
 * await compiler.compile(kernels);
 * const dispatches = await compiler.bind(kernels, buffers);
 * const encoder = device.createCommandEncoder();
 * encodeDispatches(encoder, dispatches);
 * device.queue.submit([encoder.finish()]);
 * ```
 */
export class KernelCompiler {
  #device: GPUDevice;
  #pipelines = new Map<string, Promise<Compiled>>();

  /** A compiler for `device`. */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** Creates the pipelines of `kernels` not yet created; a WGSL or layout error names the kernel. */
  async compile(kernels: readonly Kernel[]): Promise<void> {
    for (const kernel of kernels) {
      if (!this.#pipelines.has(kernel.code)) {
        this.#pipelines.set(kernel.code, this.#create(kernel));
      }
    }
    await Promise.all(kernels.map((kernel) => this.#pipelines.get(kernel.code)));
  }

  /** Binds compiled `kernels` to `buffers` by name; a missing buffer or an invalid binding throws. */
  async bind(
    kernels: readonly Kernel[],
    buffers: ReadonlyMap<string, GPUBuffer>,
  ): Promise<Dispatch[]> {
    const compiled = await Promise.all(kernels.map((kernel) => {
      const pipeline = this.#pipelines.get(kernel.code);
      if (!pipeline) throw new Error(`kernel "${kernel.label}" was not compiled`);
      return pipeline;
    }));
    const entries = kernels.map((kernel) =>
      kernel.bindings.map((binding, i) => {
        const buffer = buffers.get(binding.name);
        if (!buffer) throw new Error(`kernel "${kernel.label}" needs buffer ${binding.name}`);
        return { binding: i, resource: { buffer } };
      })
    );
    this.#device.pushErrorScope("validation");
    const dispatches = kernels.map((kernel, k) => ({
      label: kernel.label,
      pipeline: compiled[k].pipeline,
      grid: kernel.grid,
      bindGroup: this.#device.createBindGroup({
        label: kernel.label,
        layout: compiled[k].layout,
        entries: entries[k],
      }),
    }));
    const error = await this.#device.popErrorScope();
    if (error) throw new Error(`binding kernels failed: ${error.message}`);
    return dispatches;
  }

  async #create(kernel: Kernel): Promise<Compiled> {
    const module = this.#device.createShaderModule({ label: kernel.label, code: kernel.code });
    const layout = this.#device.createBindGroupLayout({
      label: kernel.label,
      entries: kernel.bindings.map((binding, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: binding.access === "read" ? "read-only-storage" : "storage" },
      })),
    });
    try {
      const pipeline = await this.#device.createComputePipelineAsync({
        label: kernel.label,
        layout: this.#device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: "main" },
      });
      return { pipeline, layout };
    } catch (error) {
      const info = await module.getCompilationInfo();
      const messages = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
      throw new Error(
        `kernel "${kernel.label}" failed to compile: ${(error as Error).message}` +
          (messages.length ? `\n${messages.join("\n")}` : ""),
      );
    }
  }
}

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Records `dispatches` in order into one compute pass of `encoder`. */
export function encodeDispatches(
  encoder: GPUCommandEncoder,
  dispatches: readonly Dispatch[],
): void {
  const pass = encoder.beginComputePass();
  for (const dispatch of dispatches) recordDispatch(pass, dispatch);
  pass.end();
}

/** Records one dispatch into `pass`. */
export function recordDispatch(pass: GPUComputePassEncoder, dispatch: Dispatch): void {
  pass.setPipeline(dispatch.pipeline);
  pass.setBindGroup(0, dispatch.bindGroup);
  pass.dispatchWorkgroups(...dispatch.grid);
}
