/**
 * The search step: its trials as trainings (one per trial and fold), trained and scored rung after rung —
 * successive halving, or the study's plain random search as a single rung — by one process or split
 * among shards, and what `deno task search` leaves: the ranked table, the validation loss against the
 * parameters, the best parameters and the report section.
 *
 * @module
 */
import { join } from "node:path";
import type { Digits } from "../data/mnist.ts";
import { scatterChart, writeChart } from "../figures/charts.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import {
  csvTable,
  type Finding,
  markdownTable,
  publishSection,
  type ReportItem,
} from "../report.ts";
import {
  BEST_PARAMS_FILE,
  describeParams,
  rankTrials,
  type TrialParams,
  type TrialRecord,
} from "../search_space.ts";
import { owns, type StepRun, waitsForOthers } from "../shards.ts";
import type { EnginePlan } from "../train/engine.ts";
import { type HalvingOutcome, type Rung, successiveHalving } from "../train/halving.ts";
import { datasetOf } from "../train/trainer.ts";
import {
  gatherTrainings,
  runTrainings,
  type Training,
  type TrainingRecord,
} from "../train/trainings.ts";
import { holdsWhen } from "./findings.ts";
import { STUDY } from "../paper.ts";

/** The schedulers `search` takes: successive halving (the default) or the study's random search. */
export const SCHEDULERS = ["halving", "random"] as const;

/** How a search spends its budget. */
export type Scheduler = typeof SCHEDULERS[number];

/** Training images and the images a trial is scored on: the validation split, or one fold. */
export interface Split {
  train: Digits;
  validation: Digits;
}

/** What a search trains and how. */
export interface SearchPlan {
  combinations: TrialParams[];
  splits: Split[];
  rungs: Rung[];
  seed: number;
  batchSize: number;
  engine: EnginePlan;
  /** The folder of the trainings' results. */
  folder: string;
  fresh: boolean;
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
  const last = plan.rungs.findLastIndex((rung) =>
    Array.from({ length: rung.candidates * folds }, (_, k) => k).some(own)
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
  });
}

/**
 * Every trial's record, from the trainings' results: successive halving replayed over them, rung by rung,
 * as {@link trainSearch} ran it. Results missing stop it with one line listing them, or, with `wait`,
 * are waited for.
 */
export async function gatherSearch(plan: SearchPlan, wait: boolean): Promise<TrialRecord[]> {
  const { combinations, splits } = plan;
  const trainings = searchTrainings(plan);
  const records: TrainingRecord[] = [];
  const outcomes = await successiveHalving(
    plan.rungs,
    (candidates, epochs) => scoreRung(candidates, epochs, { ...plan, trainings, records, wait }),
  );
  return combinations.map((params, c) =>
    trialRecord(c, params, outcomes[c], foldLosses(records, c, splits.length, outcomes[c].epochs))
  );
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
  { splits, folder, trainings, records, wait }: Pick<SearchPlan, "splits" | "folder"> & {
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
  });
  chosen.forEach((i, k) => records[i] = gathered[k]);
  return candidates.map((c) => mean(foldLosses(records, c, splits.length, epochs)));
}

