/**
 * What `deno task denoise` measures of its denoisers' trainings: every model — the standard one and each
 * denoiser — on the same clean, noisy and occluded test images (a table) and over the corruption curves,
 * the identity each keeps of the digits (`identity.ts`), the study's Figure 6 with its occlusion
 * counterpart, and what the noise denoiser judges of the study; `denoise_files.ts` writes it.
 *
 * @module
 */
import { corrupt, type Corruption, describeCorruption } from "../corrupt.ts";
import type { Pixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { TrainingParams } from "../experiment.ts";
import { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { averageLoss, pickImages } from "../predict.ts";
import type { Finding } from "../report.ts";
import { readTrainingState, type TrainingRecord } from "../train/trainings.ts";
import { type Budget, closeTo, holdsWhen, TOLERANCE } from "./findings.ts";
import { STUDY } from "../paper.ts";
import {
  CORRUPTION_KINDS,
  type CorruptionCurve,
  type CorruptionKind,
  type NamedModel,
  type RobustnessSettings,
} from "./robustness.ts";
import type { Inference } from "../train/inference.ts";
import { describeReadings, type IdentityResults, lossCurves, measureIdentity } from "./identity.ts";

/** One trained denoiser: what it undoes and its training's record. */
export interface Denoiser {
  kind: CorruptionKind;
  corruption: Corruption;
  record: TrainingRecord;
}

/** The denoisers' trainings, as `denoise` hands them over to be measured. */
export interface DenoiseOutcome {
  standard: Autoencoder;
  denoisers: Denoiser[];
  /** Where the records and states are. */
  folder: string;
  settings: RobustnessSettings;
  params: TrainingParams;
  seed: number;
  trainImages: number;
  /** The clean test images, `count × 784` floats in [0, 1], and their labels. */
  clean: Float32Array;
  labels: Uint8Array;
  /** The digit classifier that scores whether a digit keeps its identity. */
  classifier: Classifier;
  /** What runs the models and the classifier. */
  inference: Inference;
  /** Test digits in each denoising figure. */
  digits: number;
}

/** The losses a noise denoiser is judged by, on the same test images. */
export interface DenoiserLosses {
  /** The denoiser on noisy images, against the clean ones (null: it diverged). */
  denoiser: number | null;
  /** The standard model on the same noisy images, and on the clean ones. */
  standardNoisy: number;
  standardClean: number;
  corruption: Corruption;
  budget: Budget;
}

/**
 * What the noise denoiser judges of the study: its loss on noisy digits against the study's (comparable
 * only at the study's budget, parameters and noise), that it beats the standard model on them, and
 * that on noisy digits it comes within {@link TOLERANCE} of what the standard model reaches on clean
 * ones — the study's 0.030541 against 0.02995.
 */
export function denoiserFindings(losses: DenoiserLosses): Finding[] {
  const { denoiser, standardNoisy, standardClean, corruption } = losses;
  const noise = describeCorruption(corruption);
  const study = STUDY.denoiserLoss.value;
  const studyRatio = study / STUDY.testLoss.value;
  const standardLevel = corruption.kind === "noise" && corruption.std === 0.2;
  const lossRow = closeTo(
    `noise denoiser's test loss under ${noise} after ${STUDY.denoiserLoss.epochs} epochs`,
    study,
    denoiser,
    losses.budget,
    STUDY.denoiserLoss.epochs,
  );
  const ratio = denoiser === null ? null : denoiser / standardClean;
  return [
    standardLevel ? lossRow : {
      ...lossRow,
      verdict: "not comparable",
      why: `the study's noise had std 0.2, this run's ${noise}`,
    },
    holdsWhen(
      `the noise denoiser beats the standard model on noisy digits`,
      "it does",
      "denoiser's loss < standard model's, same noisy test digits",
      denoiser === null ? "diverged" : `${denoiser.toFixed(5)} against ${standardNoisy.toFixed(5)}`,
      denoiser !== null && denoiser < standardNoisy,
      `both against the clean images, under ${noise}`,
    ),
    holdsWhen(
      "on noisy digits the denoiser comes close to the standard model on clean ones",
      `${study} against ${STUDY.testLoss.value} (×${studyRatio.toFixed(3)})`,
      `within ${TOLERANCE * 100}% of the standard model's clean loss`,
      ratio === null ? "diverged" : `×${ratio.toFixed(3)} of ${standardClean.toFixed(5)}`,
      ratio !== null && ratio <= 1 + TOLERANCE,
      "the denoiser's noisy loss over the standard model's clean loss",
    ),
  ];
}

/** A denoiser as `denoise` measured it: its training, and its model where it did not diverge. */
export interface MeasuredDenoiser extends Denoiser {
  /** The trained model; none where the training diverged. */
  model?: Autoencoder;
  /**
   * Under its corruption, against the clean test images: its loss and the standard model's (none where
   * it diverged).
   */
  losses?: { denoiser: number; standard: number };
}

/** One denoising figure: test digits under a denoiser's corruption, through both models. */
export interface DenoisingFigure {
  kind: CorruptionKind;
  corruption: Corruption;
  /** Rows: the digits original, corrupted, the standard model's output, the denoiser's output. */
  rows: Pixels[][];
  /** How the classifier reads the standard model's outputs and the denoiser's (true → read). */
  readings: [string, string];
}

/** Everything `denoise` measured, as `denoise_files.ts` writes it. */
export interface DenoiseResults {
  hidden: number;
  settings: RobustnessSettings;
  params: TrainingParams;
  seed: number;
  trainImages: number;
  testImages: number;
  /** Test digits in each denoising figure. */
  digits: number;
  denoisers: MeasuredDenoiser[];
  /**
   * Every model (the standard one, then each denoiser that converged) on the same clean, noisy and
   * occluded test images: the loss against the clean images.
   */
  comparison: { headers: string[]; rows: (string | number)[][] };
  curves: CorruptionCurve[];
  identity: IdentityResults;
  /** A figure per denoiser that converged. */
  figures: DenoisingFigure[];
  findings: Finding[];
}

/**
 * Measures the standard model and each denoiser of `outcome` on the same clean, noisy and occluded test
 * images (each model reconstructs each corrupted set once, for the comparison, the curves and identity),
 * and draws each denoiser's figure; the caller disposes the denoisers' models.
 */
export async function measureDenoisers(outcome: DenoiseOutcome): Promise<DenoiseResults> {
  const { standard, settings, clean, labels, classifier, seed, inference } = outcome;
  const hidden = standard.config.hidden;
  const testImages = clean.length / IMAGE_PIXELS;
  // Each denoiser's model, from its training's state (none where it diverged).
  const denoisers: MeasuredDenoiser[] = [];
  const trained: (NamedModel & Denoiser)[] = [];
  for (const denoiser of outcome.denoisers) {
    if (denoiser.record.diverged) {
      denoisers.push(denoiser);
      continue;
    }
    const { weights } = await readTrainingState(outcome.folder, denoiser.record.id);
    const model = Autoencoder.fromWeights({ hidden, dropout: outcome.params.dropout }, weights);
    denoisers.push({ ...denoiser, model });
    trained.push({ ...denoiser, name: `${denoiser.kind} denoiser`, model });
  }

  // Comparison: every model on the same clean, noisy and occluded test images, then on the curves.
  const models: NamedModel[] = [{ name: "standard", model: standard }, ...trained];
  const measured = await measureIdentity(
    models,
    classifier,
    { pixels: clean, labels },
    settings,
    seed,
    inference,
  );
  /** A model's losses on the clean test images, then under each corruption of the figures. */
  const lossesOf = (name: string) => [
    measured.cleanLosses[name],
    ...measured.at.map((at) => averageLoss(at.models[name].losses)),
  ];
  const standardLosses = lossesOf("standard");
  for (const denoiser of denoisers) {
    const column = 1 + CORRUPTION_KINDS.indexOf(denoiser.kind);
    if (denoiser.model) {
      denoiser.losses = {
        denoiser: lossesOf(`${denoiser.kind} denoiser`)[column],
        standard: standardLosses[column],
      };
    }
  }
  const comparison = {
    headers: ["model", "clean", ...measured.at.map((at) => describeCorruption(at.corruption))],
    rows: models.map(({ name }) => [name, ...lossesOf(name)]),
  };

  // Figures: the first test digits, corrupted as in the comparison, through both models (Figure 6).
  const indices = [...Array(outcome.digits).keys()];
  const preview = clean.subarray(0, outcome.digits * IMAGE_PIXELS);
  const figures: DenoisingFigure[] = [];
  for (const { kind, corruption, model } of trained) {
    const corrupted = corrupt(preview, corruption, seed);
    const outputs = [
      await inference.reconstruct(standard, corrupted),
      await inference.reconstruct(model, corrupted),
    ];
    const rows = [preview, corrupted, ...outputs].map((pixels) => pickImages(pixels, indices));
    const readings: string[] = [];
    for (const output of outputs) {
      readings.push(
        describeReadings(labels, await inference.readDigits(classifier, output), indices),
      );
    }
    figures.push({ kind, corruption, rows, readings: [readings[0], readings[1]] });
  }

  // Findings: the noise denoiser against the standard model, on noisy and clean digits.
  const noise = denoisers.find(({ kind }) => kind === "noise");
  const findings = noise
    ? denoiserFindings({
      denoiser: noise.losses?.denoiser ?? null,
      standardNoisy: standardLosses[1 + CORRUPTION_KINDS.indexOf("noise")],
      standardClean: standardLosses[0],
      corruption: settings.corruptions.noise,
      budget: {
        epochs: noise.record.history.length,
        trainImages: outcome.trainImages,
        testImages,
        params: outcome.params,
      },
    })
    : [];
  return {
    hidden,
    settings,
    params: outcome.params,
    seed,
    trainImages: outcome.trainImages,
    testImages,
    digits: outcome.digits,
    denoisers,
    comparison,
    curves: lossCurves(measured.identity),
    identity: measured.identity,
    figures,
    findings,
  };
}
