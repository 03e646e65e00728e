/**
 * `deno task train`: trains one autoencoder on MNIST and writes its weights, its loss history, a loss
 * curve and a grid of test digits beside their reconstructions.
 *
 *     deno task train --hidden 4 --epochs 150
 *     deno run -A https://…/scripts/train.ts --epochs 1
 *
 * @module
 */
import { join } from "node:path";
import { counted, parseFlags, runMain } from "../lib/cli.ts";
import {
  checkHidden,
  commonFlags,
  engineFlags,
  setupTraining,
  trainingFlags,
  trainingParams,
} from "../lib/experiment.ts";
import { contenderParams, summarizeTraining } from "../lib/experiments/train.ts";
import { writeTrainingResults } from "../lib/experiments/train_files.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { describeParams } from "../lib/search_space.ts";
import { createTrainer } from "../lib/train/engine.ts";
import { fit } from "../lib/train/fit.ts";
import { datasetOf } from "../lib/train/trainer.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "trains one autoencoder on MNIST: its weights, loss history and curve, and test digits beside their reconstructions";

await runMain(async () => {
  // Flags: the study's best parameters (or the last search's) unless given.
  const flags = parseFlags(Deno.args, "train", SUMMARY, {
    hidden: { type: "number", default: 4, help: "latent size d" },
    ...trainingFlags(150),
    fresh: { type: "boolean", default: false, help: "start over instead of resuming a checkpoint" },
    ...engineFlags(),
    ...commonFlags("train"),
  });
  checkHidden(flags.hidden);
  const params = await trainingParams(flags);
  console.error(`parameters: ${params.source}`);

  // Data: training and validation split of the 60k, the test set for final numbers.
  const { data, engine, out } = await setupTraining(flags);

  // Model and trainer: a population of one — or two, a search's pick and the study's parameters
  // beside it (the same seed and images), to judge the search by the long run.
  const model = { kind: "autoencoder", hidden: flags.hidden, dropout: params.dropout } as const;
  const job = {
    name: `d = ${flags.hidden}`,
    model,
    lr: params.lr,
    l2: params.l2,
    seed: flags.seed,
    train: datasetOf(data.train),
    validation: datasetOf(data.validation),
    test: datasetOf(data.test),
  };
  const contender = contenderParams(params);
  const jobs = contender
    ? [job, {
      ...job,
      name: `d = ${flags.hidden}, the study's parameters`,
      model: { ...model, dropout: contender.dropout },
      lr: contender.lr,
      l2: contender.l2,
    }]
    : [job];
  // Fewer models than a pool of wasm workers: every worker trains a slice of each batch.
  const trainer = await createTrainer(engine, jobs, {
    batchSize: params.batchSize,
    dataParallel: true,
  });
  console.error(
    `training d = ${flags.hidden} on ${data.train.count} images for ${
      counted(params.epochs, "epoch")
    }, ${describeParams(params)}${
      contender ? `, beside the study's parameters (${describeParams(contender)})` : ""
    }, on ${trainer.description}`,
  );

  // Loop: a run interrupted with the same settings resumes after its last epoch's checkpoint.
  const checkpoint = join(out, "checkpoint.safetensors");
  const settings = {
    model,
    lr: params.lr,
    l2: params.l2,
    seed: flags.seed,
    batchSize: params.batchSize,
    images: { train: data.train.count, validation: data.validation.count, test: data.test.count },
    ...(contender ? { contender } : {}),
  };
  const [result, contenderResult] = await fit(trainer, {
    epochs: params.epochs,
    checkpoint: { path: checkpoint, settings, fresh: flags.fresh },
  });
  const { weights } = await trainer.getState(0);
  await trainer.dispose();

  // Files: weights (never those of a diverged run), history, loss curve, reconstructions, report.
  const trained = result.diverged ? undefined : Autoencoder.fromWeights(model, weights);
  const weightsPath = join(out, "model.safetensors");
  if (trained) await trained.save(weightsPath);
  else await Deno.remove(weightsPath).catch(() => {});
  const results = await summarizeTraining({
    hidden: flags.hidden,
    params,
    seed: flags.seed,
    engine: trainer.description,
    trainImages: data.train.count,
    result,
    contender: contender && { params: contender, result: contenderResult },
    model: trained,
    test: data.test,
  });
  const summary = await writeTrainingResults(out, results);
  await Deno.remove(checkpoint).catch(() => {});
  trained?.dispose();
  if (result.diverged) {
    const epoch = result.history.at(-1)!.epoch;
    throw new Error(
      `training diverged at epoch ${epoch} (a loss turned NaN or infinite), so no model was saved; ` +
        "try a lower --lr",
    );
  }
  console.error(`${summary}\nwrote ${out}/`);
});
