/**
 * What `deno task sweep` leaves, put together from its trainings' results: each size's weights
 * (`model-d<d>.safetensors`), the final losses per size with the exponential fitted to the test loss
 * against d (and Spearman's ρ, whether the loss falls with d at all), the loss-against-d chart, the same
 * test digits reconstructed by every size, the tables and the report's section.
 *
 * @module
 */
import { join } from "node:path";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import type { TrainingParams } from "../experiment.ts";
import { scatterChart, writeChart } from "../figures/charts.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { Autoencoder } from "../model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../predict.ts";
import { csvTable, type Finding, markdownTable, publishSection } from "../report.ts";
import { describeParams } from "../search_space.ts";
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

/** A sweep's trainings, as `sweep` hands them over to be written. */
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

/**
 * Writes every size's weights, `sweep.{json,csv}`, `loss_vs_hidden.{svg,png}`,
 * `reconstructions_by_hidden.png` and the report section into `out`; returns the table as Markdown.
 */
export async function writeSweepResults(out: string, outcome: SweepOutcome): Promise<string> {
  const { sizes, params } = outcome;
  const results = outcome.records.map((record, i) => sizeResult(sizes[i], record));
  const converged = results.filter((r) => r.finalTestLoss !== null);
  const trend = sweepTrend(converged);

  // Weights of each size that converged, and the same test digits reconstructed by each.
  const preview = outcome.test.images.subarray(0, PREVIEW_DIGITS * IMAGE_PIXELS);
  const columns = [...Array(Math.min(PREVIEW_DIGITS, outcome.test.count)).keys()];
  const rows = [pickImages(preview, columns)];
  for (const [i, hidden] of sizes.entries()) {
    const weightsPath = join(out, `model-d${hidden}.safetensors`);
    if (results[i].diverged) {
      await Deno.remove(weightsPath).catch(() => {}); // none of an earlier run beside these results
      continue;
    }
    const { weights } = await readTrainingState(outcome.folder, outcome.records[i].id);
    const model = Autoencoder.fromWeights({ hidden, dropout: params.dropout }, weights);
    await model.save(weightsPath);
    rows.push(pickImages(await reconstructPixels(model, preview), columns));
    model.dispose();
  }
  await writeFileAtomic(
    join(out, "reconstructions_by_hidden.png"),
    encodeDigitGrid(rows, { separateAfter: [0] }),
  );

  // The chart of loss against d with the fit.
  const lossFigure = "loss_vs_hidden";
  if (converged.length > 0) {
    await writeChart(
      join(out, lossFigure),
      await scatterChart({
        title: trend.fit
          ? `Final test loss against hidden size (×${
            trend.fit.factorPerUnit.toFixed(3)
          } per unit of d)`
          : "Final test loss against hidden size",
        x: { title: "hidden size d", values: converged.map((r) => r.hidden), whole: true },
        y: {
          title: "final test loss (MSE per pixel)",
          values: converged.map((r) => r.finalTestLoss!),
          log: true,
        },
        trend: trend.fit ? "exponential" : undefined,
      }),
    );
  } else {
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${lossFigure}.${extension}`)).catch(() => {});
    }
  }

  // The table (JSON, CSV, report), with the fitted loss beside each measured one.
  const fitted = (hidden: number) =>
    trend.fit ? trend.fit.scale * Math.exp(trend.fit.rate * hidden) : null;
  const headers = [
    "d",
    "final train loss",
    "final validation loss",
    "final test loss",
    "fitted test loss",
  ];
  const tableRows = (show: (value: number | null) => string | number) =>
    results.map((r) => [
      r.hidden,
      ...[r.finalTrainLoss, r.finalValidationLoss, r.finalTestLoss, fitted(r.hidden)].map(show),
    ]);
  await writeJsonAtomic(join(out, "sweep.json"), {
    params,
    epochs: params.epochs,
    batchSize: params.batchSize,
    seed: outcome.seed,
    trainImages: outcome.trainImages,
    testImages: outcome.test.count,
    fit: trend.fit,
    spearman: trend.spearman,
    sizes: results,
  });
  await writeFileAtomic(
    join(out, "sweep.csv"),
    csvTable(headers, tableRows((value) => value ?? "diverged")),
  );
  const shownRows = tableRows((value) => value === null ? "diverged" : value.toFixed(5));
  const diverged = results.filter((r) => r.diverged).map((r) => `d = ${r.hidden}`);
  const trained = `One model per latent size d = ${sizes.join(", ")}, each trained ` +
    `${params.epochs} epochs on ${outcome.trainImages} images with ${describeParams(params)} ` +
    `(${params.source}); losses on ${outcome.test.count} test images.`;
  await publishSection(out, {
    title: "Hidden-layer size",
    findings: sweepFindings(trend, sizes),
    items: [
      {
        kind: "text",
        text: trained + (diverged.length > 0 ? ` Diverged: ${diverged.join(", ")}.` : "") +
          describeTrend(trend),
      },
      ...(converged.length > 0
        ? [{
          kind: "figure" as const,
          file: `${lossFigure}.png`,
          caption:
            "Final test loss of each size on a log scale, with an exponential fitted to it " +
            "(drawn by Vega-Lite's regression; the table's fit is least squares on ln(loss)): a " +
            "straight line means each unit of d cuts the loss by the same factor.",
        }]
        : []),
      {
        kind: "figure",
        file: "reconstructions_by_hidden.png",
        caption: `The first ${columns.length} test digits (top, set apart by a white line) and ` +
          `their reconstructions by d = ${
            sizes.filter((_, i) => !results[i].diverged).join(", ")
          }, one row each, top to bottom.`,
      },
      {
        kind: "table",
        caption: "Final losses per size, and the fitted test loss.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (converged.length === 0) throw new Error(`every size diverged; wrote ${out}/`);
  return markdownTable(headers, shownRows);
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

/** The trend in words, as the report states it. */
function describeTrend({ fit, spearman }: SweepTrend): string {
  if (!fit || spearman === null) return "";
  return ` The final test loss changes by a factor of ${
    fit.factorPerUnit.toFixed(3)
  } per unit of ` +
    `d: ln(loss) = ${signed(Math.log(fit.scale), 3)} ${fit.rate < 0 ? "−" : "+"} ` +
    `${Math.abs(fit.rate).toFixed(4)}·d (least squares, R² = ${fit.r2.toFixed(3)}); Spearman's ` +
    `ρ of loss with d is ${signed(spearman, 3)}.`;
}

/** `value` to `digits` decimals, negative with a minus sign (−), not a hyphen. */
function signed(value: number, digits: number): string {
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
