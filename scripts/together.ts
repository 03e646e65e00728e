/**
 * `deno task together`: trains the trainings of `train`, `sweep` and `denoise` as one population, each
 * step given its own flags — what `deno task study` does after the search, so that no core waits for
 * another step. Those furthest behind train together and each step's drop out as they reach its epochs.
 * Each training is kept in its step's folder as the step keeps it — its result, its checkpoint after each
 * epoch, resumed by the same rule — and the step's own run then finds it trained and writes its outputs.
 * The steps must agree in `--engine`, `--workers`, `--backend` and `--data-dir`.
 *
 *     deno task together --train '["--epochs=8"]' --sweep '["--epochs=6", "--sizes=1-4"]' \
 *       --denoise '["--epochs=8"]'
 *     deno task train --epochs=8 && deno task sweep --epochs=6 --sizes=1-4 && …
 *
 * @module
 */
import { check, parseFlags, runMain, UsageError } from "../lib/cli.ts";
import {
  checkHidden,
  type ExperimentData,
  loadTrainedModel,
  setupTrainings,
  type TrainingFlagValues,
  trainingParams,
} from "../lib/experiment.ts";
import { DENOISE_FLAGS, denoiserSet } from "../lib/experiments/denoise_plan.ts";
import { parseKinds, parseRobustnessFlags } from "../lib/experiments/robustness.ts";
import { parseSizes, SWEEP_FLAGS, sweepSet } from "../lib/experiments/sweep_plan.ts";
import { TRAIN_FLAGS, trainPlan } from "../lib/experiments/train_plan.ts";
import { stepRun } from "../lib/shards.ts";
import { type TrainingSet, trainTogether } from "../lib/train/trainings.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "trains the trainings of train, sweep and denoise as one population, for their own runs to write up";

/** The help of a step's flag. */
const stepHelp = (step: string) =>
  `${step}'s flags, as a JSON array of strings (as they would follow deno task ${step})`;

await runMain(async () => {
  const flags = parseFlags(Deno.args, "together", SUMMARY, {
    train: { type: "string", help: stepHelp("train") },
    sweep: { type: "string", help: stepHelp("sweep") },
    denoise: { type: "string", help: stepHelp("denoise") },
    fresh: {
      type: "boolean",
      default: false,
      help: "start every training over (the steps' own --fresh is not taken)",
    },
  });
  // Each step given: its flags, checked (and its parameters found) before anything is set up, and the
  // trainings they make once its data is there.
  const steps: { flags: TrainingFlagValues; set: (data: ExperimentData) => TrainingSet }[] = [];
  let hidden: number | undefined;
  if (flags.train !== undefined) {
    const train = parseFlags(stepArgs("train", flags.train), "train", "", TRAIN_FLAGS);
    checkHidden(train.hidden);
    const params = await trainingParams(train);
    hidden = train.hidden;
    steps.push({ flags: train, set: (data) => trainPlan(train, params, data).set });
  }
  if (flags.sweep !== undefined) {
    const sweep = parseFlags(stepArgs("sweep", flags.sweep), "sweep", "", SWEEP_FLAGS);
    checkWhole("sweep", sweep);
    const sizes = parseSizes(sweep.sizes);
    const params = await trainingParams(sweep);
    steps.push({ flags: sweep, set: (data) => sweepSet(sizes, sweep, params, data) });
  }
  if (flags.denoise !== undefined) {
    const denoise = parseFlags(stepArgs("denoise", flags.denoise), "denoise", "", DENOISE_FLAGS);
    checkWhole("denoise", denoise);
    const settings = parseRobustnessFlags(denoise);
    const kinds = parseKinds("kinds", denoise.kinds);
    const params = await trainingParams(denoise);
    // The latent size of the model train trains beside them, else of the model they are compared with.
    if (hidden === undefined) {
      const standard = await loadTrainedModel(settings.model);
      hidden = standard.config.hidden;
      standard.dispose();
    }
    const plan = { kinds, settings, hidden, params, seed: denoise.seed, out: denoise.out };
    steps.push({ flags: denoise, set: (data) => denoiserSet(plan, data) });
  }
  check(
    steps.length > 0,
    "together: give the flags of one step or more (--train, --sweep, --denoise)",
  );
  const { engine, data } = await setupTrainings(steps.map((step) => step.flags));
  const sets = steps.map((step, i) => step.set(data[i]));
  const count = sets.reduce((sum, set) => sum + set.trainings.length, 0);
  console.error(
    `training ${sets.map((set) => `${set.label} (${set.trainings.length})`).join(", ")} ` +
      `together: ${count} models`,
  );
  await trainTogether(sets, { engine, fresh: flags.fresh });
});

/** Stops with a usage error where the flags of `step` ask for a shard or a merge, not a whole run. */
function checkWhole(step: string, flags: Parameters<typeof stepRun>[0]): void {
  check(
    stepRun(flags).kind === "whole",
    `together: ${step} trains whole here; run its shards (--shard) on their own`,
  );
}

/** The flags of `step` given as `json`, a JSON array of strings; anything else is a usage error. */
function stepArgs(step: string, json: string): string[] {
  let args: unknown;
  try {
    args = JSON.parse(json);
  } catch {
    args = undefined;
  }
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    throw new UsageError(`--${step} must be a JSON array of strings, like '["--epochs=8"]'`);
  }
  return args;
}
