/**
 * What `deno task classify` leaves, from what `classify.ts` measured: `classify.json`, the loss per epoch
 * (`loss.{svg,png}`), which digits the classifier confuses (`confusion.{svg,png}`) and the report's
 * section.
 *
 * @module
 */
import { formatRate } from "../train/fit.ts";
import { join } from "node:path";
import { lineChart, writeChart } from "../figures/charts.ts";
import { writeJsonAtomic } from "../files/atomic.ts";
import { publishSection } from "../report.ts";
import type { ClassifierResults } from "./classify.ts";
import { confusionChart, percent } from "./identity.ts";

/**
 * Writes `classify.json`, `loss.{svg,png}`, `confusion.{svg,png}` and the report section into `out`;
 * returns the summary line of the report.
 */
export async function writeClassifierResults(
  out: string,
  results: ClassifierResults,
): Promise<string> {
  const { record, training, accuracy, confusion, seconds, samplesPerSecond, testImages } = results;
  await writeJsonAtomic(join(out, "classify.json"), {
    parameters: results.parameters,
    training,
    seed: results.seed,
    engine: record.engine,
    trainImages: results.trainImages,
    testImages,
    testAccuracy: accuracy,
    misread: testImages - Math.round(accuracy * testImages),
    confusion,
    trainingSeconds: seconds,
    samplesPerSecond,
    epochs: record.history,
  });
  const epochs = record.history.map((epoch) => epoch.epoch);
  await writeChart(
    join(out, "loss"),
    await lineChart({
      title: "Digit classifier: loss per epoch",
      x: { title: "epoch", whole: true },
      y: { title: "cross-entropy (nats per digit)", log: true },
      legend: "split",
      series: [
        { name: "train", x: epochs, y: record.history.map((r) => r.trainLoss) },
        { name: "validation", x: epochs, y: record.history.map((r) => r.validationLoss ?? NaN) },
        { name: "test", x: epochs, y: record.history.map((r) => r.testLoss ?? NaN) },
      ],
    }),
  );
  await writeChart(
    join(out, "confusion"),
    await confusionChart(`Clean test digits as the classifier reads them`, {
      classifier: confusion,
    }),
  );
  const summary =
    `The digit classifier (${
      results.parameters.toLocaleString("en-US")
    } parameters) trained ${record.history.length} epochs on ${results.trainImages} images (batch ` +
    `${training.batchSize}, lr ${training.lr} times ${training.lrDecay} each epoch, L2 ` +
    `${training.l2}, dropout ${training.dropout}) by ` +
    `${record.engine}, in ${Math.round(seconds)} s (${
      formatRate(samplesPerSecond)
    } samples/s); it reads ${percent(accuracy)} of ${
      testImages.toLocaleString("en-US")
    } test digits correctly.`;
  await publishSection(out, {
    title: "Digit classifier",
    items: [
      {
        kind: "text",
        text: `${summary} It scores the identity of reconstructed digits in the sections below: ` +
          "the share of them it still reads as the digit they were.",
      },
      { kind: "figure", file: "loss.png", caption: "Train, validation and test loss per epoch." },
      {
        kind: "figure",
        file: "confusion.png",
        caption: "Each true digit of the test set, read by the classifier (percent of the digit).",
      },
    ],
  });
  return summary;
}
