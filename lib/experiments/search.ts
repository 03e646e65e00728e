/**
 * The search step: its trials as trainings (one per trial and fold), trained and scored rung after rung —
 * successive halving, or the study's plain random search as a single rung — by one process or split
 * among shards, then ranked, the best judged against the study's; `search_files.ts` writes them.
 *
 * @module
 */
import type { Digits } from "../data/mnist.ts";
import type { Finding } from "../report.ts";
import { describeParams, rankTrials, type TrialParams, type TrialRecord } from "../search_space.ts";
import { owns, type StepRun, waitsForOthers } from "../shards.ts";
import type { EnginePlan } from "../train/engine.ts";
import {
  type HalvingOutcome,
  halvingRungs,
  type Rung,
  successiveHalving,
} from "../train/halving.ts";
import { datasetOf } from "../train/trainer.ts";
import {
  gatherTrainings,
  runTrainings,
  type Training,
  type TrainingRecord,
} from "../train/trainings.ts";
import { pendingSearchPick } from "./findings.ts";
import { STUDY } from "../paper.ts";

/** How a search's tables name the trial of the study's parameters. */
export const STUDY_TRIAL = "the study's";

/** The schedulers `search` takes: successive halving (the default) or the study's random search. */
export const SCHEDULERS = ["halving", "random"] as const;

/** How a search spends its budget. */
export type Scheduler = typeof SCHEDULERS[number];

/**
 * The rungs of `scheduler`: one rung of every trial at `epochs`, or those of successive halving at `eta`
 * (from `minEpochs` epochs where given); throws a `RangeError` where halving cannot fit its rungs.
 */
export function searchRungs(
  scheduler: Scheduler,
  trials: number,
  epochs: number,
  eta: number,
  minEpochs?: number,
): Rung[] {
  if (scheduler === "random") return [{ candidates: trials, epochs }];
  return halvingRungs(trials, epochs, eta, minEpochs);
}

/** Training images and the images a trial is scored on: the validation split, or one fold. */
export interface Split {
  train: Digits;
  validation: Digits;
}

/** What a search trains and how. */
export interface SearchPlan {
  /** The drawn trials: the pick is the best of them. */
  combinations: TrialParams[];
  /**
   * Whether the study's parameters ride along as an extra trial, "the study's", through the rungs at
   * the same budget (taking no drawn trial's place; see `successiveHalving`'s extras).
   */
  withStudy: boolean;
  splits: Split[];
  rungs: Rung[];
  seed: number;
  batchSize: number;
  engine: EnginePlan;
  /** The folder of the trainings' results. */
  folder: string;
  fresh: boolean;
  /** Whether the run is a merge: a result it cannot use is redone by rerunning its shard, not `--fresh`. */
  merge?: boolean;
}

/**
 * Trains the search's trials that `run` owns, rung by rung: each rung's trainings (its trials on every
 * split) as one population, each on from its own weights and optimiser state. A rung's trials are the
 * best of the one before, over every result there — so a shard, which trains its share of each rung,
 * waits for the other shards' results of a rung before it goes on, and stops after the last rung it has
 * a share in.
 */
export async function trainSearch(plan: SearchPlan, run: StepRun): Promise<void> {
  const trainings = searchTrainings(plan);
  const folds = plan.splits.length;
  const own = owns(run);
  const extras = extraTrials(plan);
  const last = plan.rungs.findLastIndex((rung) =>
    Array.from({ length: (rung.candidates + extras) * folds }, (_, k) => k).some(own)
  );
  const records: TrainingRecord[] = [];
  await successiveHalving(plan.rungs, async (candidates, epochs) => {
    const rung = plan.rungs.findIndex((r) => r.epochs === epochs);
    const chosen = trainingsOf(candidates, folds);
    await runTrainings(chosen.map((i) => trainings[i]), {
      folder: plan.folder,
      epochs,
      engine: plan.engine,
      batchSize: plan.batchSize,
      label: plan.rungs.length === 1
        ? "trials"
        : `rung ${rung + 1}/${plan.rungs.length} (${candidates.length} trial${
          candidates.length === 1 ? "" : "s"
        })`,
      owns: own,
      // Only the first rung may start over; the later ones train on what it kept.
      fresh: plan.fresh && rung === 0,
      pastEpochs: "keep",
      wait: waitsForOthers(run),
    });
    if (rung >= last) return undefined; // this run's share ends here
    return await scoreRung(candidates, epochs, { ...plan, trainings, records, wait: true });
  }, extras);
}

/** The trials a search scores beside the drawn ones: the study's parameters, or none. */
function extraTrials(plan: Pick<SearchPlan, "withStudy">): number {
  return plan.withStudy ? 1 : 0;
}

/** Every trial's parameters, the drawn ones then the study's where it rides along. */
function trialParams(plan: Pick<SearchPlan, "combinations" | "withStudy">): TrialParams[] {
  const hidden = plan.combinations[0].hidden;
  return plan.withStudy
    ? [...plan.combinations, { ...STUDY.bestParams, hidden }]
    : plan.combinations;
}

/**
 * Every trial's record, from the trainings' results: successive halving replayed over them, rung by rung,
 * as {@link trainSearch} ran it. Results missing stop it with one line listing them, or, with `wait`,
 * are waited for.
 */
export async function gatherSearch(plan: SearchPlan, wait: boolean): Promise<TrialRecord[]> {
  const { splits } = plan;
  const trainings = searchTrainings(plan);
  const records: TrainingRecord[] = [];
  const outcomes = await successiveHalving(
    plan.rungs,
    (candidates, epochs) => scoreRung(candidates, epochs, { ...plan, trainings, records, wait }),
    extraTrials(plan),
  );
  return trialParams(plan).map((params, c) => ({
    ...trialRecord(
      c,
      params,
      outcomes[c],
      foldLosses(records, c, splits.length, outcomes[c].epochs),
    ),
    ...(c >= plan.combinations.length ? { study: true } : {}),
  }));
}

