/**
 * Seeded pseudo-random numbers, so that every shuffle, split, corruption and search is reproducible.
 *
 * @module
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * Creates a seeded generator (mulberry32): the same seed gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * import { createRng } from "./random.ts";
 * const rng = createRng(42);
 * console.log(rng() === createRng(42)());
 * ```
 */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => mulberry32(state = (state + MULBERRY_STEP) >>> 0);
}

/** Mulberry32's increment of its state per number drawn. */
const MULBERRY_STEP = 0x6d2b79f5;

/** Mulberry32's number in [0, 1) for the (already incremented) `state`. */
function mulberry32(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A standard normal sample (Box–Muller) drawn from `rng`. */
export function normal(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Shuffles `items` in place (Fisher–Yates) with `rng` and returns it. */
export function shuffleInPlace<T extends { [index: number]: unknown; length: number }>(
  items: T,
  rng: Rng,
): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const held = items[i];
    items[i] = items[j];
    items[j] = held;
  }
  return items;
}

/** The integers 0 … n−1 in an order shuffled by `rng`. */
export function permutation(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffleInPlace(order, rng);
}

/**
 * The dropout masks of epoch `epoch` of a model seeded `seed`, batch after batch: each epoch's masks
 * follow from the seed and the epoch alone, so a run resumed from a checkpoint draws the masks an
 * uninterrupted one would, and every engine that draws through it draws the same ones. The numbers are
 * {@link createRng}'s, drawn in a loop of their own (the masks are a step's largest draw); the stream
 * can skip ahead: a worker of a data-parallel pool draws only its slice of a batch's masks, the values
 * one thread draws for those rows.
 *
 * @example
 * ```ts
 * import { DropoutStream } from "./random.ts";
 * const whole = new DropoutStream(1, 0).mask(4, 3, 0.5);
 * const rows2to4 = new DropoutStream(1, 0).mask(4, 3, 0.5, 2, 4);
 * console.log(whole.every((value) => value === 0 || value === 2)); // true
 * console.log(rows2to4.join() === whole.subarray(6).join()); // true
 * ```
 */
export class DropoutStream {
  #state: number;

  constructor(seed: number, epoch: number) {
    this.#state = (Math.imul((seed ^ 0x2545f491) >>> 0, 0x9e3779b1) + epoch) >>> 0;
  }

  /**
   * Rows `from` to `to` (default all) of the next mask of a batch of `rows × units` values (row after
   * row): each 0 with probability `p`, else 1/(1−p), PyTorch's scaling. The stream moves past the whole
   * batch's mask, whichever rows were asked for.
   */
  mask(rows: number, units: number, p: number, from = 0, to = rows): Float32Array {
    const values = new Float32Array((to - from) * units);
    const kept = 1 / (1 - p);
    let state = this.#skipped(from * units);
    for (let i = 0; i < values.length; i++) {
      state = (state + MULBERRY_STEP) >>> 0;
      values[i] = mulberry32(state) < p ? 0 : kept;
    }
    this.#state = state;
    this.#state = this.#skipped((rows - to) * units);
    return values;
  }

  /** The state after `count` numbers more. */
  #skipped(count: number): number {
    return (this.#state + Math.imul(count, MULBERRY_STEP)) >>> 0;
  }
}
