/**
 * Successive halving: train every candidate a short rung, keep the best 1/η, train those on from where
 * they were to the next rung's epochs, and so on until one remains at the full budget. A candidate that
 * diverges drops out at once. The rungs' epochs grow by η up to the full budget, so that a rung costs
 * about as much as the one before it.
 *
 * @module
 */

/** The epochs of each rung and how many candidates train in it. */
export interface Rung {
  /** Epochs a candidate of this rung has trained by its end (cumulative). */
  epochs: number;
  /** Candidates that train in it. */
  candidates: number;
}

/** A candidate's outcome: the last rung it trained in and its score there (null: it diverged). */
export interface HalvingOutcome {
  rung: number;
  epochs: number;
  score: number | null;
}

/**
 * The rungs of successive halving of `candidates` at factor `eta` up to `epochs`: the last rung holds
 * one candidate at `epochs`, each earlier one η times as many (⌊n/η⌋ go on) at 1/η of the epochs after it (rounded),
 * and every rung needs at least one more epoch than the one before. With `minEpochs`, the first rung
 * trains at least that many epochs: the rungs that would train fewer are left out from the top down,
 * so that the last rung holds more than one candidate (30 at η = 3 up to 27 from 3 epochs: 30@3 10@9
 * 3@27). Throws a `RangeError` that says why when the budget does not fit that many rungs.
 *
 * @example
 * ```ts
 * import { halvingRungs } from "./halving.ts";
 * console.log(halvingRungs(30, 27, 3).map((rung) => `${rung.candidates}@${rung.epochs}`).join(" "));
 * // 30@1 10@3 3@9 1@27
 * console.log(halvingRungs(30, 27, 3, 3).map((rung) => `${rung.candidates}@${rung.epochs}`).join(" "));
 * // 30@3 10@9 3@27
 * ```
 */
export function halvingRungs(
  candidates: number,
  epochs: number,
  eta: number,
  minEpochs?: number,
): Rung[] {
  if (!Number.isInteger(candidates) || candidates < 1) {
    throw new RangeError(`successive halving needs candidates, got ${candidates}`);
  }
  if (!(eta >= 2)) throw new RangeError(`η must be at least 2, got ${eta}`);
  if (minEpochs !== undefined && !(minEpochs <= epochs)) {
    throw new RangeError(`the first rung's ${minEpochs} epochs exceed the ${epochs} of the last`);
  }
  const counts = [candidates];
  while (counts.at(-1)! > 1) counts.push(Math.max(1, Math.floor(counts.at(-1)! / eta)));
  while (minEpochs !== undefined && Math.round(epochs / eta ** (counts.length - 1)) < minEpochs) {
    counts.pop();
  }
  const rungs = (budget: number) => {
    const last = counts.length - 1;
    const made = counts.map((count, k) => ({
      candidates: count,
      epochs: Math.round(budget / eta ** (last - k)),
    }));
    const fits = made.every((rung, k) =>
      rung.epochs >= 1 && (k === 0 || rung.epochs > made[k - 1].epochs)
    );
    return fits ? made : undefined;
  };
  const made = rungs(epochs);
  if (!made) {
    let need = epochs + 1;
    while (!rungs(need)) need++;
    throw new RangeError(
      `${candidates} candidates at η = ${eta} need ${counts.length} rungs of growing epochs, which ` +
        `${epochs} epochs cannot give; give at least ${need} epochs, fewer candidates or a larger η`,
    );
  }
  return made;
}

/**
 * Runs successive halving over `count` candidates: `train(candidates, epochs)` trains the candidates
 * given (indices) to `epochs` and returns each one's score, lower is better, null for one that diverged;
 * the best of a rung, as many as the next rung holds (⌊n/η⌋), go on to it. Returns each candidate's
 * outcome, in order — or undefined where `train` returned undefined instead of scores: the halving stops
 * there (a shard of a search whose share ends with that rung, which does not wait for its scores).
 * `extras` more candidates (indices after the first rung's) ride along without taking a place: one goes
 * on to the next rung where it scores no worse than the last of those that go on.
 *
 * @example
 * ```ts
 * import { halvingRungs, successiveHalving } from "./halving.ts";
 * const quality = [0.5, 0.1, 0.3, 0.2];
 * const outcomes = await successiveHalving(halvingRungs(4, 4, 2), async (candidates, epochs) =>
 *   candidates.map((c) => quality[c] / epochs)
 * );
 * console.log(outcomes.map((o) => o.rung).join(" ")); // 0 2 0 1
 * ```
 */
export function successiveHalving(
  rungs: readonly Rung[],
  train: (candidates: number[], epochs: number) => Promise<(number | null)[]>,
  extras?: number,
): Promise<HalvingOutcome[]>;
/** {@link successiveHalving} whose `train` may stop it after a rung, by returning undefined. */
export function successiveHalving(
  rungs: readonly Rung[],
  train: (candidates: number[], epochs: number) => Promise<(number | null)[] | undefined>,
  extras?: number,
): Promise<HalvingOutcome[] | undefined>;
export async function successiveHalving(
  rungs: readonly Rung[],
  train: (candidates: number[], epochs: number) => Promise<(number | null)[] | undefined>,
  extras = 0,
): Promise<HalvingOutcome[] | undefined> {
  const outcomes: HalvingOutcome[] = [];
  const drawn = rungs[0].candidates;
  let alive = Array.from({ length: drawn + extras }, (_, i) => i);
  for (const [k, rung] of rungs.entries()) {
    const scores = await train(alive, rung.epochs);
    if (!scores) return undefined;
    alive.forEach((candidate, i) => {
      outcomes[candidate] = { rung: k, epochs: rung.epochs, score: scores[i] };
    });
    const next = rungs[k + 1];
    if (!next) break;
    const converged = alive.filter((_, i) => scores[i] !== null);
    const going = converged
      .filter((candidate) => candidate < drawn)
      .sort((a, b) => outcomes[a].score! - outcomes[b].score! || a - b)
      .slice(0, next.candidates);
    const bar = going.length > 0 ? outcomes[going.at(-1)!].score! : -Infinity;
    alive = [
      ...going,
      ...converged.filter((candidate) => candidate >= drawn && outcomes[candidate].score! <= bar),
    ];
    if (alive.length === 0) break;
  }
  return outcomes;
}
