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
  trainingParams,
} from "../lib/experiment.ts";
import { DENOISE_FLAGS, denoiserSet } from "../lib/experiments/denoise_plan.ts";
import { parseKinds, parseRobustnessFlags } from "../lib/experiments/robustness.ts";
import { parseSizes, SWEEP_FLAGS, sweepSet } from "../lib/experiments/sweep_plan.ts";
import { TRAIN_FLAGS, trainPlan } from "../lib/experiments/train_plan.ts";
import { stepRun } from "../lib/shards.ts";
import { trainTogether } from "../lib/train/trainings.ts";

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
  const train = flags.train === undefined
    ? undefined
    : parseFlags(stepArgs("train", flags.train), "train", "", TRAIN_FLAGS);
  const sweep = flags.sweep === undefined
    ? undefined
    : parseFlags(stepArgs("sweep", flags.sweep), "sweep", "", SWEEP_FLAGS);
  const denoise = flags.denoise === undefined
    ? undefined
    : parseFlags(stepArgs("denoise", flags.denoise), "denoise", "", DENOISE_FLAGS);
  const steps = [train, sweep, denoise].filter((step) => step !== undefined);
  check(
    steps.length > 0,
    "together: give the flags of one step or more (--train, --sweep, --denoise)",
  );
  for (const [name, step] of [["sweep", sweep], ["denoise", denoise]] as const) {
    check(
      !step || stepRun(step).kind === "whole",
      `together: ${name} trains whole here; run its shards (--shard) on their own`,
    );
  }

  // What each step trains with, checked before anything is set up.
  if (train) checkHidden(train.hidden);
  const sizes = sweep && parseSizes(sweep.sizes);
  const robustness = denoise && parseRobustnessFlags(denoise);
  const kinds = denoise && parseKinds("kinds", denoise.kinds);
  const params = {
    train: train && await trainingParams(train),
    sweep: sweep && await trainingParams(sweep),
    denoise: denoise && await trainingParams(denoise),
  };
  const { engine, data } = await setupTrainings(steps);
  const dataOf = new Map<object, ExperimentData>(steps.map((step, i) => [step, data[i]]));

  // The trainings of each step; the denoisers take the latent size of the model train trains beside
  // them, else of the model they are compared with.
  const sets = [];
  if (train) sets.push(trainPlan(train, params.train!, dataOf.get(train)!).set);
  if (sweep) sets.push(sweepSet(sizes!, sweep, params.sweep!, dataOf.get(sweep)!));
  if (denoise) {
    let hidden = train?.hidden;
    if (hidden === undefined) {
      const standard = await loadTrainedModel(robustness!.model);
      hidden = standard.config.hidden;
      standard.dispose();
    }
    const plan = {
      kinds: kinds!,
      settings: robustness!,
      hidden,
      params: params.denoise!,
      seed: denoise.seed,
      out: denoise.out,
    };
    sets.push(denoiserSet(plan, dataOf.get(denoise)!));
  }
  const count = sets.reduce((sum, set) => sum + set.trainings.length, 0);
  console.error(
    `training ${sets.map((set) => `${set.label} (${set.trainings.length})`).join(", ")} ` +
      `together: ${count} models`,
  );
  await trainTogether(sets, { engine, fresh: flags.fresh });
});

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
