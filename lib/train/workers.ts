/**
 * The worker-pool engine: a population spread over Deno Workers, one per core, each running tfjs on wasm
 * (single-threaded) or aelab's own WebAssembly kernels in its own thread with the models it holds (model
 * i goes to worker i mod W). The training images and their labels go to every worker once, as shared
 * memory, never as a copy per worker, model or batch; each worker trains with the same code as the
 * engine in this thread (`TfjsTrainer`, `WasmTrainer`), a whole epoch per request, so a model ends
 * byte-identical wherever it trains.
 *
 * Asked to, a population smaller than the pool on aelab's kernels trains data-parallel instead, on every
 * worker: each holds every model (the same weights from the same seeds), computes the gradients of its
 * slice of each batch, and sums them with the others' in shared memory (`exchange.ts`) before every
 * worker takes the same Adam step — so `train`'s single model uses every core, still one request per
 * epoch. Its numbers then follow the engine in this thread to float rounding, not to the byte.
 *
 * A worker that fails — its wasm throws, or an error nothing catches ends it — stops the pool: every
 * request then rejects with one line that names the worker and the models it held.
 *
 * @module
 */
import type { BackendChoice } from "../tfjs.ts";
import { loadKernels } from "../wasm/kernels.ts";
import {
  type Dataset,
  type EpochOptions,
  type ModelState,
  type Split,
  stepsPerEpoch,
  type Trainer,
  type TrainingJob,
} from "./trainer.ts";
import { type Pixels, sharedPixels } from "../data/batches.ts";
import { gradientCount } from "../wasm/population.ts";
import { abortExchange, exchangeBuffer } from "./exchange.ts";
import { WASM_NUMERICS } from "./wasm.ts";

/** What every worker of a pool trains with: tfjs on a backend, or aelab's WebAssembly kernels. */
export type WorkerEngine = { engine: "tfjs"; backend: BackendChoice } | { engine: "wasm" };

/** What the pool asks a worker. */
type PoolCall =
  | {
    type: "init";
    trainer: WorkerEngine;
    batchSize: number;
    jobs: TrainingJob[];
    /** Where the pool trains data-parallel: the shared gradients, and this worker's place among them. */
    exchange?: ExchangePlace;
  }
  | { type: "train"; active: boolean[]; steps?: number }
  | { type: "evaluate"; split: Split; active: boolean[] }
  | { type: "getState"; index: number }
  | { type: "setState"; index: number; state: ModelState };

/** A worker's place in a data-parallel pool: the exchange's shared buffer, its rank, and the workers. */
export interface ExchangePlace {
  buffer: SharedArrayBuffer;
  rank: number;
  workers: number;
}

/** A request to a worker: a {@link PoolCall} numbered by `id`. */
export type PoolRequest = PoolCall & { id: number };

/** A worker's answer to request `id` (−1: a failure outside any request). */
export type PoolReply =
  & { id: number }
  & (
    | { type: "progress"; done: number }
    | { type: "done"; value?: unknown }
    | { type: "failed"; message: string }
  );

/** A worker of the pool, with the models it holds and the requests it has not answered yet. */
interface PoolWorker {
  worker: Worker;
  /** The population's indices of the models it holds, in its own order. */
  models: number[];
  pending: Map<number, Pending>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (done: number) => void;
}

/** How to start a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Samples per training step. */
  batchSize: number;
  /** What every worker trains with. */
  trainer: WorkerEngine;
  /**
   * How many workers to start: with fewer models, as many as there are models — or, data-parallel, all
   * of them.
   */
  workers: number;
  /**
   * Where there are fewer models than `workers` and they train on aelab's wasm kernels: train every
   * model on every worker, each a slice of every batch (default false: one worker per model).
   */
  dataParallel?: boolean;
  /**
   * The module worker `w` (0, 1, …) runs, where it is not `worker.ts` (undefined): one that answers the
   * pool as `worker.ts` does, e.g. a test's worker that fails on cue.
   */
  workerModule?: (w: number) => URL | undefined;
}

/** The module a worker runs unless {@link WorkerPoolOptions.workerModule} names another. */
const WORKER_MODULE = new URL("./worker.ts", import.meta.url);

/**
 * A population trained by a pool of workers.
 *
 * @example
 * ```ts
 * import { WorkerPool } from "./workers.ts";
 * const images = new Uint8Array(new SharedArrayBuffer(64 * 784)).fill(128);
 * const job = (seed: number) => ({
 *   name: `model ${seed}`,
 *   model: { kind: "autoencoder" as const, hidden: 4, dropout: 0 },
 *   lr: 1e-3,
 *   l2: 0,
 *   seed,
 *   train: { inputs: images, count: 64 },
 * });
 * const pool = await WorkerPool.create([job(1), job(2)], {
 *   batchSize: 32,
 *   trainer: { engine: "wasm" },
 *   workers: 2,
 * });
 * console.log((await pool.trainEpoch()).length); // 2
 * await pool.dispose();
 * ```
 */
