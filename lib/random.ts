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
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
 * The generator of the dropout masks of epoch `epoch` of a model seeded `seed`: each epoch's masks follow
 * from the seed and the epoch alone, so a run resumed from a checkpoint draws the masks an uninterrupted
 * one would, and every engine that draws through {@link dropoutMask} draws the same ones.
 */
export function dropoutRng(seed: number, epoch: number): Rng {
  return createRng(Math.imul((seed ^ 0x2545f491) >>> 0, 0x9e3779b1) + epoch);
}

/**
 * The next dropout mask of `rows × units` values (row after row) from `rng`: each 0 with probability
 * `p`, else 1/(1−p), PyTorch's scaling.
 *
 * @example
 * ```ts
 * import { dropoutMask, dropoutRng } from "./random.ts";
 * const mask = dropoutMask(dropoutRng(1, 0), 2, 3, 0.5);
 * console.log(mask.every((value) => value === 0 || value === 2)); // true
 * ```
 */
export function dropoutMask(rng: Rng, rows: number, units: number, p: number): Float32Array {
  const values = new Float32Array(rows * units);
  for (let i = 0; i < values.length; i++) values[i] = rng() < p ? 0 : 1 / (1 - p);
  return values;
}
