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
import { join } from "node:path";
import { check, counted, parseFlags, runMain } from "../lib/cli.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import {
  commonFlags,
  engineFlags,
  setupTraining,
  trainingFlags,
  trainingParams,
} from "../lib/experiment.ts";
import { summarizeSweep } from "../lib/experiments/sweep.ts";
import { writeSweepResults } from "../lib/experiments/sweep_files.ts";
import { describeParams } from "../lib/search_space.ts";
import { owns, reportShardDone, shardFlags, stepRun, waitsForOthers } from "../lib/shards.ts";
import { datasetOf } from "../lib/train/trainer.ts";
import { gatherTrainings, runTrainings, unfinishedTrainings } from "../lib/train/trainings.ts";

/** The largest latent size a sweep takes: a code as long as the image it encodes. */
const MAX_HIDDEN = IMAGE_PIXELS;

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "one autoencoder per latent size d, trained as one population: final test loss per d, its exponential fit and Spearman's ρ";

await runMain(async () => {
  // Flags: the search's best parameters (or the study's) unless given.
  const flags = parseFlags(Deno.args, "sweep", SUMMARY, {
    sizes: {
      type: "string",
      default: "1-10",
      help: "latent sizes d: a range 1-10, a list 1,2,4,8",
    },
    ...trainingFlags(80),
    fresh: { type: "boolean", default: false, help: "start over instead of resuming sizes done" },
    ...shardFlags(),
    ...engineFlags(),
    ...commonFlags("sweep"),
  });
  const sizes = parseSizes(flags.sizes);
  const params = await trainingParams(flags);
  if (params.source !== "flags") console.error(`parameters: ${params.source}`);
  const run = stepRun(flags);

  // Data: every size trains and is scored on the same images.
  const { data, engine, out } = await setupTraining(flags, { share: run.kind === "shard" });
  const [train, validation, test] = [data.train, data.validation, data.test].map(datasetOf);
  const images = { train: train.count, validation: validation.count, test: test.count };

  // Models: one per size, all with the same parameters and seed.
  const trainings = sizes.map((hidden) => {
    const model = { kind: "autoencoder", hidden, dropout: params.dropout } as const;
    const job = { model, lr: params.lr, l2: params.l2, seed: flags.seed };
    return {
      id: `d-${String(hidden).padStart(3, "0")}`,
      job: { name: `d = ${hidden}`, ...job, train, validation, test },
      settings: { ...job, batchSize: params.batchSize, images },
    };
  });
  console.error(
    `sweeping d = ${sizes.join(", ")}: ${
      counted(params.epochs, "epoch")
    } each on ${train.count} images, ` +
      describeParams(params),
  );

  // Loop: the sizes this run trains (all, or a shard's share) not done yet, as one population.
  const folder = join(out, "trainings");
  const kept = await runTrainings(trainings, {
    folder,
    epochs: params.epochs,
    engine,
    batchSize: params.batchSize,
    label: "sweep",
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
    trainImages: train.count,
    test: data.test,
  });
  const table = await writeSweepResults(out, sweep);
  sweep.models.forEach((model) => model?.dispose());
  console.log(table);
  console.error(`wrote ${out}/`);
});

/**
 * Parses `--sizes`: comma-separated sizes and ranges (`1-10`, `1,2,4,8`, `1-4,8`) of integers ≥ 1, into
 * sorted distinct sizes; anything else is a usage error.
 */
function parseSizes(text: string): number[] {
  const sizes = new Set<number>();
  for (const part of text.split(",")) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    const [first, last] = match ? [Number(match[1]), Number(match[2] ?? match[1])] : [0, 0];
    check(
      first >= 1 && first <= last && last <= MAX_HIDDEN,
      `--sizes must list sizes in 1…${MAX_HIDDEN} and ranges low-high, like 1-10 or 1,2,4,8; ` +
        `got "${text}"`,
    );
    for (let hidden = first; hidden <= last; hidden++) sizes.add(hidden);
  }
  return [...sizes].sort((a, b) => a - b);
}
