/**
 * The study's hyper-parameter search space and its results: the study's parameter generator, k-fold
 * splits, the trials ranked, and the best parameters that later steps train with.
 *
 * @module
 */
import { STUDY } from "./paper.ts";
import { createRng, permutation } from "./random.ts";
import { readJsonIfExists } from "./files/atomic.ts";

/** The hyper-parameters one trial trains with. */
export interface TrialParams {
  dropout: number;
  lr: number;
  l2: number;
  hidden: number;
}

/**
 * A trial of a search: its parameters, the last rung it trained in (the only one for a plain random
 * search) with the epochs it had trained by then, and its validation loss there — or `diverged` when a
 * loss turned NaN or infinite.
 */
export interface TrialRecord {
  index: number;
  params: TrialParams;
  /** The last rung it trained in (0 for the first) and its epochs. */
  rung: number;
  epochs: number;
  /** Mean validation loss over the folds at its last rung; null when diverged. */
  validationLoss: number | null;
  /** Validation loss of each fold at its last rung (one entry without cross-validation). */
  foldLosses: (number | null)[];
  diverged: boolean;
  /** Set on the trial of the study's parameters, scored beside the drawn ones (never the pick). */
  study?: true;
}

/** The study's range of learning rates, drawn log-uniformly: 10^U(−4, −1). */
export const LR_RANGE: readonly [number, number] = [1e-4, 1e-1];

/**
 * The study's parameter generator: dropout ~ U[0, 0.5], lr = 10^U(−4, −1), L2 = 10^U(−6, −2), hidden fixed.
 * `lrRange` narrows or moves the learning rates (still log-uniform between its ends).
 *
 * @example
 * ```ts
 * import { generateParams } from "./search_space.ts";
 * const [first] = generateParams(30, 42, 4);
 * console.log(first.lr >= 1e-4 && first.lr <= 1e-1); // true
 * const [narrow] = generateParams(1, 42, 4, [1e-3, 1e-2]);
 * console.log(narrow.lr >= 1e-3 && narrow.lr <= 1e-2); // true
 * ```
 */
export function generateParams(
  count: number,
  seed: number,
  hidden: number,
  lrRange: readonly [number, number] = LR_RANGE,
): TrialParams[] {
  const [lrLow, lrHigh] = lrRange.map(Math.log10);
  if (!(Number.isFinite(lrLow) && Number.isFinite(lrHigh) && lrLow <= lrHigh)) {
    throw new RangeError(`lr range must be 0 < min ≤ max, got ${lrRange}`);
  }
  const rng = createRng(seed);
  return Array.from({ length: count }, () => ({
    dropout: 0.5 * rng(),
    lr: 10 ** (lrLow + (lrHigh - lrLow) * rng()),
    l2: 10 ** (-6 + 4 * rng()),
    hidden,
  }));
}

/** Indices of `count` samples split into `folds` seeded folds: for each fold, its train and validation. */
export function kFoldSplits(
  count: number,
  folds: number,
  seed: number,
): { train: Int32Array; validation: Int32Array }[] {
  if (!Number.isInteger(folds) || folds < 2 || folds > count) {
    throw new RangeError(`folds must be an integer in 2…${count}, got ${folds}`);
  }
  const order = permutation(count, createRng(seed));
  return Array.from({ length: folds }, (_, fold) => {
    const begin = Math.floor((fold * count) / folds);
    const end = Math.floor(((fold + 1) * count) / folds);
    return {
      train: Int32Array.from([...order.subarray(0, begin), ...order.subarray(end)]),
      validation: order.slice(begin, end),
    };
  });
}

/**
 * The trials best first: those that reached a later rung before those stopped earlier, within a rung by
 * validation loss, diverged ones last.
 */
export function rankTrials(trials: readonly TrialRecord[]): TrialRecord[] {
  return [...trials].sort((a, b) =>
    Number(a.diverged) - Number(b.diverged) || b.rung - a.rung ||
    (a.validationLoss ?? Infinity) - (b.validationLoss ?? Infinity) || a.index - b.index
  );
}

/** The training parameters a search recommends: dropout, learning rate and L2 weight decay. */
export type BestParams = Pick<TrialParams, "dropout" | "lr" | "l2">;

/** The study's best parameters, used until a search of this toolkit has written its own. */
export const STUDY_BEST_PARAMS: BestParams = STUDY.bestParams;

/** Training parameters as one line, e.g. `dropout 0.1508, lr 3.47e-4, L2 4.65e-6`. */
export function describeParams({ dropout, lr, l2 }: BestParams): string {
  return `dropout ${dropout.toFixed(4)}, lr ${lr.toExponential(2)}, L2 ${l2.toExponential(2)}`;
}

/** Whether `params` are the study's own best parameters, value for value. */
export function isStudyParams({ dropout, lr, l2 }: BestParams): boolean {
  const study = STUDY_BEST_PARAMS;
  return dropout === study.dropout && lr === study.lr && l2 === study.l2;
}

/** The `source` of {@link loadBestParams} where no search has written its own: the study's. */
export const STUDY_PARAMS_SOURCE = "the study's best parameters";

/** Where `deno task search` writes its best combination, relative to the results root. */
export const BEST_PARAMS_FILE = "search/best_params.json";

/**
 * The parameters that `train`, `sweep` and `denoise` use by default: those of the last search under
 * `resultsRoot` when it wrote `search/best_params.json`, else the study's. Says which in `source`.
 */
export async function loadBestParams(
  resultsRoot: string,
): Promise<{ params: BestParams; source: string }> {
  const path = `${resultsRoot}/${BEST_PARAMS_FILE}`;
  const saved = await readJsonIfExists<BestParams>(path);
  if (!saved) return { params: STUDY_BEST_PARAMS, source: STUDY_PARAMS_SOURCE };
  const { dropout, lr, l2 } = saved;
  if (![dropout, lr, l2].every(Number.isFinite)) throw new Error(`${path}: not a parameter set`);
  return { params: { dropout, lr, l2 }, source: path };
}
