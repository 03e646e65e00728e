/**
 * What `deno task train` leaves: the history of its epochs, a loss curve, the first test digits beside
 * their reconstructions and the report's section — put together from one training's result.
 *
 * @module
 */
import { join } from "node:path";
import { counted } from "../cli.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import { lineChart, writeChart } from "../figures/charts.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../predict.ts";
import { type Finding, publishSection, type ReportItem } from "../report.ts";
import type { TrainingParams } from "../experiment.ts";
import { describeParams } from "../search.ts";
import { overallRate } from "../train/fit.ts";
import { closeTo, STUDY } from "./findings.ts";
import type { FitResult } from "../train/trainer.ts";

/** Test digits shown beside their reconstructions. */
const PREVIEW_DIGITS = 10;

/** One training's result, as `train` hands it over to be written. */
export interface TrainingOutcome {
  /** The model's latent size and how it trained. */
  hidden: number;
  params: TrainingParams;
  seed: number;
  /** What trained it, e.g. `1 worker, tfjs wasm each`. */
  engine: string;
  trainImages: number;
  result: FitResult;
  /** The trained model; none where the training diverged. */
  model?: Autoencoder;
  /** Test digits to show reconstructed. */
  test: Digits;
}

/**
 * Writes `history.json`, `loss.{svg,png}`, `reconstructions.png` (where there is a model) and the report
 * section into `out`; returns the summary line of the report.
 */
export async function writeTrainingResults(out: string, outcome: TrainingOutcome): Promise<string> {
  const { hidden, params, result, model } = outcome;
  const { history, diverged } = result;
  const final = history.at(-1)!;
  const samplesPerSecond = overallRate(history, outcome.trainImages);
  await writeJsonAtomic(join(out, "history.json"), {
    hidden,
    params,
    seed: outcome.seed,
    engine: outcome.engine,
    trainImages: outcome.trainImages,
    diverged,
    epochsTrained: history.length,
    samplesPerSecond,
    finalTestLoss: final.testLoss,
    epochs: history,
  });
  const items: ReportItem[] = [];
  // A run that diverged from its first epoch has no finite loss to draw.
  if (history.some((record) => Number.isFinite(record.trainLoss))) {
    const epochs = history.map((record) => record.epoch);
    await writeChart(
      join(out, "loss"),
      await lineChart({
        title: `Loss per epoch, d = ${hidden}`,
        x: { title: "epoch", whole: true },
        y: { title: "mean squared error per pixel", log: true },
        legend: "split",
        series: [
          { name: "train", x: epochs, y: history.map((r) => r.trainLoss) },
          { name: "validation", x: epochs, y: history.map((r) => r.validationLoss ?? NaN) },
          { name: "test", x: epochs, y: history.map((r) => r.testLoss ?? NaN) },
        ],
      }),
    );
    items.push({
      kind: "figure",
      file: "loss.png",
      caption: "Train, validation and test loss per epoch.",
    });
  }
  if (model) {
    const preview = outcome.test.images.subarray(0, PREVIEW_DIGITS * IMAGE_PIXELS);
    const indices = [...Array(Math.min(PREVIEW_DIGITS, outcome.test.count)).keys()];
    const rows = [preview, await reconstructPixels(model, preview)].map((pixels) =>
      pickImages(pixels, indices)
    );
    await writeFileAtomic(join(out, "reconstructions.png"), encodeDigitGrid(rows));
    items.push({
      kind: "figure",
      file: "reconstructions.png",
      caption: `The first ${indices.length} test digits (top) and their reconstructions (bottom).`,
    });
  }
  const outcomeText = diverged
    ? `diverged at epoch ${final.epoch} (a loss turned NaN or infinite), so no model was saved`
    : `final test loss ${final.testLoss?.toFixed(5)}`;
  const rate = Math.round(samplesPerSecond).toLocaleString("en-US");
  const summary = `${counted(history.length, "epoch")} on ${outcome.trainImages} images with ` +
    `${describeParams(params)} (${params.source}), trained by ${outcome.engine} at ${rate} ` +
    `samples/s; ${outcomeText} (the study reports ${STUDY.testLoss.value} for d = 4 after ` +
    `${STUDY.testLoss.epochs} epochs).`;
  await publishSection(out, {
    title: `Training: d = ${hidden}`,
    items: [{ kind: "text", text: summary }, ...items],
    findings: trainingFindings({ ...outcome, testImages: outcome.test.count }),
  });
  return summary;
}

/**
 * What a training judges of the study: the d = 4 model's test loss after its epochs (for another d,
 * nothing).
 */
export function trainingFindings(
  outcome: Pick<TrainingOutcome, "hidden" | "result" | "trainImages"> & { testImages: number },
): Finding[] {
  if (outcome.hidden !== 4) return [];
  const { history, diverged } = outcome.result;
  const loss = diverged ? null : history.at(-1)?.testLoss ?? null;
  const budget = {
    epochs: history.length,
    trainImages: outcome.trainImages,
    testImages: outcome.testImages,
  };
  return [
    closeTo(
      `test loss of the d = 4 model after ${STUDY.testLoss.epochs} epochs`,
      STUDY.testLoss.value,
      loss,
      budget,
      STUDY.testLoss.epochs,
    ),
  ];
}
