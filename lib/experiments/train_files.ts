/**
 * What `deno task train` leaves, from what `train.ts` summed up: the history of its epochs
 * (`history.json`), a loss curve (`loss.{svg,png}`), the first test digits beside their reconstructions
 * (`reconstructions.png`) and the report's section.
 *
 * @module
 */
import { counted } from "../cli.ts";
import { formatRate } from "../train/fit.ts";
import { join } from "node:path";
import { lineChart, writeChart } from "../figures/charts.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { publishSection, type ReportItem } from "../report.ts";
import { describeParams } from "../search_space.ts";
import { STUDY } from "../paper.ts";
import { type Contender, finalTestLoss, type TrainingResults } from "./train.ts";

/** How the loss chart names the study's parameters trained beside a search's pick. */
const STUDYS_PARAMS = "the study's parameters";

/** The contender in one sentence: what trained beside the pick, and where it ended. */
function describeContender({ params, result }: Contender): string {
  const loss = finalTestLoss(result);
  return `Beside it, with the same seed, images and epochs, ${STUDYS_PARAMS} (${
    describeParams(params)
  }) ${loss === null ? "diverged" : `reached a test loss of ${loss.toFixed(5)}`}.`;
}

/**
 * Writes `history.json`, `loss.{svg,png}`, `reconstructions.png` (where there is a model) and the report
 * section into `out`; returns the summary line of the report.
 */
export async function writeTrainingResults(out: string, results: TrainingResults): Promise<string> {
  const { hidden, params, result, contender, samplesPerSecond, preview } = results;
  const { history, diverged } = result;
  const final = history.at(-1)!;
  await writeJsonAtomic(join(out, "history.json"), {
    hidden,
    params,
    seed: results.seed,
    engine: results.engine,
    trainImages: results.trainImages,
    diverged,
    epochsTrained: history.length,
    samplesPerSecond,
    finalTestLoss: final.testLoss,
    epochs: history,
    ...(contender
      ? {
        contender: {
          params: contender.params,
          diverged: contender.result.diverged,
          finalTestLoss: finalTestLoss(contender.result),
          epochs: contender.result.history,
        },
      }
      : {}),
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
          ...(contender
            ? [{
              name: `test, ${STUDYS_PARAMS}`,
              x: contender.result.history.map((r) => r.epoch),
              y: contender.result.history.map((r) => r.testLoss ?? NaN),
            }]
            : []),
        ],
      }),
    );
    items.push({
      kind: "figure",
      file: "loss.png",
      caption: contender
        ? "Train, validation and test loss per epoch, and the test loss of the study's parameters " +
          "trained alike beside them."
        : "Train, validation and test loss per epoch.",
    });
  }
  if (preview) {
    await writeFileAtomic(join(out, "reconstructions.png"), encodeDigitGrid(preview));
    items.push({
      kind: "figure",
      file: "reconstructions.png",
      caption: `The first ${
        preview[0].length
      } test digits (top) and their reconstructions (bottom).`,
    });
  }
  const outcomeText = diverged
    ? `diverged at epoch ${final.epoch} (a loss turned NaN or infinite), so no model was saved`
    : `final test loss ${final.testLoss?.toFixed(5)}`;
  const rate = formatRate(samplesPerSecond);
  const summary = `${counted(history.length, "epoch")} on ${results.trainImages} images with ` +
    `${describeParams(params)} (${params.source}), trained by ${results.engine}, at ${rate} ` +
    `samples/s of its own; ${outcomeText} (the study reports ${STUDY.testLoss.value} for d = 4 after ` +
    `${STUDY.testLoss.epochs} epochs).${contender ? ` ${describeContender(contender)}` : ""}`;
  await publishSection(out, {
    title: `Training: d = ${hidden}`,
    items: [{ kind: "text", text: summary }, ...items],
    findings: results.findings,
  });
  return summary;
}
