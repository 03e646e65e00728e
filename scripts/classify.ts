/**
 * `deno task classify`: trains the digit classifier (`lib/model/classifier.ts`) on MNIST's training split
 * with the same data, engines and files as the autoencoders, and reports its test accuracy. A classifier
 * already trained with the same settings is reused, one interrupted resumes from its last epoch, and one
 * asked for more epochs trains on. `corrupt`, `denoise` and `morph` read digits with it.
 *
 *     deno task classify
 *     deno task classify --epochs 6 --batch-size 64
 *
 * @module
 */
import { join } from "node:path";
import { parseFlags, runMain } from "../lib/cli.ts";
import {
  checkInteger,
  checkPositive,
  checkRange,
  commonFlags,
  engineFlags,
  experimentDatasets,
  setupTraining,
} from "../lib/experiment.ts";
import { CLASSIFIER_TRAINING, evaluateClassifier } from "../lib/experiments/classify.ts";
import { writeClassifierResults } from "../lib/experiments/classify_files.ts";
import { Classifier } from "../lib/model/classifier_model.ts";
import { createInference } from "../lib/train/engine.ts";
import { readTrainingState, runTrainings } from "../lib/train/trainings.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "trains the digit classifier that reads digits for corrupt, denoise and morph, and reports its test accuracy";

await runMain(async () => {
  // Flags: the classifier's own training settings unless given.
  const defaults = CLASSIFIER_TRAINING;
  const flags = parseFlags(Deno.args, "classify", SUMMARY, {
    epochs: { type: "number", default: defaults.epochs, help: "passes over the training images" },
    "batch-size": { type: "number", default: defaults.batchSize, help: "images per step" },
    lr: { type: "number", default: defaults.lr, help: "Adam's learning rate of the first epoch" },
    "lr-decay": {
      type: "number",
      default: defaults.lrDecay,
      help: "each epoch's learning rate is the last one's times this",
    },
    l2: { type: "number", default: defaults.l2, help: "L2 weight decay" },
    dropout: {
      type: "number",
      default: defaults.dropout,
      help: "dropout after the hidden linear layer",
    },
    fresh: { type: "boolean", default: false, help: "train again even where a classifier exists" },
    ...engineFlags(),
    ...commonFlags("classify"),
  });
  checkInteger("epochs", flags.epochs, 1);
  checkInteger("batch-size", flags["batch-size"], 1);
  checkPositive("lr", flags.lr);
  checkRange("lr-decay", flags["lr-decay"], 0, 1, true);
  checkPositive("lr-decay", flags["lr-decay"]);
  checkRange("l2", flags.l2, 0, Infinity);
  checkRange("dropout", flags.dropout, 0, 1);
  const training = {
    epochs: flags.epochs,
    batchSize: flags["batch-size"],
    lr: flags.lr,
    lrDecay: flags["lr-decay"],
    l2: flags.l2,
    dropout: flags.dropout,
  };

  // Data: the labelled training and validation split of the 60k, the test set for its accuracy.
  const { data, engine, out } = await setupTraining(flags);
  const { train, validation, test, images } = experimentDatasets(data);

  // Model: one classifier, kept as a training of its own.
  const model = { kind: "classifier", dropout: training.dropout } as const;
  const job = {
    model,
    lr: training.lr,
    lrDecay: training.lrDecay,
    l2: training.l2,
    seed: flags.seed,
  };
  console.error(
    `training the digit classifier on ${train.count} images for ${training.epochs} epochs ` +
      `(batch ${training.batchSize}, lr ${training.lr} times ${training.lrDecay} each epoch, L2 ` +
      `${training.l2}, dropout ${training.dropout})`,
  );

  // Loop: trains it, or reuses (and trains on) the one saved with the same settings.
  const folder = join(out, "trainings");
  const [record] = await runTrainings([{
    id: "classifier",
    job: { name: "classifier", ...job, train, validation, test },
    settings: { ...job, batchSize: training.batchSize, images },
  }], {
    folder,
    epochs: training.epochs,
    engine,
    batchSize: training.batchSize,
    label: "train",
    fresh: flags.fresh,
    // One model, fewer than a pool of wasm workers: every worker trains a slice of each batch.
    dataParallel: true,
  });
  if (record!.diverged) {
    throw new Error(
      `the classifier diverged at epoch ${record!.history.length} (a loss turned NaN or ` +
        "infinite), so none was saved; try a lower --lr",
    );
  }

  // Files: weights, accuracy, loss and confusion, report.
  const { weights } = await readTrainingState(folder, "classifier");
  const classifier = Classifier.fromWeights(model, weights);
  await classifier.save(join(out, "classifier.safetensors"));
  const inference = await createInference(engine);
  const results = await evaluateClassifier({
    classifier,
    inference,
    record: record!,
    training,
    seed: flags.seed,
    trainImages: train.count,
    test: data.test,
  });
  inference.dispose();
  classifier.dispose();
  const summary = await writeClassifierResults(out, results);
  console.error(`${summary}\nwrote ${out}/`);
});