export class WorkerPool implements Trainer {
  readonly jobs: readonly TrainingJob[];
  readonly batchSize: number;
  readonly description: string;
  readonly numerics: string;
  readonly #workers: PoolWorker[];
  /** The shared buffer of the gradients, where the pool trains data-parallel. */
  readonly #exchange: SharedArrayBuffer | undefined;
  #nextId = 0;
  #failure: Error | undefined;

  private constructor(
    jobs: readonly TrainingJob[],
    options: {
      batchSize: number;
      computes: string;
      numerics: string;
      workers: PoolWorker[];
      exchange?: SharedArrayBuffer;
    },
  ) {
    this.jobs = jobs;
    this.batchSize = options.batchSize;
    const count = options.workers.length;
    const split = options.exchange ? " data-parallel" : "";
    this.description = `${count} worker${count === 1 ? "" : "s"}${split}, ${options.computes} each`;
    this.numerics = options.numerics;
    this.#workers = options.workers;
    this.#exchange = options.exchange;
  }

  /**
   * Starts `workers` workers (fewer when there are fewer models, unless they train them data-parallel),
   * hands each its models and the datasets as shared memory, and waits until each has set up its engine
   * and built its models.
   */
  static async create(
    jobs: readonly TrainingJob[],
    options: WorkerPoolOptions,
  ): Promise<WorkerPool> {
    const { trainer } = options;
    const { computes, numerics } = await describeEngine(trainer);
    const dataParallel = options.dataParallel === true && trainer.engine === "wasm" &&
      options.workers > jobs.length;
    const count = dataParallel
      ? options.workers
      : Math.max(1, Math.min(options.workers, jobs.length));
    const exchange = dataParallel ? exchangeBuffer(count, largestGradients(jobs)) : undefined;
    const shared = sharedJobs(jobs);
    const workers: PoolWorker[] = Array.from({ length: count }, (_, w) => ({
      worker: new Worker((options.workerModule?.(w) ?? WORKER_MODULE).href, { type: "module" }),
      models: [],
      pending: new Map(),
    }));
    // Each model to the worker with the fewest training images so far, so that each worker's share of
    // an epoch's steps is even where the models train on sets of different sizes.
    const images = workers.map(() => 0);
    jobs.forEach((job, i) => {
      const w = images.indexOf(Math.min(...images));
      for (const entry of dataParallel ? workers : [workers[w]]) entry.models.push(i);
      images[w] += job.train.count;
    });
    const pool = new WorkerPool(jobs, {
      ...options,
      computes,
      // Slices of the batch sum their gradients in another order: the numbers depend on how many.
      numerics: exchange ? `${numerics}, data-parallel on ${count}` : numerics,
      workers,
      exchange,
    });
    workers.forEach((entry, w) => pool.#listen(entry, w));
    try {
      await Promise.all(workers.map((entry, w) =>
        pool.#request(entry, {
          type: "init",
          trainer,
          batchSize: options.batchSize,
          jobs: entry.models.map((i) => shared[i]),
          exchange: exchange && { buffer: exchange, rank: w, workers: count },
        })
      ));
    } catch (error) {
      await pool.dispose();
      throw error;
    }
    return pool;
  }

  async trainEpoch(options: EpochOptions = {}): Promise<number[]> {
    const active = this.jobs.map((_, i) => options.active?.[i] ?? true);
    const total = this.jobs.reduce(
      (sum, job, i) =>
        sum + (active[i] ? stepsPerEpoch(job.train.count, this.batchSize, options.steps) : 0),
      0,
    );
    const done = this.#workers.map(() => 0);
    const parts = await Promise.all(this.#workers.map((entry, w) =>
      this.#request(
        entry,
        { type: "train", active: entry.models.map((i) => active[i]), steps: options.steps },
        (steps) => {
          done[w] = steps;
          // Data-parallel workers take every step together: the first one's count is the pool's.
          options.onProgress?.(this.#exchange ? steps : done.reduce((a, b) => a + b, 0), total);
        },
      )
    ));
    return this.#gather(parts as number[][]);
  }

  async evaluate(split: Split, active?: readonly boolean[]): Promise<(number | null)[]> {
    const parts = await Promise.all(this.#workers.map((entry) =>
      this.#request(entry, {
        type: "evaluate",
        split,
        active: entry.models.map((i) => active?.[i] ?? true),
      })
    ));
    return this.#gather(parts as (number | null)[][]);
  }

  async getState(index: number): Promise<ModelState> {
    const [entry, local] = this.#holder(index);
    return await this.#request(entry, { type: "getState", index: local }) as ModelState;
  }

  async setState(index: number, state: ModelState): Promise<void> {
    const [entry, local] = this.#holder(index);
    const holders = this.#exchange ? this.#workers : [entry];
    await Promise.all(
      holders.map((holder) => this.#request(holder, { type: "setState", index: local, state })),
    );
  }

  dispose(): Promise<void> {
    this.#failure ??= new Error("the worker pool was disposed");
    if (this.#exchange) abortExchange(this.#exchange);
    for (const entry of this.#workers) {
      entry.worker.terminate();
      entry.pending.clear();
    }
    return Promise.resolve();
  }

  /** The worker holding model `index` (the first, data-parallel), and the model's index there. */
  #holder(index: number): [PoolWorker, number] {
    if (!Number.isInteger(index) || index < 0 || index >= this.jobs.length) {
      throw new RangeError(`no model ${index} among ${this.jobs.length}`);
    }
    const entry = this.#workers.find(({ models }) => models.includes(index))!;
    return [entry, entry.models.indexOf(index)];
  }

  /**
   * Each worker's answers, one per model it holds, back in the population's order; data-parallel, the
   * first worker's (every worker answers the same).
   */
  #gather<T>(parts: T[][]): T[] {
    const all: T[] = new Array(this.jobs.length);
    parts.slice(0, this.#exchange ? 1 : parts.length).forEach((values, w) =>
      values.forEach((value, k) => all[this.#workers[w].models[k]] = value)
    );
    return all;
  }

  #request(
    entry: PoolWorker,
    call: PoolCall,
    onProgress?: (done: number) => void,
  ): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      entry.pending.set(id, { resolve, reject, onProgress });
      entry.worker.postMessage({ ...call, id } satisfies PoolRequest);
    });
  }

  /** Routes worker `w`'s replies to their requests; a failure stops the whole pool. */
  #listen(entry: PoolWorker, w: number): void {
    entry.worker.onmessage = ({ data: reply }: MessageEvent<PoolReply>) => {
      const pending = entry.pending.get(reply.id);
      if (reply.type === "progress") pending?.onProgress?.(reply.done);
      else if (reply.type === "done") {
        entry.pending.delete(reply.id);
        pending?.resolve(reply.value);
      } else this.#fail(w, reply.message);
    };
    entry.worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(w, event.message);
    };
    entry.worker.onmessageerror = () => this.#fail(w, "a message could not be read");
  }

  /** Stops the pool: every request of every worker rejects with one line naming worker `w`'s models. */
  #fail(w: number, message: string): void {
    if (this.#failure) return;
    const names = this.#workers[w].models.map((i) => this.jobs[i].name);
    this.#failure = new Error(
      `worker ${w + 1} of ${this.#workers.length} failed (${message}); it held ${names.join(", ")}`,
    );
    // The other workers of a data-parallel step wait for this one: release them.
    if (this.#exchange) abortExchange(this.#exchange);
    for (const entry of this.#workers) {
      for (const pending of entry.pending.values()) pending.reject(this.#failure);
      entry.pending.clear();
      entry.worker.terminate();
    }
  }
}

