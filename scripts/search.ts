/**
 * `deno task search`: the study's hyper-parameter search. Draws `--trials` combinations of dropout,
 * learning rate and L2 weight decay as the study does, and scores them on the validation split (never the
 * test set), or by k-fold cross-validation over the training split. By default by successive halving:
 * every trial trains a short rung, the best third go on from their own weights and optimiser state to
 * three times the epochs, and so on until one remains at the full `--epochs`; `--scheduler random` trains
 * every trial the full `--epochs`, as the study did. Every rung trains as one population, and each
 * trial's result is kept as it ends, so an interrupted search resumes where it stopped. Writes the ranked
 * table, the validation loss against lr and L2, and the best combination, which `train`, `sweep` and
 * `denoise` then use by default. `--shard i/n` (or a scheduler's array index) trains shard i's share of
 * each rung, waiting for the other shards' results between rungs; `--merge` then writes the files.
 *
 *     deno task search --trials 30 --epochs 27
 *     deno task search --scheduler random --folds 5 --lr-range 1e-4,1e-2 --fresh
 *     deno task search --shard 2/4 && deno task search --merge   # one of 4 shards, then the merge
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain, UsageError } from "../lib/cli.ts";
import { pickDigits } from "../lib/data/batches.ts";
import {
  checkChoice,
  checkHidden,
  checkInteger,
  commonFlags,
  engineFlags,
  setupTraining,
} from "../lib/experiment.ts";
import {
  gatherSearch,
  rankSearch,
  type Scheduler,
  SCHEDULERS,
  searchRungs,
  type Split,
  trainSearch,
} from "../lib/experiments/search.ts";
import { writeSearchResults } from "../lib/experiments/search_files.ts";
import { describeParams, generateParams, kFoldSplits, LR_RANGE } from "../lib/search_space.ts";
import { reportShardDone, shardFlags, stepRun, waitsForOthers } from "../lib/shards.ts";
import type { Rung } from "../lib/train/halving.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "the study's hyper-parameter search (dropout, lr, L2), scored on the validation split: ranked trials and the best parameters";

await runMain(async () => {
  // Flags.
  const flags = parseFlags(Deno.args, "search", SUMMARY, {
    trials: { type: "number", default: 30, help: "parameter combinations to try" },
    hidden: { type: "number", default: 4, help: "latent size d, fixed for all trials" },
    epochs: {
      type: "number",
      default: 27,
      help: "epochs of the best trial (halving) or of every trial (random)",
    },
    scheduler: {
      type: "string",
      default: "halving",
      help: `how the epochs are spent: ${SCHEDULERS.join(", ")}`,
    },
    eta: { type: "number", default: 3, help: "halving: keep the best 1/eta of each rung" },
    "min-epochs": {
      type: "number",
      help:
        "halving: epochs of the first rung at least (default: as many rungs as the trials halve " +
        "to one)",
    },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    folds: {
      type: "number",
      default: 1,
      help: "k-fold cross-validation over the training split (1: score on the validation split)",
    },
    "lr-range": {
      type: "string",
      default: LR_RANGE.join(","),
      help: "learning rates drawn log-uniformly between min,max",
    },
    fresh: { type: "boolean", default: false, help: "start over instead of resuming trials done" },
    ...shardFlags(),
    ...engineFlags(),
    ...commonFlags("search"),
  });
  checkInteger("trials", flags.trials, 1);
  checkHidden(flags.hidden);
  checkInteger("epochs", flags.epochs, 1);
  checkInteger("batch-size", flags["batch-size"], 1);
  checkInteger("folds", flags.folds, 1);
  checkChoice("scheduler", flags.scheduler, SCHEDULERS);
  check(flags.eta >= 2, `--eta must be at least 2, got ${flags.eta}`);
  const scheduler = flags.scheduler as Scheduler;
  if (flags["min-epochs"] !== undefined) {
    checkInteger("min-epochs", flags["min-epochs"], 1);
    check(scheduler === "halving", "--min-epochs sets halving's first rung; random has one rung");
  }
  let rungs: Rung[];
  try {
    rungs = searchRungs(scheduler, flags.trials, flags.epochs, flags.eta, flags["min-epochs"]);
  } catch (error) {
    throw new UsageError(`--epochs ${flags.epochs}: ${(error as Error).message}`);
  }
  const lrRange = parseRange("lr-range", flags["lr-range"]);
  const run = stepRun(flags);

  // Data: the plain train/validation split, or k folds of the training split.
  const { data, engine, out } = await setupTraining(flags, { share: run.kind === "shard" });
  check(
    flags.folds <= data.train.count,
    `--folds ${flags.folds} exceeds the ${data.train.count} training images`,
  );
  const splits: Split[] = flags.folds === 1
    ? [{ train: data.train, validation: data.validation }]
    : kFoldSplits(data.train.count, flags.folds, flags.seed).map(({ train, validation }) => ({
      train: pickDigits(data.train, train),
      validation: pickDigits(data.train, validation),
    }));

  // Models: the combinations, drawn as the study draws them.
  const combinations = generateParams(flags.trials, flags.seed, flags.hidden, lrRange);
  console.error(
    `searching ${flags.trials} combinations on ${splits[0].train.count} images, scored on ${
      flags.folds === 1 ? `${data.validation.count} validation images` : `${flags.folds} folds`
    }: ${rungs.map((rung) => `${rung.candidates} × ${rung.epochs} epochs`).join(" → ")}`,
  );

  // Loop: rung after rung, each rung's survivors — those this run owns — as one population.
  const plan = {
    combinations,
    withStudy: true,
    splits,
    rungs,
    seed: flags.seed,
    batchSize: flags["batch-size"],
    engine,
    folder: join(out, "trainings"),
    fresh: flags.fresh,
    merge: run.kind === "merge",
  };
  await trainSearch(plan, run);
  if (run.kind === "shard") return reportShardDone(run.shard, plan.folder);

  // Files, from every trial's result: the ranked table, the loss against lr and L2, the best
  // combination, the report.
  const trials = await gatherSearch(plan, waitsForOthers(run));
  const results = rankSearch({
    trials,
    scheduler,
    rungs,
    eta: flags.eta,
    folds: flags.folds,
    hidden: flags.hidden,
    lrRange,
    trainImages: splits[0].train.count,
    validationImages: splits[0].validation.count,
    seed: flags.seed,
  });
  console.log(await writeSearchResults(out, results));
  const best = results.best!; // the writer throws where every trial diverged
  console.error(`best: trial ${best.index + 1}, ${describeParams(best.params)}; wrote ${out}/`);
});

/** Parses `min,max` with 0 < min ≤ max; anything else is a usage error naming `--name`. */
function parseRange(name: string, text: string): [number, number] {
  const values = text.split(",").map((part) => part.trim() === "" ? NaN : Number(part));
  check(
    values.length === 2 && values.every(Number.isFinite) && values[0] > 0 &&
      values[0] <= values[1],
    `--${name} must be min,max with 0 < min ≤ max, got "${text}"`,
  );
  return [values[0], values[1]];
}
