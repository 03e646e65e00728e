/**
 * `deno task sweep`: the study's Figure 1. Trains one autoencoder per latent size d (1…10 by default) with
 * the same parameters — all sizes as one population, on whichever engine is in use — reports each final
 * test loss, fits an exponential to loss against d, and shows the same test digits reconstructed by every
 * size. Each size's result is kept as it ends, and the population is checkpointed after each epoch, so an
 * interrupted sweep resumes where it stopped, a sweep given more sizes trains only the new ones, and one
 * given more epochs trains its sizes on. `--shard i/n` (or a scheduler's array index) trains shard i's
 * share of the sizes; `--merge` then writes the files.
 *
 *     deno task sweep --sizes 1-10 --epochs 80
 *     deno task sweep --sizes 1,2,4,8 --lr 1e-3
 *     deno task sweep --shard 1/2 & deno task sweep --shard 2/2; wait; deno task sweep --merge
 *
 * @module
 */
import { counted, parseFlags, runMain } from "../lib/cli.ts";
import { setupTraining, trainingParams } from "../lib/experiment.ts";
import { summarizeSweep } from "../lib/experiments/sweep.ts";
import { writeSweepResults } from "../lib/experiments/sweep_files.ts";
import { parseSizes, SWEEP_FLAGS, sweepSet } from "../lib/experiments/sweep_plan.ts";
import { describeParams } from "../lib/search_space.ts";
import { owns, reportShardDone, stepRun, waitsForOthers } from "../lib/shards.ts";
import { gatherTrainings, runTrainings, unfinishedTrainings } from "../lib/train/trainings.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "one autoencoder per latent size d, trained as one population: final test loss per d, its exponential fit and Spearman's ρ";

await runMain(async () => {
  // Flags: the search's best parameters (or the study's) unless given.
  const flags = parseFlags(Deno.args, "sweep", SUMMARY, SWEEP_FLAGS);
  const sizes = parseSizes(flags.sizes);
  const params = await trainingParams(flags);
  if (params.source !== "flags") console.error(`parameters: ${params.source}`);
  const run = stepRun(flags);

  // Data: every size trains and is scored on the same images.
  const { data, engine, out } = await setupTraining(flags, { share: run.kind === "shard" });

  // Models: one per size, all with the same parameters and seed.
  const set = sweepSet(sizes, flags, params, data);
  const { trainings, folder } = set;
  console.error(
    `sweeping d = ${sizes.join(", ")}: ${
      counted(params.epochs, "epoch")
    } each on ${data.train.count} images, ` +
      describeParams(params),
  );

  // Loop: the sizes this run trains (all, or a shard's share) not done yet, as one population.
  const kept = await runTrainings(trainings, {
    ...set,
    engine,
    owns: owns(run),
    fresh: flags.fresh,
    wait: waitsForOthers(run),
  });
  if (run.kind === "shard") {
    const elsewhere = unfinishedTrainings(trainings, kept, params.epochs, owns(run));
    return reportShardDone(run.shard, folder, elsewhere);
  }

  // Files, from every size's result: weights, table, fit, figures, report.
  const records = await gatherTrainings(trainings, {
    folder,
    epochs: params.epochs,
    wait: waitsForOthers(run),
    merge: run.kind === "merge",
  });
  const sweep = await summarizeSweep({
    sizes,
    records,
    folder,
    params,
    seed: flags.seed,
    trainImages: data.train.count,
    test: data.test,
  });
  const table = await writeSweepResults(out, sweep);
  sweep.models.forEach((model) => model?.dispose());
  console.log(table);
  console.error(`wrote ${out}/`);
});
