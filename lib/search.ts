/**
 * The random hyper-parameter search of the study: the seed's parameter generator, k-fold splits, and a trial
 * log that saves each finished trial as it ends, so an interrupted search resumes where it stopped.
 *
 * @module
 */
import { readJsonIfExists, UsageError, writeJsonAtomic } from "./cli.ts";
import { DEFAULT_CONFIG } from "./model/autoencoder.ts";
import { createRng, permutation } from "./random.ts";

/** The hyper-parameters one trial trains with. */
export interface TrialParams {
  dropout: number;
  lr: number;
  l2: number;
  hidden: number;
}

/** A finished trial: its parameters and validation loss, or `diverged` when the loss turned NaN/infinite. */
export interface TrialRecord {
  index: number;
  params: TrialParams;
  /** Mean validation loss over the folds; null when diverged. */
  validationLoss: number | null;
  /** Validation loss of each fold (one entry without cross-validation). */
  foldLosses: (number | null)[];
  diverged: boolean;
  seconds: number;
}

/** The seed's range of learning rates, drawn log-uniformly: 10^U(−4, −1). */
export const LR_RANGE: readonly [number, number] = [1e-4, 1e-1];

/**
 * The seed's parameter generator: dropout ~ U[0, 0.5], lr = 10^U(−4, −1), L2 = 10^U(−6, −2), hidden fixed.
 * `lrRange` narrows or moves the learning rates (still log-uniform between its ends).
 *
 * @example
 * ```ts
 * import { generateParams } from "./search.ts";
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

/** The file a {@link TrialLog} keeps its finished records in, with the settings they belong to. */
interface TrialFile<R> {
  settings: unknown;
  trials: R[];
}

/**
 * The finished trials of a search (or any run of independent pieces of work, each numbered by `index`, like
 * the sizes of a sweep), kept in a JSON file rewritten atomically after each one. Reopening the file with
 * the same settings resumes the run; different settings are refused, so a resumed run never mixes trials of
 * two configurations.
 *
 * @example
 * ```ts
 * import { TrialLog } from "./search.ts";
 * const path = `${await Deno.makeTempDir()}/trials.json`;
 * const log = await TrialLog.open<{ index: number; loss: number }>(path, { epochs: 10 });
 * if (!log.has(0)) await log.record({ index: 0, loss: 0.03 });
 * console.log((await TrialLog.open(path, { epochs: 10 })).trials.length); // 1
 * ```
 */
export class TrialLog<R extends { index: number } = TrialRecord> {
  #path: string;
  #file: TrialFile<R>;

  private constructor(path: string, file: TrialFile<R>) {
    this.#path = path;
    this.#file = file;
  }

  /**
   * Opens the log at `path` for a run with `settings` (any JSON value: the parameters, epochs, seed…),
   * keeping the records already there when the settings match, and starting afresh when `fresh` (the file
   * emptied at once, so that a run stopped before its first record does not bring the old ones back).
   * Other settings are a {@link UsageError}.
   */
  static async open<R extends { index: number } = TrialRecord>(
    path: string,
    settings: unknown,
    fresh = false,
  ): Promise<TrialLog<R>> {
    const existing = fresh ? undefined : await readJsonIfExists<TrialFile<R>>(path);
    if (existing && JSON.stringify(existing.settings) !== JSON.stringify(settings)) {
      throw new UsageError(
        `${path} holds results of a run with other settings; pass --fresh to start again or --out elsewhere`,
      );
    }
    const log = new TrialLog<R>(path, existing ?? { settings, trials: [] });
    if (fresh) await writeJsonAtomic(path, log.#file);
    return log;
  }

  /** The finished records, in the order they finished. */
  get trials(): readonly R[] {
    return this.#file.trials;
  }

  /** Whether record `index` has finished. */
  has(index: number): boolean {
    return this.#file.trials.some((trial) => trial.index === index);
  }

  /** Records a finished trial and saves the log at once. */
  async record(trial: R): Promise<void> {
    this.#file.trials = [...this.#file.trials.filter((t) => t.index !== trial.index), trial];
    await writeJsonAtomic(this.#path, this.#file);
  }
}

/** The trials sorted by validation loss, best first, diverged ones last. */
export function rankTrials(trials: readonly TrialRecord[]): TrialRecord[] {
  return [...trials].sort((a, b) =>
    (a.validationLoss ?? Infinity) - (b.validationLoss ?? Infinity) || a.index - b.index
  );
}

/** The training parameters a search recommends: dropout, learning rate and L2 weight decay. */
export type BestParams = Pick<TrialParams, "dropout" | "lr" | "l2">;

/** The seed's best parameters, used until a search of this toolkit has written its own. */
export const SEED_BEST_PARAMS: BestParams = {
  dropout: DEFAULT_CONFIG.dropout,
  lr: DEFAULT_CONFIG.lr,
  l2: DEFAULT_CONFIG.l2,
};

/** Training parameters as one line, e.g. `dropout 0.1508, lr 3.47e-4, L2 4.65e-6`. */
export function describeParams({ dropout, lr, l2 }: BestParams): string {
  return `dropout ${dropout.toFixed(4)}, lr ${lr.toExponential(2)}, L2 ${l2.toExponential(2)}`;
}

/** Where `deno task search` writes its best combination, relative to the results root. */
export const BEST_PARAMS_FILE = "search/best_params.json";

/**
 * The parameters that `train`, `sweep` and `denoise` use by default: those of the last search under
 * `resultsRoot` when it wrote `search/best_params.json`, else the seed's. Says which in `source`.
 */
export async function loadBestParams(
  resultsRoot: string,
): Promise<{ params: BestParams; source: string }> {
  const path = `${resultsRoot}/${BEST_PARAMS_FILE}`;
  const saved = await readJsonIfExists<BestParams>(path);
  if (!saved) return { params: SEED_BEST_PARAMS, source: "the seed's best parameters" };
  const { dropout, lr, l2 } = saved;
  if (![dropout, lr, l2].every(Number.isFinite)) throw new Error(`${path}: not a parameter set`);
  return { params: { dropout, lr, l2 }, source: path };
}
