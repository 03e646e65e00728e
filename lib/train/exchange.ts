/**
 * How the workers of a data-parallel pool share out a batch and add up its gradients, in one
 * SharedArrayBuffer. A batch is cut into slices of a fixed number of rows; each worker claims the next
 * slice not yet taken (an atomic counter), computes its gradients and squared-error sum and writes them
 * into the slice's own region, and claims again until none is left — so a worker on a busier core
 * takes fewer slices instead of holding the others up. Then every worker waits at a barrier (polling,
 * then `Atomics.wait`/`notify`) and sums every slice's region in slice order: each holds the same sums
 * to the bit, whichever worker computed which slice, and takes the same Adam step on its own copy of
 * the model, with no message per step. The regions alternate between two sets from step to step, so
 * that a worker already writing the next step's never overwrites what a slower one still reads: one
 * barrier per step suffices.
 *
 * A worker that fails leaves the others waiting; the pool then aborts the exchange
 * ({@link abortExchange}) and every worker waiting, or arriving later, throws.
 *
 * @module
 */

/**
 * The control words: the barrier's generation, the workers arrived at it, the abort flag, and the
 * claims made so far.
 */
const GENERATION = 0;
const ARRIVED = 1;
const ABORTED = 2;
const CLAIMS = 3;
/** Bytes of the control words; the loss sums after them are aligned. */
const CONTROL_BYTES = 16;
/**
 * How long a worker arriving at the barrier polls before it sleeps, in milliseconds. A thread that sleeps
 * is woken by Linux onto the core of the thread that woke it: two workers waking each other every step
 * end up sharing one core while the other idles (seen on this project's 2-core machine).
 */
const SPIN_MS = 2;
/**
 * Slices per worker in a whole batch, and the fewest rows of a slice. More slices balance the workers
 * better where one core is slower; fewer run each kernel over more rows at once, faster (one thread on
 * this project's machine: 14,100 samples/s in batches of 16, 16,500 of 32, 17,900 of 64, 18,900 of 128).
 */
const SLICES_PER_WORKER = 2;
const MIN_SLICE_ROWS = 32;

/** How a pool's workers share out batches: their number, a slice's rows, and the gradients' floats. */
export interface ExchangeLayout {
  workers: number;
  /** Rows of each slice of a batch (the last one may hold fewer). */
  sliceRows: number;
  /** The most slices a batch has. */
  slices: number;
  /** The most gradients one slice shares. */
  floats: number;
}

/**
 * The layout for `workers` workers training in batches of `batchSize` rows a model of `floats`
 * gradients.
 *
 * @example
 * ```ts
 * import { exchangeLayout } from "./exchange.ts";
 * console.log(exchangeLayout(2, 256, 100)); // { workers: 2, sliceRows: 64, slices: 4, floats: 100 }
 * ```
 */
export function exchangeLayout(workers: number, batchSize: number, floats: number): ExchangeLayout {
  const sliceRows = Math.max(
    Math.ceil(batchSize / (workers * SLICES_PER_WORKER)),
    Math.min(MIN_SLICE_ROWS, Math.ceil(batchSize / workers)),
  );
  return { workers, sliceRows, slices: Math.ceil(batchSize / sliceRows), floats };
}

/**
 * A shared buffer for the exchange `layout` describes: the control words, two sets of loss sums (one
 * per slice, or per worker where there are more workers), and two sets of one gradient region per slice.
 *
 * @example
 * ```ts
 * import { exchangeBuffer } from "./exchange.ts";
 * console.log(exchangeBuffer({ workers: 2, sliceRows: 2, slices: 2, floats: 4 }).byteLength); // 112
 * ```
 */
export function exchangeBuffer(layout: ExchangeLayout): SharedArrayBuffer {
  const { slices, floats } = layout;
  return new SharedArrayBuffer(CONTROL_BYTES + 2 * lossSlots(layout) * 8 + 2 * slices * floats * 4);
}

