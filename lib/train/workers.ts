/**
 * The worker-pool engine: a population spread over Deno Workers, one per core, each running tfjs on wasm
 * (single-threaded) or aelab's own WebAssembly kernels in its own thread. The training images and their
 * labels go to every worker once, as shared memory, never as a copy per worker, model or batch; each
 * worker trains with the same code as the engine in this thread (`TfjsTrainer`, `WasmTrainer`).
 *
 * Every worker builds every model (the same weights from the same seeds), and the pool hands the models
 * out one epoch at a time: a worker that comes free takes the next of the models it trained last (at
 * first, an even share of the training images each), else the last one waiting for a slower worker,
 * with that model's state, which each worker sends back with its epoch's loss. So a worker that a busy
 * machine slows down trains fewer models, and the other does not wait for it; a model's steps depend
 * only on its seed and its state, so it ends byte-identical wherever it trains.
 *
 * Asked to, a population smaller than the pool on aelab's kernels trains data-parallel instead, on every
 * worker: each computes the gradients of its slice of each batch, and sums them with the others' in
 * shared memory (`exchange.ts`) before every worker takes the same Adam step — so `train`'s single model
 * uses every core, still one request per epoch. Its numbers then follow the engine in this thread to
 * float rounding, not to the byte.
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
  | {
    type: "train";
    /** The models to train one epoch, together: each alone, or all of them data-parallel. */
    models: number[];
    steps?: number;
    /** The state each starts from where the worker's own copy is not its latest (it moves here). */
    states: (ModelState | undefined)[];
  }
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

/** What a worker answers a `train` request: the loss and the state each of its models ended at. */
export interface TrainedEpoch {
  losses: number[];
  states: ModelState[];
}

/** A worker of the pool, with the requests it has not answered yet. */
interface PoolWorker {
  worker: Worker;
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
  /** The worker holding each model's latest state (data-parallel, every worker holds it). */
  readonly #holders: number[];
  /**
   * Each model's latest state, as its worker sent it back or it was set: what it moves to another worker
   * with. None for one that neither trained nor was set yet (every worker's copy is at its seed).
   */
  readonly #states: (ModelState | undefined)[];
  #nextId = 0;
  #failure: Error | undefined;

