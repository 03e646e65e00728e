/**
 * What `deno task sweep` sums up of its trainings' results: each size's model and final losses, the
 * exponential fitted to the test loss against d (and Spearman's ρ, whether the loss falls with d at
 * all), the same test digits reconstructed by every size, and what it judges of the study;
 * `sweep_files.ts` writes it.
 *
 * @module
 */
import type { Pixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import type { TrainingParams } from "../experiment.ts";
import { Autoencoder } from "../model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../predict.ts";
import type { Finding } from "../report.ts";
import { type ExponentialFit, fitExponential, spearman } from "../stats.ts";
import { lossHistory, readTrainingState, type TrainingRecord } from "../train/trainings.ts";
import { EXPONENTIAL_R2, FALLING_RHO, holdsWhen } from "./findings.ts";

/** Test digits shown reconstructed by every size. */
const PREVIEW_DIGITS = 10;

/** The result of one latent size, as `sweep.json` keeps it. */
export interface SizeResult {
  hidden: number;
  diverged: boolean;
  finalTrainLoss: number | null;
  finalValidationLoss: number | null;
  finalTestLoss: number | null;
  /** Its losses after each epoch. */
  epochs: ReturnType<typeof lossHistory>;
}

/** The trend of the final test loss against d. */
export interface SweepTrend {
  /** The exponential fitted to the converged sizes' test losses; null with fewer than two. */
  fit: ExponentialFit | null;
  /** Spearman's rank correlation of test loss with d (−1: falls with every step of d). */
  spearman: number | null;
}

/** A sweep's trainings, as `sweep` hands them over to be summed up. */
export interface SweepOutcome {
  sizes: number[];
  /** Each size's record, in the order of `sizes`. */
  records: TrainingRecord[];
  /** Where the records and states are. */
  folder: string;
  params: TrainingParams;
  seed: number;
  trainImages: number;
  test: Digits;
}

/** A sweep's numbers, models and preview, as `sweep_files.ts` writes them. */
export interface SweepResults {
  sizes: number[];
  params: TrainingParams;
  seed: number;
  trainImages: number;
  testImages: number;
  /** Each size's result, in the order of `sizes`. */
  results: SizeResult[];
  trend: SweepTrend;
  /** Each size's trained model, in the order of `sizes`; none where it diverged. */
  models: (Autoencoder | undefined)[];
  /** The first test digits (top row) and their reconstruction by each size that converged. */
  preview: Pixels[][];
  findings: Finding[];
}

/**
 * Sums up the trainings of `outcome`: each size's final losses, the trend against d, each size's model
 * (from its training's state) and its reconstructions of the first test digits; the caller disposes the
 * models.
 */
export async function summarizeSweep(outcome: SweepOutcome): Promise<SweepResults> {
  const { sizes, params } = outcome;
  const results = outcome.records.map((record, i) => sizeResult(sizes[i], record));
  const trend = sweepTrend(results.filter((r) => r.finalTestLoss !== null));

  // Each size that converged, and the same test digits reconstructed by each.
  const shown = outcome.test.images.subarray(0, PREVIEW_DIGITS * IMAGE_PIXELS);
  const columns = [...Array(Math.min(PREVIEW_DIGITS, outcome.test.count)).keys()];
  const preview = [pickImages(shown, columns)];
  const models: (Autoencoder | undefined)[] = [];
  for (const [i, hidden] of sizes.entries()) {
    if (results[i].diverged) {
      models.push(undefined);
      continue;
    }
    const { weights } = await readTrainingState(outcome.folder, outcome.records[i].id);
    const model = Autoencoder.fromWeights({ hidden, dropout: params.dropout }, weights);
    models.push(model);
    preview.push(pickImages(await reconstructPixels(model, shown), columns));
  }
  return {
    sizes,
    params,
    seed: outcome.seed,
    trainImages: outcome.trainImages,
    testImages: outcome.test.count,
    results,
    trend,
    models,
    preview,
    findings: sweepFindings(trend, sizes),
  };
}

/**
 * The trend of the final test loss against d over `converged` sizes: the exponential fit and Spearman's ρ.
 *
 * @example
 * ```ts
 * import { sweepTrend } from "./sweep.ts";
 * const trend = sweepTrend([1, 2, 3].map((hidden) => ({ hidden, finalTestLoss: 0.1 / hidden })));
 * console.log(trend.spearman); // -1
 * ```
 */
export function sweepTrend(
  converged: readonly { hidden: number; finalTestLoss: number | null }[],
): SweepTrend {
  if (converged.length < 2) return { fit: null, spearman: null };
  const x = converged.map((r) => r.hidden);
  const y = converged.map((r) => r.finalTestLoss!);
  return { fit: fitExponential(x, y), spearman: spearman(x, y) };
}

/**
 * What a sweep judges of the study: that the final test loss falls with d (Spearman's ρ at most
 * {@link FALLING_RHO}), and that it does so exponentially (R² of ln(loss) against d at least
 * {@link EXPONENTIAL_R2}), with the factor per unit of d. Both hold or fail at any budget.
 *
 * @example
 * ```ts
 * import { sweepFindings, sweepTrend } from "./sweep.ts";
 * const trend = sweepTrend([1, 2, 3, 4].map((hidden) => ({ hidden, finalTestLoss: 0.1 * 0.9 ** hidden })));
 * console.log(sweepFindings(trend, [1, 2, 3, 4]).map((f) => f.verdict)); // ["reproduced", "reproduced"]
 * ```
 */
export function sweepFindings({ fit, spearman }: SweepTrend, sizes: number[]): Finding[] {
  const range = `d = ${sizes[0]}…${sizes.at(-1)}`;
  const none = "fewer than two sizes converged";
  return [
    holdsWhen(
      `test loss falls with the hidden size (${range})`,
      "falls as d grows",
      `Spearman's ρ ≤ ${signed(FALLING_RHO, 1)}`,
      spearman === null ? "—" : `ρ = ${signed(spearman, 3)}`,
      spearman !== null && spearman <= FALLING_RHO,
      spearman === null ? none : `rank correlation of the final test loss with d`,
    ),
    holdsWhen(
      `test loss is exponential in the hidden size (${range})`,
      "ln(loss) linear in d",
      `R² ≥ ${EXPONENTIAL_R2}, falling`,
      fit ? `×${fit.factorPerUnit.toFixed(3)} per unit of d, R² = ${fit.r2.toFixed(3)}` : "—",
      fit !== null && fit.r2 >= EXPONENTIAL_R2 && fit.rate < 0,
      fit ? "least squares on ln(loss) against d" : none,
    ),
  ];
}

/**
 * `value` to `digits` decimals, negative with a minus sign (−), not a hyphen.
 *
 * @example
 * ```ts
 * import { signed } from "./sweep.ts";
 * console.log(signed(-0.98765, 3)); // "−0.988"
 * ```
 */
export function signed(value: number, digits: number): string {
  return value.toFixed(digits).replace("-", "−");
}

/** A size's final losses (null where it diverged) and its history. */
function sizeResult(hidden: number, record: TrainingRecord): SizeResult {
  const final = record.history.at(-1);
  const finite = (value: number | null | undefined) =>
    value !== null && value !== undefined && Number.isFinite(value) ? value : null;
  return {
    hidden,
    diverged: record.diverged,
    finalTrainLoss: record.diverged ? null : finite(final?.trainLoss),
    finalValidationLoss: record.diverged ? null : finite(final?.validationLoss),
    finalTestLoss: record.diverged ? null : finite(final?.testLoss),
    epochs: lossHistory(record.history),
  };
}
