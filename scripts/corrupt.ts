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
import { join } from "node:path";
import { check, parseFlags, runMain } from "../lib/cli.ts";
import { corrupt, describeCorruption, digitPixels } from "../lib/corrupt.ts";
import {
  checkInteger,
  commonFlags,
  loadClassifier,
  loadTrainedModel,
  setupExperiment,
} from "../lib/experiment.ts";
import {
  describeReadings,
  lossCurves,
  measureIdentity,
  writeIdentityResults,
} from "../lib/experiments/identity.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import {
  averageLoss,
  bestAndWorst,
  pickImages,
  reconstructionLosses,
  reconstructPixels,
} from "../lib/predict.ts";
import { publishSection, type ReportItem } from "../lib/report.ts";
import {
  CORRUPTION_KINDS,
  curveTable,
  type NamedModel,
  parseRobustnessFlags,
  robustnessFlags,
  testLosses,
  writeCurve,
} from "../lib/experiments/robustness.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "the trained model on noisy and occluded test digits: loss and identity curves, best and worst digits";

await runMain(async () => {
  // Flags: the corruptions of the figures, the levels of the curves, the digits per figure.
  const flags = parseFlags(Deno.args, "corrupt", SUMMARY, {
    ...robustnessFlags(),
    digits: { type: "number", default: 10, help: "best and worst test digits shown per figure" },
    ...commonFlags("corrupt"),
  });
  const settings = parseRobustnessFlags(flags);
  checkInteger("digits", flags.digits, 1);

  // Data and models: the clean test images, the trained model, the classifier that reads digits.
  const { data, backend, out } = await setupExperiment(flags);
  check(
    flags.digits <= data.test.count,
    `--digits ${flags.digits} exceeds the ${data.test.count} test images`,
  );
  const model = await loadTrainedModel(settings.model);
  const classifier = await loadClassifier(settings.classifier);
  const hidden = model.config.hidden;
  console.error(
    `corrupting ${data.test.count} test images for the d=${hidden} model ${settings.model}`,
  );
  const clean = digitPixels(data.test);
  const labels = data.test.labels.subarray(0, data.test.count);
  const standard: NamedModel[] = [{ name: "standard", model }];
  const [cleanLoss] = await testLosses(standard, clean, null, flags.seed);

  // Loop: the loss and identity curves, then the best and worst digits of each figure's corruption.
  const identity = await measureIdentity(
    standard,
    classifier,
    { pixels: clean, labels },
    settings,
    flags.seed,
  );
  const curves = lossCurves(identity);
  const examples = [];
  for (const kind of CORRUPTION_KINDS) {
    const corruption = settings.corruptions[kind];
    const corrupted = corrupt(clean, corruption, flags.seed);
    const reconstructed = await reconstructPixels(model, corrupted);
    const losses = await reconstructionLosses(reconstructed, clean);
    const readings = await classifier.predict(reconstructed);
    const picks = bestAndWorst(losses, flags.digits);
    const figures: Record<string, string> = {};
    for (const [which, indices] of Object.entries(picks)) {
      figures[which] = `${kind}-${which}.png`;
      const rows = [clean, corrupted, reconstructed].map((pixels) => pickImages(pixels, indices));
      await writeFileAtomic(join(out, figures[which]), encodeDigitGrid(rows));
    }
    const describe = (indices: number[]) =>
      indices.map((index) => ({
        index,
        loss: losses[index],
        label: labels[index],
        reading: readings[index],
      }));
    examples.push({
      corruption,
      meanLoss: averageLoss(losses),
      best: describe(picks.best),
      worst: describe(picks.worst),
      figures,
      readings: {
        best: describeReadings(labels, readings, picks.best),
        worst: describeReadings(labels, readings, picks.worst),
      },
    });
  }

  // Files: curves (JSON, CSV, charts), identity, the figures above, the report section.
  const charts: string[] = [];
  for (const curve of curves) charts.push(await writeCurve(out, curve));
  const identityItems = await writeIdentityResults(out, identity);
  await writeJsonAtomic(join(out, "curves.json"), {
    model: settings.model,
    classifier: settings.classifier,
    hidden,
    backend: backend.backend,
    adapter: backend.adapter,
    seed: flags.seed,
    testImages: data.test.count,
    cleanLoss,
    curves,
    identity,
    examples,
  });
  const underEach = examples.map((e) =>
    `${e.meanLoss.toFixed(5)} under ${describeCorruption(e.corruption)}`
  );
  const items: ReportItem[] = [{
    kind: "text",
    text:
      `The trained d = ${hidden} model on ${data.test.count} test images (${backend.backend}): ` +
      `loss ${cleanLoss.toFixed(5)} on clean images, ${underEach.join(" and ")}, each against ` +
      `the clean image.`,
  }];
  curves.forEach((curve, i) => {
    items.push({
      kind: "figure",
      file: charts[i],
      caption: `Test loss against the clean image as the ${
        curve.kind === "noise" ? "noise grows" : "occluding square grows"
      }.`,
    });
    items.push({
      kind: "table",
      caption: `The ${curve.kind} curve's values.`,
      ...curveTable(curve, 5),
    });
  });
  items.push(...identityItems);
  for (const example of examples) {
    for (const which of ["best", "worst"] as const) {
      const misread = example[which].filter((pick) => pick.reading !== pick.label).length;
      items.push({
        kind: "figure",
        file: example.figures[which],
        caption:
          `The ${flags.digits} ${which}-reconstructed test digits under ${
            describeCorruption(example.corruption)
          }, by loss: original, corrupted, reconstructed (rows). The classifier reads the ` +
          `reconstructions (true → read) ${example.readings[which]}: ${misread} of ` +
          `${flags.digits} came back as another digit.`,
      });
    }
  }
  await publishSection(out, { title: "Corrupted inputs", items });
  model.dispose();
  classifier.dispose();
  console.error(`clean test loss ${cleanLoss.toFixed(5)}; wrote ${out}/`);
});
