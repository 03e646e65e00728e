/**
 * What `deno task classify` leaves: the digit classifier's weights, its test accuracy and which digits it
 * confuses, its loss per epoch, and the report's section — put together from its training's record.
 *
 * @module
 */
import { join } from "node:path";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import { lineChart, writeChart } from "../figures/charts.ts";
import { writeJsonAtomic } from "../files/atomic.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { publishSection } from "../report.ts";
import { formatRate, overallRate } from "../train/fit.ts";
import type { TrainingRecord } from "../train/trainings.ts";
import { confusionChart, confusionMatrix, identityShare, percent } from "./identity.ts";

/**
 * How the classifier trains unless flags say otherwise: 4 epochs, the learning rate halved after each, in
 * about two minutes on a CPU core.
 */
export const CLASSIFIER_TRAINING = {
  epochs: 4,
  batchSize: 128,
  lr: 3e-3,
  lrDecay: 0.5,
  l2: 0,
  dropout: 0.25,
} as const;

/** How the classifier was trained: {@link CLASSIFIER_TRAINING}'s settings, as the flags gave them. */
export type ClassifierTraining = { -readonly [K in keyof typeof CLASSIFIER_TRAINING]: number };

/** The classifier's training, as `classify` hands it over to be written. */
export interface ClassifierOutcome {
  classifier: Classifier;
  record: TrainingRecord;
  training: ClassifierTraining;
  seed: number;
  trainImages: number;
  test: Digits;
}

/**
 * Writes `classify.json`, `loss.{svg,png}`, `confusion.{svg,png}` and the report section into `out`;
 * returns the summary line of the report.
 */
export async function writeClassifierResults(
  out: string,
  outcome: ClassifierOutcome,
): Promise<string> {
  const { classifier, record, training, test } = outcome;
  const labels = test.labels.subarray(0, test.count);
  const readings = await classifier.predict(test.images.subarray(0, test.count * IMAGE_PIXELS));
  const accuracy = identityShare(readings, labels);
  const confusion = confusionMatrix(labels, readings);
  const samplesPerSecond = overallRate(record.history, outcome.trainImages);
  const seconds = record.history.reduce((sum, epoch) => sum + epoch.seconds, 0);
  await writeJsonAtomic(join(out, "classify.json"), {
    parameters: classifier.parameterCount,
    training,
    seed: outcome.seed,
    engine: record.engine,
    trainImages: outcome.trainImages,
    testImages: test.count,
    testAccuracy: accuracy,
    misread: test.count - Math.round(accuracy * test.count),
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
      classifier.parameterCount.toLocaleString("en-US")
    } parameters) trained ${record.history.length} epochs on ${outcome.trainImages} images (batch ` +
    `${training.batchSize}, lr ${training.lr} times ${training.lrDecay} each epoch, L2 ` +
    `${training.l2}, dropout ${training.dropout}) by ` +
    `${record.engine} in ${Math.round(seconds)} s (${
      formatRate(samplesPerSecond)
    } samples/s); it reads ${percent(accuracy)} of ${
      test.count.toLocaleString("en-US")
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