/** The indices of the trainings of `candidates`, each on every one of `folds` splits. */
function trainingsOf(candidates: number[], folds: number): number[] {
  return candidates.flatMap((c) => Array.from({ length: folds }, (_, f) => c * folds + f));
}

/**
 * The scores of `candidates` after `epochs` epochs — each one's validation loss, the mean over its folds,
 * null where it diverged — from their trainings' results, which it reads into `records` (by training).
 */
async function scoreRung(
  candidates: number[],
  epochs: number,
  { splits, folder, merge, trainings, records, wait }:
    & Pick<SearchPlan, "splits" | "folder" | "merge">
    & {
      trainings: Training[];
      records: TrainingRecord[];
      wait: boolean;
    },
): Promise<(number | null)[]> {
  const chosen = trainingsOf(candidates, splits.length);
  const gathered = await gatherTrainings(chosen.map((i) => trainings[i]), {
    folder,
    epochs,
    pastEpochs: "keep",
    wait,
    merge,
  });
  chosen.forEach((i, k) => records[i] = gathered[k]);
  return candidates.map((c) => mean(foldLosses(records, c, splits.length, epochs)));
}

/**
 * Every trial's training on every split, trial after trial: `trial-07`, or `trial-07-fold-2`; the
 * study's parameters last, `study` (`study-fold-2`).
 */
function searchTrainings(plan: SearchPlan): Training[] {
  const datasets = plan.splits.map(({ train, validation }) => ({
    train: datasetOf(train),
    validation: datasetOf(validation),
  }));
  const drawn = plan.combinations.length;
  return trialParams(plan).flatMap((params, c) =>
    datasets.map((data, f) => {
      const model = {
        kind: "autoencoder",
        hidden: params.hidden,
        dropout: params.dropout,
      } as const;
      const job = { model, lr: params.lr, l2: params.l2, seed: plan.seed };
      const fold = datasets.length === 1 ? "" : `-fold-${f + 1}`;
      const study = c >= drawn;
      return {
        id: `${study ? "study" : `trial-${String(c + 1).padStart(3, "0")}`}${fold}`,
        job: {
          name: `${study ? STUDY_TRIAL : `trial ${c + 1}`}${fold.replace("-fold-", " fold ")}`,
          ...job,
          ...data,
        },
        settings: {
          ...job,
          batchSize: plan.batchSize,
          images: { train: data.train.count, validation: data.validation.count },
          fold: datasets.length === 1 ? null : { of: datasets.length, index: f },
        },
      };
    })
  );
}

/** Trial `c`'s validation loss on each fold after `epochs` epochs; null where it diverged before. */
function foldLosses(
  records: readonly (TrainingRecord | undefined)[],
  c: number,
  folds: number,
  epochs: number,
): (number | null)[] {
  return Array.from({ length: folds }, (_, f) => {
    const record = records[c * folds + f];
    const loss = record?.history[epochs - 1]?.validationLoss;
    return loss !== undefined && loss !== null && Number.isFinite(loss) ? loss : null;
  });
}

/** The mean of the losses, or null when any is null (a diverged fold). */
function mean(losses: (number | null)[]): number | null {
  if (losses.includes(null)) return null;
  return (losses as number[]).reduce((sum, loss) => sum + loss, 0) / losses.length;
}

function trialRecord(
  c: number,
  params: TrialParams,
  outcome: HalvingOutcome,
  losses: (number | null)[],
): TrialRecord {
  return {
    index: c,
    params,
    rung: outcome.rung,
    epochs: outcome.epochs,
    validationLoss: outcome.score,
    foldLosses: losses,
    diverged: outcome.score === null,
  };
}

/** A finished search, as `search` hands it over to be ranked. */
export interface SearchOutcome {
  trials: TrialRecord[];
  scheduler: Scheduler;
  rungs: Rung[];
  eta: number;
  folds: number;
  hidden: number;
  lrRange: [number, number];
  trainImages: number;
  validationImages: number;
  seed: number;
}

/** A finished search ranked, as `search_files.ts` writes it. */
export interface SearchResults extends SearchOutcome {
  /** Every trial, best first: by last rung reached, then by validation loss there; diverged ones last. */
  ranked: TrialRecord[];
  /** The best trial that converged; none where every trial diverged. */
  best?: TrialRecord;
  findings: Finding[];
}

/** Ranks the trials of `outcome` and states what its pick leaves to judge of the study. */
export function rankSearch(outcome: SearchOutcome): SearchResults {
  const ranked = rankTrials(outcome.trials);
  const best = ranked.find((trial) => !trial.diverged && !trial.study);
  return { ...outcome, ranked, best, findings: best ? searchFindings(best) : [] };
}

/**
 * What a search judges of the study: whether its pick trains as well as the study's parameters, which
 * only `train` can tell (it trains both the study's epochs): pending until then.
 */
export function searchFindings(best: TrialRecord): Finding[] {
  return [pendingSearchPick(describeParams(STUDY.bestParams), describeParams(best.params))];
}

/** The pick's learning rate against the study's, as a factor: `×52.16` or `÷3.10`. */
export function lrAgainstStudy(lr: number): string {
  const off = lr / STUDY.bestParams.lr;
  return off >= 1 ? `×${off.toFixed(2)}` : `÷${(1 / off).toFixed(2)}`;
}