/** Wakes every worker waiting on the exchange in `buffer`, and makes each throw. */
export function abortExchange(buffer: SharedArrayBuffer): void {
  const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
  Atomics.store(control, ABORTED, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/**
 * Worker `rank`'s side of the exchange `layout` describes, in `buffer` (made by {@link exchangeBuffer}).
 * Each step, every worker calls {@link claim} until it returns -1, and then {@link sum}.
 *
 * @example
 * ```ts
 * import { exchangeBuffer, exchangeLayout, GradientExchange } from "./exchange.ts";
 * // One worker alone: it claims every slice, and the sums are its own.
 * const layout = exchangeLayout(1, 4, 2);
 * const exchange = new GradientExchange(exchangeBuffer(layout), 0, layout);
 * const gradients = new Float32Array(2);
 * for (let slice; (slice = exchange.claim(4)) >= 0;) {
 *   const [start, end] = exchange.slice(slice, 4);
 *   gradients.fill(end - start);
 *   exchange.share(slice, gradients, 1);
 * }
 * console.log(exchange.sum(gradients, 4), gradients); // 2 Float32Array(2) [ 4, 4 ]
 * ```
 */
export class GradientExchange {
  /** This worker's place among the workers, from 0. */
  readonly rank: number;
  readonly layout: ExchangeLayout;
  readonly #control: Int32Array;
  readonly #losses: Float64Array;
  readonly #gradients: Float32Array;
  /** Steps exchanged: which set of regions the next one takes. */
  #steps = 0;
  /** The claims made before this step's: every worker makes one past the last slice, each step. */
  #claimsBefore = 0;

  constructor(buffer: SharedArrayBuffer, rank: number, layout: ExchangeLayout) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= layout.workers) {
      throw new RangeError(`no worker ${rank} among ${layout.workers}`);
    }
    this.rank = rank;
    this.layout = layout;
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#losses = new Float64Array(buffer, CONTROL_BYTES, 2 * lossSlots(layout));
    this.#gradients = new Float32Array(buffer, CONTROL_BYTES + 2 * lossSlots(layout) * 8);
  }

  /** Slices of a batch of `rows` rows. */
  slices(rows: number): number {
    return Math.ceil(rows / this.layout.sliceRows);
  }

  /** Rows `[start, end)` of slice `slice` of a batch of `rows`. */
  slice(slice: number, rows: number): [number, number] {
    const { sliceRows } = this.layout;
    return [slice * sliceRows, Math.min((slice + 1) * sliceRows, rows)];
  }

  /** The next slice of this step's batch of `rows` that no worker has claimed, or -1 when none is left. */
  claim(rows: number): number {
    const slice = Atomics.add(this.#control, CLAIMS, 1) - this.#claimsBefore;
    return slice < this.slices(rows) ? slice : -1;
  }

  /**
   * Shares the `gradients` of slice `slice` (scaled to the whole batch's mean) and the summed loss
   * `lossSum` of its images.
   */
  share(slice: number, gradients: Float32Array, lossSum: number): void {
    this.#region(slice, gradients.length).set(gradients);
    this.#losses[this.#set() * lossSlots(this.layout) + slice] = lossSum;
  }

  /**
   * Once every worker has shared its slices of this step's batch of `rows`, replaces `gradients` with
   * every slice's summed in slice order and returns their summed losses. Throws where the exchange was
   * aborted.
   */
  sum(gradients: Float32Array, rows: number): number {
    const size = gradients.length;
    const slices = this.slices(rows);
    const losses = this.#set() * lossSlots(this.layout);
    this.#barrier();
    gradients.set(this.#region(0, size));
    let total = this.#losses[losses];
    for (let slice = 1; slice < slices; slice++) {
      const other = this.#region(slice, size);
      for (let i = 0; i < size; i++) gradients[i] += other[i];
      total += this.#losses[losses + slice];
    }
    this.#claimsBefore += slices + this.layout.workers;
    this.#steps++;
    return total;
  }

  /**
   * Adds up a loss summed by each worker over rows it alone holds (`lossSum` this worker's), once every
   * worker has shared its own; the sum runs in rank order. Throws where the exchange was aborted.
   */
  sumLosses(lossSum: number): number {
    const losses = this.#set() * lossSlots(this.layout);
    this.#losses[losses + this.rank] = lossSum;
    this.#barrier();
    let total = 0;
    for (let rank = 0; rank < this.layout.workers; rank++) total += this.#losses[losses + rank];
    this.#steps++;
    return total;
  }

  /** Which set of regions this step takes: 0 or 1. */
  #set(): number {
    return this.#steps % 2;
  }

  /** The first `size` floats of slice `slice`'s gradient region in this step's set. */
  #region(slice: number, size: number): Float32Array {
    const { floats } = this.layout;
    if (size > floats) throw new RangeError(`${size} gradients exceed the exchange's ${floats}`);
    const at = (this.#set() * this.layout.slices + slice) * floats;
    return this.#gradients.subarray(at, at + size);
  }

  /** Waits until every worker has arrived; the last to arrive releases the others. */
  #barrier(): void {
    const control = this.#control;
    this.#throwIfAborted();
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === this.layout.workers - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
    } else {
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(control, GENERATION) === generation && performance.now() < until) {
        // poll: the others are usually a fraction of a millisecond away
      }
      while (Atomics.load(control, GENERATION) === generation) {
        Atomics.wait(control, GENERATION, generation);
      }
    }
    this.#throwIfAborted();
  }

  #throwIfAborted(): void {
    if (Atomics.load(this.#control, ABORTED) !== 0) {
      throw new Error("another worker of the data-parallel step failed");
    }
  }
}

/** Loss sums in each set: one per slice of a batch, or one per worker where there are more workers. */
function lossSlots({ workers, slices }: ExchangeLayout): number {
  return Math.max(workers, slices);
}
