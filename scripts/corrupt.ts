/**
 * `deno task corrupt`: how the trained autoencoder copes with corrupted inputs. Measures its test loss
 * against the clean images over a range of Gaussian noise levels and occlusion sizes (curves, JSON and
 * CSV), and shows the best and worst reconstructed test digits under each corruption — the study's Figures
 * 2–5 — chosen by their loss. The digit classifier says whether each digit survives: the share of test
 * digits whose reconstruction it still reads as their digit at every level (beside the corrupted inputs
 * read directly), which digits they came back as, and the reading of every digit in the figures.
 *
 *     deno task train && deno task classify && deno task corrupt
 *     deno task corrupt --noise 0.3 --occlusion 14 --noise-levels 0,0.25,0.5,1
 *
 * @module
 */
import { check, parseFlags, runMain } from "../lib/cli.ts";
import { digitPixels } from "../lib/corrupt.ts";
import {
  checkInteger,
  commonFlags,
  engineFlags,
  loadClassifier,
  loadTrainedModel,
  setupTraining,
} from "../lib/experiment.ts";
import { measureCorruption } from "../lib/experiments/corrupt.ts";
import { writeCorruptResults } from "../lib/experiments/corrupt_files.ts";
import { parseRobustnessFlags, robustnessFlags } from "../lib/experiments/robustness.ts";
import { createInference } from "../lib/train/engine.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "the trained model on noisy and occluded test digits: loss and identity curves, best and worst digits";

await runMain(async () => {
  // Flags: the corruptions of the figures, the levels of the curves, the digits per figure.
  const flags = parseFlags(Deno.args, "corrupt", SUMMARY, {
    ...robustnessFlags(),
    digits: { type: "number", default: 10, help: "best and worst test digits shown per figure" },
    ...engineFlags(),
    ...commonFlags("corrupt"),
  });
  const settings = parseRobustnessFlags(flags);
  checkInteger("digits", flags.digits, 1);

  // Data and models: the clean test images, the trained model, the classifier that reads digits (on
  // the engine in use).
  const { data, backend, engine, out } = await setupTraining(flags);
  check(
    flags.digits <= data.test.count,
    `--digits ${flags.digits} exceeds the ${data.test.count} test images`,
  );
  const model = await loadTrainedModel(settings.model);
  const classifier = await loadClassifier(settings.classifier);
  const inference = await createInference(engine);
  const hidden = model.config.hidden;
  console.error(
    `corrupting ${data.test.count} test images for the d=${hidden} model ${settings.model}`,
  );

  // Loop: the loss and identity curves, then the best and worst digits of each figure's corruption,
  // from one reconstruction of each corrupted set.
  const results = await measureCorruption({
    model,
    classifier,
    test: { pixels: digitPixels(data.test), labels: data.test.labels.subarray(0, data.test.count) },
    settings,
    seed: flags.seed,
    digits: flags.digits,
    backend,
    inference,
  });
  inference.dispose();
  model.dispose();
  classifier.dispose();

  // Files: curves (JSON, CSV, charts), identity, the figures, the report section.
  await writeCorruptResults(out, results);
  console.error(`clean test loss ${results.cleanLoss.toFixed(5)}; wrote ${out}/`);
});
