/**
 * The one place the engine is chosen: `--engine auto` takes the fused WebGPU engine on a hardware GPU
 * adapter, else aelab's wasm engine where the runtime has WebAssembly SIMD under the wasm backend — as a
 * pool of workers, one per core, on more than one core (where the caller asks, a population smaller
 * than the pool data-parallel on all of them: `train`'s one model) — else the pool of tfjs workers on a
 * CPU with more than one core, tfjs in this thread otherwise, and says which and why in one line.
 * {@link createTrainer} then builds that engine's trainer for a population; nothing else asks which
 * engine it is.
 *
 * @module
 */
import { UsageError } from "../cli.ts";
import { requestAdapter } from "../gpu/adapter.ts";
import { DeviceLimitError } from "../gpu/device.ts";
import type { BackendSetup } from "../tfjs.ts";
import { fusedRefusal, FusedTrainer } from "./fused.ts";
import { TfjsTrainer } from "./tfjs.ts";
import type { Trainer, TrainingJob } from "./trainer.ts";
import { WasmTrainer } from "./wasm.ts";
import { WorkerPool } from "./workers.ts";
import { loadKernels } from "../wasm/kernels.ts";
import { WasmInference } from "../wasm/inference.ts";
import { type Inference, TFJS_INFERENCE } from "./inference.ts";

/**
 * What trains: tfjs in this thread, a pool of tfjs workers, the fused WebGPU engine, or aelab's own
 * WebAssembly kernels in this thread.
 */
export type Engine = "tfjs" | "workers" | "fused" | "wasm";

/** An engine to ask {@link chooseEngine} for; `auto` takes the fastest one here. */
export type EngineChoice = "auto" | Engine;

/** The engines scripts accept, for flag validation and help texts. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ["auto", "workers", "fused", "wasm", "tfjs"];

/** The engine chosen, with what it needs to build trainers. */
export interface EnginePlan {
  engine: Engine;
  /**
   * Threads it trains on, at most one per model: the workers of the pool (`workers`), or those of
   * aelab's wasm engine, which trains in this thread on one and as a pool of workers on more (all of
   * them, a population smaller than the pool data-parallel, where `createTrainer` is asked to).
   */
  workers: number;
  /** The tfjs backend of this thread, which the workers run too. */
  backend: BackendSetup;
  /** Whether `auto` chose it: then a population the GPU cannot hold trains on the CPU instead. */
  auto: boolean;
}

/** The tfjs backends a worker can run. */
const WORKER_BACKENDS = ["wasm", "cpu"];

/**
 * Chooses the engine for `choice` on this machine: `auto` takes `fused` on a hardware GPU adapter, else
 * `wasm` under the wasm backend where the runtime has WebAssembly SIMD (on one worker per core, or on
 * `workers`), else `workers` (one per core, or `workers` of them) where the tfjs backend runs in workers
 * (cpu) and there is more than one core or `workers` was given, else `tfjs`. `wasm` trains in this thread
 * unless `workers` (more than one) is given. A choice that cannot be had here, or `workers` given beside
 * an engine without workers, is a {@link UsageError}. Prints the choice and its reason in one line unless
 * `quiet`.
 *
 * @example
 * ```ts
 * import { chooseEngine } from "./engine.ts";
 * import { setupBackend } from "../tfjs.ts";
 * const backend = await setupBackend("wasm", { quiet: true });
 * const plan = await chooseEngine("workers", { backend, workers: 2, quiet: true });
 * console.log(plan.engine, plan.workers); // workers 2
 * ```
 */
export async function chooseEngine(
  choice: EngineChoice,
  options: { backend: BackendSetup; workers?: number; quiet?: boolean },
): Promise<EnginePlan> {
  const { backend, workers } = options;
  if (!ENGINE_CHOICES.includes(choice)) {
    throw new UsageError(`unknown engine "${choice}": choose one of ${ENGINE_CHOICES.join(", ")}`);
  }
  if (workers !== undefined && (choice === "tfjs" || choice === "fused")) {
    throw new UsageError(`--workers sizes the worker pool; it does not go with --engine ${choice}`);
  }
  const cores = navigator.hardwareConcurrency;
  const poolable = WORKER_BACKENDS.includes(backend.backend);
  const plan = (engine: Engine, reason: string, threads = workers ?? cores): EnginePlan => {
    if (!options.quiet) console.error(`engine: ${engine} — ${reason}`);
    return { engine, workers: threads, backend, auto: choice === "auto" };
  };
  const pool = (why: string) =>
    plan(
      "workers",
      `a pool of ${
        workers ?? `up to ${cores}`
      } tfjs ${backend.backend} workers, one per model at most ` +
        `(${why})`,
    );
  if (choice === "tfjs") return plan("tfjs", `tfjs ${backend.backend} in this thread`);
  const ownWasm = (name: string, threads: number, why: string) => {
    const where = threads > 1
      ? `on a pool of ${workers ?? `up to ${threads}`} workers, one per model at most`
      : "in this thread";
    return plan("wasm", `aelab's WebAssembly kernels (${name}) ${where}${why}`, threads);
  };
  if (choice === "wasm") {
    const loaded = await loadKernels();
    if (typeof loaded === "string") throw new UsageError(loaded);
    return ownWasm(loaded.name, workers ?? 1, workers === undefined ? "" : " (--workers)");
  }
  if (choice === "workers") {
    if (!poolable) {
      throw new UsageError(
        `the worker pool runs tfjs on ${WORKER_BACKENDS.join(" or ")}, not ${backend.backend}; ` +
          `use --backend wasm, or --engine tfjs for ${backend.backend} in this thread`,
      );
    }
    return pool(workers === undefined ? `one per core of ${cores}` : "--workers");
  }
  const gpu = await requestAdapter();
  if (choice === "fused") {
    if (!gpu) {
      throw new UsageError("engine fused unavailable: this runtime offers no WebGPU adapter");
    }
    return plan("fused", `fused WebGPU on ${gpu.name}${gpu.software ? " (software)" : ""}`);
  }
  if (gpu && !gpu.software) return plan("fused", `fused WebGPU on the GPU ${gpu.name}`);
  const noGpu = gpu ? `only the software adapter ${gpu.name}` : "no GPU";
  // What sizes the CPU engines: the cores, or --workers.
  const sized = workers === undefined ? cores > 1 ? `${cores} cores` : "one core" : "--workers";
  // aelab's own kernels where the wasm backend was asked for and the runtime has SIMD.
  const loaded = backend.backend === "wasm" ? await loadKernels() : "";
  if (typeof loaded !== "string") {
    return ownWasm(loaded.name, workers ?? cores, ` (${sized}, ${noGpu})`);
  }
  if (poolable && (workers !== undefined || cores > 1)) return pool(`${sized}, ${noGpu}`);
  if (!poolable) {
    return plan("tfjs", `tfjs ${backend.backend} in this thread (the ${backend.backend} backend)`);
  }
  const why = loaded ? `; ${loaded}` : "";
  return plan("tfjs", `tfjs ${backend.backend} in this thread (one core, ${noGpu}${why})`);
}

