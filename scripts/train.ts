/**
 * `deno task train`: trains one autoencoder on MNIST and writes its weights, its loss history, a loss
 * curve and a grid of test digits beside their reconstructions. Its training is kept in
 * `<out>/trainings`: an interrupted run resumes from its last epoch, a rerun with the same settings keeps
 * it, and one asked for more epochs trains it on.
 *
 *     deno task train --hidden 4 --epochs 150
 *     deno run -A https://…/scripts/train.ts --epochs 1
 *
 * @module
 */
import { join } from "node:path";
import { counted, parseFlags, runMain } from "../lib/cli.ts";
import { checkHidden, setupTraining, trainingParams } from "../lib/experiment.ts";
import { summarizeTraining } from "../lib/experiments/train.ts";
import { TRAIN_FLAGS, trainPlan } from "../lib/experiments/train_plan.ts";
import { writeTrainingResults } from "../lib/experiments/train_files.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { describeParams } from "../lib/search_space.ts";
import { readTrainingState, runTrainings } from "../lib/train/trainings.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "trains one autoencoder on MNIST: its weights, loss history and curve, and test digits beside their reconstructions";

await runMain(async () => {
  // Flags: the study's best parameters (or the last search's) unless given.
  const flags = parseFlags(Deno.args, "train", SUMMARY, TRAIN_FLAGS);
  checkHidden(flags.hidden);
  const params = await trainingParams(flags);
  console.error(`parameters: ${params.source}`);

  // Data: training and validation split of the 60k, the test set for final numbers.
  const { data, engine, out } = await setupTraining(flags);
  const { set, model, contender } = trainPlan(flags, params, data);
  console.error(
    `training d = ${flags.hidden} on ${data.train.count} images for ${
      counted(params.epochs, "epoch")
    }, ${describeParams(params)}${
      contender ? `, beside the study's parameters (${describeParams(contender)})` : ""
    }`,
  );

  // Loop: trains it, or reuses (and trains on) the one kept with the same settings.
  const [result, contenderResult] = await runTrainings(set.trainings, {
    ...set,
    engine,
    fresh: flags.fresh,
    // Fewer models than a pool of wasm workers: every worker trains a slice of each batch.
    dataParallel: true,
  });

  // Files: weights (never those of a diverged run), history, loss curve, reconstructions, report.
  const id = set.trainings[0].id;
  const trained = result!.diverged
    ? undefined
    : Autoencoder.fromWeights(model, (await readTrainingState(set.folder, id)).weights);
  const weightsPath = join(out, "model.safetensors");
  if (trained) await trained.save(weightsPath);
  else await Deno.remove(weightsPath).catch(() => {});
  const results = await summarizeTraining({
    hidden: flags.hidden,
    params,
    seed: flags.seed,
    engine: result!.engine,
    trainImages: data.train.count,
    result: result!,
    contender: contender && { params: contender, result: contenderResult! },
    model: trained,
    test: data.test,
  });
  const summary = await writeTrainingResults(out, results);
  trained?.dispose();
  if (result!.diverged) {
    const epoch = result!.history.at(-1)!.epoch;
    throw new Error(
      `training diverged at epoch ${epoch} (a loss turned NaN or infinite), so no model was saved; ` +
        "try a lower --lr",
    );
  }
  console.error(`${summary}\nwrote ${out}/`);
});