/** What a worker running `trainer` computes with, for the log, and its numerics (see `Trainer`). */
async function describeEngine(
  trainer: WorkerEngine,
): Promise<{ computes: string; numerics: string }> {
  if (trainer.engine === "tfjs") {
    return { computes: `tfjs ${trainer.backend}`, numerics: `tfjs ${trainer.backend}` };
  }
  const kernels = await loadKernels();
  if (typeof kernels === "string") throw new Error(kernels);
  return { computes: `aelab wasm (${kernels.name})`, numerics: WASM_NUMERICS };
}

/** Floats of the largest gradients among `jobs`' models. */
function largestGradients(jobs: readonly TrainingJob[]): number {
  return Math.max(0, ...jobs.map((job) => gradientCount(job.model)));
}

/**
 * The jobs with every dataset's pixels and labels in shared memory, copied there once per array (arrays
 * already shared stay as they are), so that posting them to the workers copies nothing.
 */
function sharedJobs(jobs: readonly TrainingJob[]): TrainingJob[] {
  const copies = new Map<Pixels, Pixels>();
  const share = (pixels: Pixels): Pixels => {
    let copy = copies.get(pixels);
    if (!copy) copies.set(pixels, copy = sharedPixels(pixels));
    return copy;
  };
  const dataset = (data: Dataset | undefined): Dataset | undefined =>
    data && {
      inputs: share(data.inputs),
      targets: data.targets && share(data.targets),
      labels: data.labels && share(data.labels) as Uint8Array,
      count: data.count,
    };
  return jobs.map((job) => ({
    ...job,
    train: dataset(job.train)!,
    validation: dataset(job.validation),
    test: dataset(job.test),
  }));
}