/** How {@link createTrainer} builds a trainer. */
export interface TrainerOptions {
  /** Images per training step. */
  batchSize: number;
  /**
   * On a pool of aelab's wasm workers, train a population smaller than the pool data-parallel on all of
   * them (see `WorkerPool`) rather than one worker per model; default false. Its numbers then depend on
   * the pool's size, so a population that must train to the bytes it would in another grouping (a
   * sharded step's) leaves it off.
   */
  dataParallel?: boolean;
}

/** Whether the engine of `plan` trains on the WebGPU adapter (the fused engine, tfjs on webgpu). */
export function trainsOnGpu(plan: EnginePlan): boolean {
  return plan.engine === "fused" || plan.backend.backend === "webgpu";
}

/**
 * A trainer for `jobs` on the engine of `plan`. Where `auto` chose the fused engine but the GPU cannot
 * hold the population, or the population holds models the fused engine does not train (`fusedRefusal`),
 * it says so in one line and trains on tfjs in this thread instead; under `--engine fused` those are
 * errors. Where the wasm engine's kernels cannot load, the same: the pool of tfjs workers (or tfjs in
 * this thread) under `auto`, an error under `--engine wasm`.
 */
export async function createTrainer(
  plan: EnginePlan,
  jobs: readonly TrainingJob[],
  options: TrainerOptions,
): Promise<Trainer> {
  if (plan.engine === "fused") {
    const refusal = jobs.map(fusedRefusal).find((reason) => reason !== undefined);
    if (refusal && !plan.auto) throw new UsageError(refusal);
    let why = refusal;
    if (!refusal) {
      try {
        return await FusedTrainer.create(jobs, options);
      } catch (error) {
        if (!plan.auto || !(error instanceof DeviceLimitError)) throw error;
        why = `the population does not fit the GPU (${error.message})`;
      }
    }
    console.error(`engine: ${why}; tfjs ${plan.backend.backend} in this thread trains instead`);
    return new TfjsTrainer(jobs, { ...options, backend: plan.backend.backend });
  }
  if (plan.engine === "wasm") {
    const kernels = await loadKernels();
    if (typeof kernels !== "string") {
      const dataParallel = options.dataParallel === true && plan.workers > jobs.length;
      if (!dataParallel && Math.min(plan.workers, jobs.length) <= 1) {
        return new WasmTrainer(kernels, jobs, { batchSize: options.batchSize });
      }
      return await WorkerPool.create(jobs, {
        ...options,
        trainer: { engine: "wasm" },
        workers: plan.workers,
        dataParallel,
      });
    }
    if (!plan.auto) throw new UsageError(kernels);
    const { backend } = plan.backend;
    if (plan.workers > 1 && WORKER_BACKENDS.includes(backend)) {
      console.error(`engine: ${kernels}; a pool of tfjs ${backend} workers trains instead`);
      return await createTrainer({ ...plan, engine: "workers" }, jobs, options);
    }
    console.error(`engine: ${kernels}; tfjs ${backend} in this thread trains instead`);
    return new TfjsTrainer(jobs, { ...options, backend });
  }
  if (plan.engine === "workers") {
    return await WorkerPool.create(jobs, {
      ...options,
      trainer: { engine: "tfjs", backend: plan.backend.backend as "wasm" | "cpu" },
      workers: plan.workers,
    });
  }
  return new TfjsTrainer(jobs, { ...options, backend: plan.backend.backend });
}

/**
 * The inference of the engine of `plan` (see `Inference`): on the wasm engine, aelab's kernels split over
 * the plan's workers; on any other, tfjs in this thread. The caller disposes it.
 *
 * @example
 * ```ts
 * import { chooseEngine, createInference } from "./engine.ts";
 * import { setupBackend } from "../tfjs.ts";
 * const backend = await setupBackend("wasm", { quiet: true });
 * const plan = await chooseEngine("wasm", { backend, workers: 2, quiet: true });
 * const inference = await createInference(plan);
 * console.log(inference.description); // aelab wasm on 2 workers
 * inference.dispose();
 * ```
 */
export async function createInference(plan: EnginePlan): Promise<Inference> {
  if (plan.engine !== "wasm" || typeof await loadKernels() === "string") return TFJS_INFERENCE;
  return WasmInference.create(plan.workers);
}