  private constructor(
    jobs: readonly TrainingJob[],
    options: {
      batchSize: number;
      computes: string;
      numerics: string;
      workers: PoolWorker[];
      holders: number[];
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
    this.#holders = options.holders;
    this.#states = jobs.map(() => undefined);
    this.#exchange = options.exchange;
  }

  /**
   * Starts `workers` workers (fewer when there are fewer models, unless they train them data-parallel),
   * hands each the models and the datasets as shared memory, and waits until each has set up its engine
   * and built the models.
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
      pending: new Map(),
    }));
    // Each model first to the worker with the fewest training images so far, so that each worker's share
    // of an epoch's steps is even where the models train on sets of different sizes.
    const images = workers.map(() => 0);
    const holders = jobs.map((job) => {
      const w = images.indexOf(Math.min(...images));
      images[w] += job.train.count;
      return dataParallel ? 0 : w;
    });
    const pool = new WorkerPool(jobs, {
      ...options,
      computes,
      // Slices of the batch sum their gradients in another order: the numbers depend on how many.
      numerics: exchange ? `${numerics}, data-parallel on ${count}` : numerics,
      workers,
      holders,
      exchange,
    });
    workers.forEach((entry, w) => pool.#listen(entry, w));
    try {
      await Promise.all(workers.map((entry, w) =>
        pool.#request(entry, {
          type: "init",
          trainer,
          batchSize: options.batchSize,
          jobs: shared,
          exchange: exchange && { buffer: exchange, rank: w, workers: count },
        })
      ));
    } catch (error) {
      await pool.dispose();
      throw error;
    }
    return pool;
  }

  /**
   * The worker (0, 1, …) that holds each model's latest state: the one that trained its last epoch, or
   * where it starts; data-parallel, 0 (every worker holds every model).
   */
  get holders(): readonly number[] {
    return [...this.#holders];
  }

  async trainEpoch(options: EpochOptions = {}): Promise<number[]> {
    const active = this.jobs.map((_, i) => options.active?.[i] ?? true);
    const total = this.jobs.reduce(
      (sum, job, i) =>
        sum + (active[i] ? stepsPerEpoch(job.train.count, this.batchSize, options.steps) : 0),
      0,
    );
    const losses = this.jobs.map(() => NaN);
    if (this.#exchange) {
      // Data-parallel workers take every step together: the first one's count is the pool's.
      const models = [...this.jobs.keys()].filter((i) => active[i]);
      const parts = await Promise.all(
        this.#workers.map((_, w) =>
          this.#train(w, models, options.steps, (done) => options.onProgress?.(done, total))
        ),
      );
      models.forEach((i, k) => losses[i] = parts[0].losses[k]);
      return losses;
    }
    // Each worker's models waiting for it, in the population's order.
    const waiting = this.#workers.map((_, w) =>
      [...this.jobs.keys()].filter((i) => active[i] && this.#holds(w, i))
    );
    const done = this.#workers.map(() => 0);
    await Promise.all(this.#workers.map(async (_, w) => {
      for (let i = this.#nextModel(waiting, w); i !== undefined; i = this.#nextModel(waiting, w)) {
        const before = done[w];
        const { losses: [loss], states: [state] } = await this.#train(
          w,
          [i],
          options.steps,
          (steps) => {
            done[w] = before + steps;
            options.onProgress?.(done.reduce((a, b) => a + b, 0), total);
          },
        );
        losses[i] = loss;
        this.#states[i] = state;
        this.#holders[i] = w;
      }
    }));
    return losses;
  }

  async evaluate(split: Split, active?: readonly boolean[]): Promise<(number | null)[]> {
    // Each worker evaluates the models it holds; data-parallel, every worker every model (they add up
    // their errors), the first one's answers the pool's.
    const parts = await Promise.all(this.#workers.map((entry, w) =>
      this.#request(entry, {
        type: "evaluate",
        split,
        active: this.jobs.map((_, i) => (active?.[i] ?? true) && this.#holds(w, i)),
      }) as Promise<(number | null)[]>
    ));
    return this.jobs.map((_, i) => parts[this.#holders[i]][i]);
  }

  async getState(index: number): Promise<ModelState> {
    const entry = this.#workers[this.#holder(index)];
    return await this.#request(entry, { type: "getState", index }) as ModelState;
  }

  async setState(index: number, state: ModelState): Promise<void> {
    const w = this.#holder(index);
    const holders = this.#exchange ? this.#workers : [this.#workers[w]];
    await Promise.all(
      holders.map((holder) => this.#request(holder, { type: "setState", index, state })),
    );
    this.#states[index] = state;
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

  /** The worker holding model `index`'s latest state (the first, data-parallel). */
  #holder(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.jobs.length) {
      throw new RangeError(`no model ${index} among ${this.jobs.length}`);
    }
    return this.#holders[index];
  }

  /**
   * The model worker `w`, come free, trains next: the first of those `waiting` for it, else the last of
   * those waiting for the worker with the most training images still to go (taken from it) — none once
   * every model is trained or training.
   */
  #nextModel(waiting: number[][], w: number): number | undefined {
    if (waiting[w].length > 0) return waiting[w].shift();
    const left = waiting.map((models) =>
      models.reduce((sum, i) => sum + this.jobs[i].train.count, 0)
    );
    return waiting[left.indexOf(Math.max(...left))].pop();
  }

  /**
   * Asks worker `w` to train `models` one epoch, each from its latest state where the worker's copy is
   * not it (a model that moves there).
   */
  #train(
    w: number,
    models: number[],
    steps: number | undefined,
    onProgress: (done: number) => void,
  ): Promise<TrainedEpoch> {
    const states = models.map((i) => this.#holds(w, i) ? undefined : this.#states[i]);
    const call: PoolCall = { type: "train", models, steps, states };
    return this.#request(this.#workers[w], call, onProgress) as Promise<TrainedEpoch>;
  }

  /** Whether worker `w` holds model `i`'s latest state: data-parallel, every worker holds every model. */
  #holds(w: number, i: number): boolean {
    return this.#exchange !== undefined || this.#holders[i] === w;
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

  /**
   * Stops the pool: every request of every worker rejects with one line naming worker `w`'s models (the
   * models whose latest state it held; data-parallel, all of them).
   */
  #fail(w: number, message: string): void {
    if (this.#failure) return;
    const names = this.jobs.filter((_, i) => this.#holds(w, i)).map((job) => job.name);
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
