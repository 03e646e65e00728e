/**
 * What `deno task train` sums up of one training's result: its rate, the first test digits beside their
 * reconstructions, and what it judges of the study; `train_files.ts` writes it.
 *
 * @module
 */
import type { Pixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import { pickImages, reconstructPixels } from "../predict.ts";
import type { Finding } from "../report.ts";
import type { TrainingParams } from "../experiment.ts";
import { overallRate } from "../train/fit.ts";
import { closeTo, searchPickFinding } from "./findings.ts";
import { type BestParams, isStudyParams, STUDY_PARAMS_SOURCE } from "../search_space.ts";
import { STUDY } from "../paper.ts";
import type { FitResult } from "../train/trainer.ts";

/** Test digits shown beside their reconstructions. */
const PREVIEW_DIGITS = 10;

/** The study's parameters, trained beside a search's pick with the same seed, images and epochs. */
export interface Contender {
  params: BestParams;
  result: FitResult;
}

/**
 * The parameters `train` trains beside `params` to judge a search by: the study's, where `params` came
 * from a search's `best_params.json` (not from flags alone nor the study's own) and differ from them;
 * else none.
 */
export function contenderParams(params: TrainingParams): BestParams | undefined {
  const fromSearch = params.source !== "flags" && params.source !== STUDY_PARAMS_SOURCE;
  return fromSearch && !isStudyParams(params) ? { ...STUDY.bestParams } : undefined;
}

/** One training's result, as `train` hands it over to be summed up. */
export interface TrainingOutcome {
  /** The model's latent size and how it trained. */
  hidden: number;
  params: TrainingParams;
  seed: number;
  /** What trained it, e.g. `1 worker, tfjs wasm each`. */
  engine: string;
  trainImages: number;
  result: FitResult;
  /** The study's parameters trained beside a search's pick, alike (see {@link contenderParams}). */
  contender?: Contender;
  /** The trained model; none where the training diverged. */
  model?: Autoencoder;
  /** Test digits to show reconstructed. */
  test: Digits;
}

/** One training's numbers and preview, as `train_files.ts` writes them. */
export interface TrainingResults {
  hidden: number;
  params: TrainingParams;
  seed: number;
  engine: string;
  trainImages: number;
  testImages: number;
  result: FitResult;
  contender?: Contender;
  /**
   * The model's own training samples per second over every epoch: trained in a population (`deno task
   * together`), its share of the population's rate.
   */
  samplesPerSecond: number;
  /** The first test digits (top row) and their reconstructions; none where the training diverged. */
  preview?: Pixels[][];
  findings: Finding[];
}

/** Sums up `outcome`: its rate, the first test digits reconstructed, what it judges of the study. */
export async function summarizeTraining(outcome: TrainingOutcome): Promise<TrainingResults> {
  const { model, test } = outcome;
  let preview: Pixels[][] | undefined;
  if (model) {
    const shown = test.images.subarray(0, PREVIEW_DIGITS * IMAGE_PIXELS);
    const indices = [...Array(Math.min(PREVIEW_DIGITS, test.count)).keys()];
    preview = [shown, await reconstructPixels(model, shown)].map((pixels) =>
      pickImages(pixels, indices)
    );
  }
  return {
    hidden: outcome.hidden,
    params: outcome.params,
    seed: outcome.seed,
    engine: outcome.engine,
    trainImages: outcome.trainImages,
    testImages: test.count,
    result: outcome.result,
    contender: outcome.contender,
    samplesPerSecond: overallRate(outcome.result.history, outcome.trainImages),
    preview,
    findings: trainingFindings({ ...outcome, testImages: test.count }),
  };
}

/**
 * What a training judges of the study: the test loss of the d = 4 model trained with the study's
 * parameters (the contender, where a search's pick trained beside it) after its epochs, and where a
 * search's pick trained, the pick against the study's parameters (for another d, nothing).
 */
export function trainingFindings(
  outcome: Pick<TrainingOutcome, "hidden" | "params" | "result" | "trainImages" | "contender"> & {
    testImages: number;
  },
): Finding[] {
  if (outcome.hidden !== 4) return [];
  const { contender } = outcome;
  const loss = finalTestLoss(outcome.result);
  // The loss the d = 4 row judges: the study's parameters' where they trained beside a pick, else this
  // training's (not comparable with the study's number where its parameters are not the study's).
  const judged = contender ? finalTestLoss(contender.result) : loss;
  const budget = {
    epochs: outcome.result.history.length,
    trainImages: outcome.trainImages,
    testImages: outcome.testImages,
  };
  const findings = [
    closeTo(
      `test loss of the d = 4 model with the study's parameters after ${STUDY.testLoss.epochs} epochs`,
      STUDY.testLoss.value,
      judged,
      { ...budget, params: contender?.params ?? outcome.params },
      STUDY.testLoss.epochs,
    ),
  ];
  if (contender) findings.push(searchPickFinding(loss, judged, budget));
  return findings;
}

/** A training's test loss after its last epoch; null where it diverged or has none. */
export function finalTestLoss({ history, diverged }: FitResult): number | null {
  return diverged ? null : history.at(-1)?.testLoss ?? null;
}
