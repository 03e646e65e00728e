/**
 * What `deno task classify` measures of the digit classifier it trained: its test accuracy and which
 * digits it confuses, and how fast it trained; `classify_files.ts` writes it.
 *
 * @module
 */
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { overallRate } from "../train/fit.ts";
import type { TrainingRecord } from "../train/trainings.ts";
import type { Inference } from "../train/inference.ts";
import { confusionMatrix, identityShare } from "./identity.ts";

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

/** The classifier's training, as `classify` hands it over to be evaluated. */
export interface ClassifierOutcome {
  classifier: Classifier;
  /** What runs the classifier over the test digits. */
  inference: Inference;
  record: TrainingRecord;
  training: ClassifierTraining;
  seed: number;
  trainImages: number;
  test: Digits;
}

/** The classifier's training and test numbers, as `classify_files.ts` writes them. */
export interface ClassifierResults {
  parameters: number;
  record: TrainingRecord;
  training: ClassifierTraining;
  seed: number;
  trainImages: number;
  testImages: number;
  /** The share of test digits read as what they are. */
  accuracy: number;
  /** `confusion[t][r]`: test digits t read as r. */
  confusion: number[][];
  /** Training time, in seconds over every epoch, and training samples per second. */
  seconds: number;
  samplesPerSecond: number;
}

/** Reads the test digits of `outcome` with its classifier: its accuracy and confusion, and its rate. */
export async function evaluateClassifier(outcome: ClassifierOutcome): Promise<ClassifierResults> {
  const { classifier, record, test, inference } = outcome;
  const labels = test.labels.subarray(0, test.count);
  const readings = await inference.readDigits(
    classifier,
    test.images.subarray(0, test.count * IMAGE_PIXELS),
  );
  return {
    parameters: classifier.parameterCount,
    record,
    training: outcome.training,
    seed: outcome.seed,
    trainImages: outcome.trainImages,
    testImages: test.count,
    accuracy: identityShare(readings, labels),
    confusion: confusionMatrix(labels, readings),
    seconds: record.history.reduce((sum, epoch) => sum + epoch.seconds, 0),
    samplesPerSecond: overallRate(record.history, outcome.trainImages),
  };
}
