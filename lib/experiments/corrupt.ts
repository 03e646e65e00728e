/**
 * What `deno task corrupt` measures of the trained autoencoder on corrupted test digits: its loss on the
 * clean ones, the loss and identity curves over the corruption levels (`identity.ts`), and under each
 * corruption of the figures its mean loss and the best and worst reconstructed digits — the study's
 * Figures 2–5 — chosen by their loss, with the classifier's reading of each. All of it from one
 * reconstruction of each corrupted set; `corrupt_files.ts` writes it.
 *
 * @module
 */
import type { Corruption } from "../corrupt.ts";
import type { Pixels } from "../data/batches.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { averageLoss, bestAndWorst, pickImages } from "../predict.ts";
import type { BackendSetup } from "../tfjs.ts";
import type { Inference } from "../train/inference.ts";
import {
  describeReadings,
  type IdentityResults,
  type LabelledPixels,
  lossCurves,
  measureIdentity,
} from "./identity.ts";
import type { CorruptionCurve, RobustnessSettings } from "./robustness.ts";

/** What `corrupt` measures with: the trained model, the classifier, the test digits and the settings. */
export interface CorruptInputs {
  model: Autoencoder;
  classifier: Classifier;
  test: LabelledPixels;
  settings: RobustnessSettings;
  seed: number;
  /** Best and worst test digits shown per figure. */
  digits: number;
  /** The tfjs backend set up in this thread. */
  backend: BackendSetup;
  /** What runs the model and the classifier. */
  inference: Inference;
}

/** One test digit of a figure: its index, its reconstruction's loss, its label and the reading. */
export interface PickedDigit {
  index: number;
  loss: number;
  label: number;
  reading: number;
}

/** The best or the worst reconstructed digits under one corruption. */
export type Which = "best" | "worst";

/** Under one corruption of the figures: the mean loss and the best and worst reconstructed digits. */
export interface CorruptionExamples {
  corruption: Corruption;
  meanLoss: number;
  best: PickedDigit[];
  worst: PickedDigit[];
  /** How the classifier reads the picked digits' reconstructions (true → read). */
  readings: Record<Which, string>;
  /** Each figure's rows: the picked digits original, corrupted and reconstructed. */
  rows: Record<Which, Pixels[][]>;
}

/** Everything `corrupt` measured, as `corrupt_files.ts` writes it. */
export interface CorruptResults {
  settings: RobustnessSettings;
  hidden: number;
  backend: BackendSetup;
  /** What ran the model and the classifier (`Inference.description`). */
  inference: string;
  seed: number;
  testImages: number;
  digits: number;
  /** The model's loss on the clean test digits. */
  cleanLoss: number;
  curves: CorruptionCurve[];
  identity: IdentityResults;
  examples: CorruptionExamples[];
}

/**
 * Measures the trained model of `inputs` on its corrupted test digits: the curves, identity and each
 * figure corruption's best and worst digits, from one reconstruction of each corrupted set.
 */
export async function measureCorruption(inputs: CorruptInputs): Promise<CorruptResults> {
  const { model, classifier, test, settings, seed, digits, inference } = inputs;
  const { pixels: clean, labels } = test;
  const measured = await measureIdentity(
    [{ name: "standard", model }],
    classifier,
    test,
    settings,
    seed,
    inference,
  );
  const examples = measured.at.map(({ corruption, inputs: corrupted, models }) => {
    const { pixels: reconstructed, losses, readings } = models.standard;
    const picks = bestAndWorst(losses, digits);
    const describe = (indices: number[]) =>
      indices.map((index) => ({
        index,
        loss: losses[index],
        label: labels[index],
        reading: readings[index],
      }));
    const rows = (indices: number[]) =>
      [clean, corrupted, reconstructed].map((pixels) => pickImages(pixels, indices));
    return {
      corruption,
      meanLoss: averageLoss(losses),
      best: describe(picks.best),
      worst: describe(picks.worst),
      readings: {
        best: describeReadings(labels, readings, picks.best),
        worst: describeReadings(labels, readings, picks.worst),
      },
      rows: { best: rows(picks.best), worst: rows(picks.worst) },
    };
  });
  return {
    settings,
    hidden: model.config.hidden,
    backend: inputs.backend,
    inference: inference.description,
    seed,
    testImages: labels.length,
    digits,
    cleanLoss: measured.cleanLosses.standard,
    curves: lossCurves(measured.identity),
    identity: measured.identity,
    examples,
  };
}
