/**
 * How the workers of a data-parallel pool add up their gradients: in one SharedArrayBuffer, each worker
 * writes the gradients and squared-error sum of its slice of a batch into a region of its own, waits at a
 * barrier (polling, then `Atomics.wait`/`notify`) until every worker has written, then sums every
 * worker's region in the same fixed order — so every worker holds the same sums to the bit and takes the
 * same Adam step on its own copy of the model, with no message per step. The regions alternate between
 * two sets from step to step, so that a worker already writing the next step's never overwrites what a
 * slower one still reads: one barrier per step suffices.
 *
 * A worker that fails leaves the others waiting; the pool then aborts the exchange
 * ({@link abortExchange}) and every worker waiting, or arriving later, throws.
 *
 * @module
 */

/** The control words: the barrier's generation, the workers arrived at it, and the abort flag. */
const GENERATION = 0;
const ARRIVED = 1;
const ABORTED = 2;
/** Bytes of the control words, padded so that the loss sums after them are aligned. */
const CONTROL_BYTES = 16;
/**
 * How long a worker arriving at the barrier polls before it sleeps, in milliseconds. A thread that sleeps
 * is woken by Linux onto the core of the thread that woke it: two workers waking each other every step
 * end up sharing one core while the other idles (seen on this project's 2-core machine).
 */
const SPIN_MS = 2;

/**
 * A shared buffer for `workers` workers exchanging up to `floats` gradients each: the control words, two
 * sets of one squared-error sum per worker, and two sets of one gradient region per worker.
 *
 * @example
 * ```ts
 * import { exchangeBuffer } from "./exchange.ts";
 * console.log(exchangeBuffer(2, 4).byteLength); // 112
 * ```
 */
export function exchangeBuffer(workers: number, floats: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + 2 * workers * 8 + 2 * workers * floats * 4);
}

/** Wakes every worker waiting on the exchange in `buffer`, and makes each throw. */
export function abortExchange(buffer: SharedArrayBuffer): void {
  const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
  Atomics.store(control, ABORTED, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/**
 * Worker `rank`'s side of the exchange of `workers` workers in `buffer` (made by {@link exchangeBuffer}).
 *
 * @example
 * ```ts
 * import { exchangeBuffer, GradientExchange } from "./exchange.ts";
 * // One worker alone: its slice is the whole batch, its sums its own.
 * const exchange = new GradientExchange(exchangeBuffer(1, 4), 0, 1);
 * console.log(exchange.slice(10)); // [0, 10]
 * console.log(exchange.sum(new Float32Array([1, 2, 3, 4]), 5)); // 5
 * ```
 */
export class GradientExchange {
  /** This worker's place among the workers, from 0. */
  readonly rank: number;
  readonly workers: number;
  readonly #control: Int32Array;
  readonly #losses: Float64Array;
  readonly #gradients: Float32Array;
  /** Floats of each worker's region. */
  readonly #floats: number;
  /** Steps exchanged: which set of regions the next one takes. */
  #steps = 0;

  constructor(buffer: SharedArrayBuffer, rank: number, workers: number) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= workers) {
      throw new RangeError(`no worker ${rank} among ${workers}`);
    }
    this.rank = rank;
    this.workers = workers;
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.#losses = new Float64Array(buffer, CONTROL_BYTES, 2 * workers);
    const gradientBytes = buffer.byteLength - CONTROL_BYTES - 2 * workers * 8;
    this.#floats = gradientBytes / 4 / (2 * workers);
    this.#gradients = new Float32Array(buffer, CONTROL_BYTES + 2 * workers * 8);
  }

  /** This worker's rows `[start, end)` of a batch of `rows` (empty where there are fewer rows than workers). */
  slice(rows: number): [number, number] {
    const at = (rank: number) => Math.floor(rank * rows / this.workers);
    return [at(this.rank), at(this.rank + 1)];
  }

  /**
   * Shares this worker's `gradients` (of its slice, scaled to the whole batch's mean) and the summed
   * loss `lossSum` of its slice's images; once every worker has, replaces `gradients` with all workers'
   * summed in rank order and returns the summed losses. Throws where the exchange was aborted.
   */
  sum(gradients: Float32Array, lossSum: number): number {
    const size = gradients.length;
    if (size > this.#floats) {
      throw new RangeError(`${size} gradients exceed the exchange's ${this.#floats}`);
    }
    const set = (this.#steps++ % 2) * this.workers;
    const region = (rank: number) =>
      this.#gradients.subarray((set + rank) * this.#floats, (set + rank) * this.#floats + size);
    region(this.rank).set(gradients);
    this.#losses[set + this.rank] = lossSum;
    this.#barrier();
    gradients.set(region(0));
    let total = this.#losses[set];
    for (let rank = 1; rank < this.workers; rank++) {
      const other = region(rank);
      for (let i = 0; i < size; i++) gradients[i] += other[i];
      total += this.#losses[set + rank];
    }
    return total;
  }

  /** Waits until every worker has arrived; the last to arrive releases the others. */
  #barrier(): void {
    const control = this.#control;
    this.#throwIfAborted();
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.add(control, ARRIVED, 1) === this.workers - 1) {
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
