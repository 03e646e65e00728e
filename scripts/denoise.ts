/**
 * `deno task denoise`: denoising autoencoders. Trains one model per corruption — Gaussian noise, as the
 * study did, and occlusion, its proposed future work — on (corrupted, clean) pairs, so that the loss is
 * taken between the output for the corrupted image and the clean one; the denoisers train as one
 * population on whichever engine is in use. Compares each denoiser with the trained standard model on the
 * same corrupted test images: a table, the loss curves over noise levels and occlusion sizes, and the
 * study's Figure 6 (a corrupted digit, the standard model's output, the denoiser's) with its occlusion
 * counterpart, and the share of digits each model keeps as the digit they were, as the digit classifier
 * reads them. A denoiser already trained with the same settings is kept, one interrupted resumes from
 * its last epoch, and one asked for more epochs trains on. `--shard i/n` (or a scheduler's array index)
 * trains shard i's share of the denoisers; `--merge` then writes the files.
 *
 *     deno task train && deno task classify && deno task denoise
 *     deno task denoise --kinds noise --epochs 20 --noise 0.5
 *
 * @module
 */
import { check, counted, parseFlags, runMain } from "../lib/cli.ts";
import { describeCorruption, digitPixels } from "../lib/corrupt.ts";
import {
  checkInteger,
  loadClassifier,
  loadTrainedModel,
  setupTraining,
  trainingParams,
} from "../lib/experiment.ts";
import { measureDenoisers } from "../lib/experiments/denoise.ts";
import { writeDenoiseResults } from "../lib/experiments/denoise_files.ts";
import { DENOISE_FLAGS, denoiserSet } from "../lib/experiments/denoise_plan.ts";
import { parseKinds, parseRobustnessFlags } from "../lib/experiments/robustness.ts";
import { describeParams } from "../lib/search_space.ts";
import { owns, reportShardDone, stepRun, waitsForOthers } from "../lib/shards.ts";
import { createInference } from "../lib/train/engine.ts";
import { gatherTrainings, runTrainings, unfinishedTrainings } from "../lib/train/trainings.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "denoising autoencoders for noise and occlusion, compared with the standard model in loss and identity";

await runMain(async () => {
  // Flags: which denoisers, how to train them (best parameters unless given), what to compare.
  const flags = parseFlags(Deno.args, "denoise", SUMMARY, DENOISE_FLAGS);
  const settings = parseRobustnessFlags(flags);
  const kinds = parseKinds("kinds", flags.kinds);
  const params = await trainingParams(flags);
  checkInteger("digits", flags.digits, 1);
  if (params.source !== "flags") console.error(`parameters: ${params.source}`);
  const run = stepRun(flags);

  // Data, the standard model (the denoisers share its latent size) and the classifier.
  const { data, engine, out } = await setupTraining(flags, { share: run.kind === "shard" });
  check(
    flags.digits <= data.test.count,
    `--digits ${flags.digits} exceeds the ${data.test.count} test images`,
  );
  const standard = await loadTrainedModel(settings.model);
  const classifier = await loadClassifier(settings.classifier);
  const hidden = standard.config.hidden;

  // Models: one denoiser per corruption, each on its (corrupted, clean) pairs of every split.
  const plan = { kinds, settings, hidden, params, seed: flags.seed, out };
  const set = denoiserSet(plan, data);
  const { trainings, folder } = set;
  console.error(
    `training the ${
      kinds.map((kind) => describeCorruption(settings.corruptions[kind])).join(" and ")
    } ` +
      `denoisers on ${data.train.count} images for ${counted(params.epochs, "epoch")}, ${
        describeParams(params)
      }`,
  );

  // Loop: the denoisers this run trains (all, or a shard's share) not done yet, as one population.
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

  // Measures and files, from every denoiser's result: weights, comparison, curves, figures, report.
  const records = await gatherTrainings(trainings, {
    folder,
    epochs: params.epochs,
    wait: waitsForOthers(run),
    merge: run.kind === "merge",
  });
  const inference = await createInference(engine);
  const results = await measureDenoisers({
    standard,
    denoisers: kinds.map((kind, i) => ({
      kind,
      corruption: settings.corruptions[kind],
      record: records[i],
    })),
    folder,
    settings,
    params,
    seed: flags.seed,
    trainImages: data.train.count,
    clean: digitPixels(data.test),
    labels: data.test.labels.subarray(0, data.test.count),
    classifier,
    inference,
    digits: flags.digits,
  });
  const summaries = await writeDenoiseResults(out, results);
  results.denoisers.forEach(({ model }) => model?.dispose());
  standard.dispose();
  inference.dispose();
  classifier.dispose();
  console.error(summaries.join("\n"));
  console.error(`wrote ${out}/`);
});