/** Every trial's training on every split, trial after trial: `trial-07`, or `trial-07-fold-2`. */
function searchTrainings(plan: SearchPlan): Training[] {
  const datasets = plan.splits.map(({ train, validation }) => ({
    train: datasetOf(train),
    validation: datasetOf(validation),
  }));
  return plan.combinations.flatMap((params, c) =>
    datasets.map((data, f) => {
      const model = {
        kind: "autoencoder",
        hidden: params.hidden,
        dropout: params.dropout,
      } as const;
      const job = { model, lr: params.lr, l2: params.l2, seed: plan.seed };
      const fold = datasets.length === 1 ? "" : `-fold-${f + 1}`;
      return {
        id: `trial-${String(c + 1).padStart(3, "0")}${fold}`,
        job: { name: `trial ${c + 1}${fold.replace("-fold-", " fold ")}`, ...job, ...data },
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

/** How the table shows each kind of number. */
const FORMATS = {
  dropout: (value: number) => value.toFixed(4),
  rate: (value: number) => value.toExponential(2),
  loss: (value: number) => value.toFixed(5),
};

/** A finished search, as `search` hands it over to be written. */
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

/**
 * Writes `trials.{json,csv}`, `loss_vs_params.{svg,png}`, `best_params.json` and the report section into
 * `out`; returns the ranked table as Markdown. With no converged trial, no parameters are recommended
 * and it throws after writing the table.
 */
export async function writeSearchResults(out: string, outcome: SearchOutcome): Promise<string> {
  const { folds, rungs } = outcome;
  const ranked = rankTrials(outcome.trials);
  const finished = ranked.filter((trial) => !trial.diverged);
  const foldHeaders = folds === 1 ? [] : Array.from({ length: folds }, (_, f) => `fold ${f + 1}`);
  const headers = [
    "rank",
    "trial",
    "dropout",
    "lr",
    "L2",
    "last rung",
    "epochs",
    "validation loss",
    ...foldHeaders,
  ];
  const tableRows = (show: (value: number | null, kind: keyof typeof FORMATS) => string | number) =>
    ranked.map((trial, rank) => [
      rank + 1,
      trial.index + 1,
      show(trial.params.dropout, "dropout"),
      show(trial.params.lr, "rate"),
      show(trial.params.l2, "rate"),
      trial.rung + 1,
      trial.epochs,
      show(trial.validationLoss, "loss"),
      ...(folds === 1 ? [] : trial.foldLosses.map((loss) => show(loss, "loss"))),
    ]);
  const shownRows = tableRows((value, kind) => value === null ? "diverged" : FORMATS[kind](value));
  await writeFileAtomic(
    join(out, "trials.csv"),
    csvTable(headers, tableRows((v) => v ?? "diverged")),
  );
  await writeJsonAtomic(join(out, "trials.json"), {
    scheduler: outcome.scheduler,
    eta: outcome.eta,
    rungs,
    folds,
    seed: outcome.seed,
    trials: outcome.trials,
  });

  const figure = "loss_vs_params";
  if (finished.length > 0) await writeChart(join(out, figure), await lossChart(finished, outcome));
  else {
    for (const extension of ["svg", "png"]) {
      await Deno.remove(join(out, `${figure}.${extension}`)).catch(() => {});
    }
  }

  const bestPath = join(out, BEST_PARAMS_FILE.split("/").at(-1)!);
  const best = finished[0];
  if (best) {
    await writeJsonAtomic(bestPath, {
      ...best.params,
      validationLoss: best.validationLoss,
      trial: best.index + 1,
      trials: ranked.length,
      epochs: best.epochs,
      scheduler: outcome.scheduler,
      folds,
      trainImages: outcome.trainImages,
      seed: outcome.seed,
    });
  } else await Deno.remove(bestPath).catch(() => {}); // no stale recommendation beside these trials

  await publishSection(out, {
    title: `Hyper-parameter search: d = ${outcome.hidden}`,
    findings: best ? searchFindings(best, outcome) : [],
    items: [
      { kind: "text", text: describeSearch(outcome, ranked, best) },
      ...(finished.length > 0
        ? [
          {
            kind: "figure",
            file: `${figure}.png`,
            caption: outcome.scheduler === "halving"
              ? "Validation loss of each converged trial at its last rung against its learning rate " +
                "(left) and L2 weight decay (right), coloured by the epochs it had trained by then: the " +
                "trials that went on are those that trained best."
              : "Validation loss of each converged trial against its learning rate (left) and L2 " +
                "weight decay (right), coloured by dropout.",
          } satisfies ReportItem,
        ]
        : []),
      {
        kind: "table",
        caption: "All trials, best first: by last rung reached, then by validation loss there; " +
          "diverged ones last.",
        headers,
        rows: shownRows,
      },
    ],
  });
  if (!best) throw new Error(`all ${ranked.length} trials diverged; narrow --lr-range`);
  return markdownTable(headers, shownRows);
}

/** How far the best learning rate may lie from the study's, as a factor, to count as the same. */
const LR_FACTOR = 3;

/**
 * What a search judges of the study: its best parameters, the learning rate within a factor of
 * {@link LR_FACTOR} of the study's (the parameter that decides training most) — comparable only where the
 * search drew as many trials on as many images as the study's.
 */
export function searchFindings(
  best: TrialRecord,
  outcome: Pick<SearchOutcome, "trials" | "trainImages">,
): Finding[] {
  const study = STUDY.bestParams;
  const off = best.params.lr / study.lr;
  const factor = off >= 1 ? `×${off.toFixed(2)}` : `÷${(1 / off).toFixed(2)}`;
  const row = holdsWhen(
    "the best parameters of the search",
    describeParams(study),
    `lr within a factor of ${LR_FACTOR} of the study's`,
    describeParams(best.params),
    off <= LR_FACTOR && off >= 1 / LR_FACTOR,
    `lr ${factor} the study's`,
  );
  const short = outcome.trials.length < STUDY.searchTrials ||
    outcome.trainImages < STUDY.trainImages;
  if (!short) return [row];
  return [{
    ...row,
    verdict: "not comparable",
    why: `${outcome.trials.length} of the study's ${STUDY.searchTrials} trials on ` +
      `${outcome.trainImages} of its ${STUDY.trainImages} images (lr ${factor} the study's)`,
  }];
}

/** The validation loss of each converged trial at its last rung against its lr and L2. */
function lossChart(finished: TrialRecord[], outcome: SearchOutcome) {
  const halving = outcome.scheduler === "halving";
  return scatterChart({
    title: halving
      ? `Validation loss at each trial's last rung, ${finished.length} of ${outcome.trials.length} trials`
      : `Validation loss after ${outcome.rungs[0].epochs} epochs, ${finished.length} of ` +
        `${outcome.trials.length} trials`,
    x: [
      { title: "learning rate", values: finished.map((t) => t.params.lr), log: true },
      { title: "L2 weight decay", values: finished.map((t) => t.params.l2), log: true },
    ],
    y: {
      title: "validation loss (MSE per pixel)",
      values: finished.map((t) => t.validationLoss!),
      log: true,
    },
    color: halving
      ? { title: "epochs trained", values: finished.map((t) => t.epochs), categorical: true }
      : { title: "dropout", values: finished.map((t) => t.params.dropout) },
    width: 360,
  });
}

/** The search in words: how the trials were drawn, trained and scored, and what won. */
function describeSearch(
  outcome: SearchOutcome,
  ranked: TrialRecord[],
  best: TrialRecord | undefined,
): string {
  const exponent = (value: number) => String(+Math.log10(value).toFixed(2)).replace("-", "−");
  const drawn = `dropout U[0, 0.5], lr 10^U(${
    outcome.lrRange.map(exponent).join(", ")
  }), L2 10^U(−6, −2)`;
  const scoring = outcome.folds === 1
    ? `scored on ${outcome.validationImages} held-out training images (never the test set)`
    : `scored by ${outcome.folds}-fold cross-validation over the training split`;
  const training = outcome.scheduler === "halving"
    ? `successive halving (η = ${outcome.eta}): ${
      outcome.rungs.map((rung) => `${rung.candidates} trained to ${rung.epochs} epochs`).join(
        ", then ",
      )
    }, each rung's best going on from its own weights and optimiser state`
    : `each trained ${outcome.rungs[0].epochs} epochs`;
  const diverged = ranked.filter((trial) => trial.diverged).length;
  const result = best
    ? `Best: trial ${best.index + 1}, ${describeParams(best.params)}, validation loss ` +
      `${FORMATS.loss(best.validationLoss!)} after ${best.epochs} epochs; train, sweep and ` +
      "denoise now use it by default."
    : "No trial converged, so no parameters are recommended.";
  return `${ranked.length} combinations drawn as the study does (${drawn}), ${training}, on ` +
    `${outcome.trainImages} images, ${scoring}; ${diverged} diverged. ${result}`;
}
