/**
 * What `deno task denoise` leaves, put together from its denoisers' trainings: each denoiser's weights
 * (`denoiser-<kind>.safetensors`), every model — the standard one and each denoiser — on the same clean,
 * noisy and occluded test images (a table) and over the corruption curves (charts and tables), the
 * identity each keeps of the digits (`identity.ts`), the study's Figure 6 with its occlusion counterpart,
 * and the report's section.
 *
 * @module
 */
import { join } from "node:path";
import { corrupt, type Corruption, describeCorruption } from "../corrupt.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { TrainingParams } from "../experiment.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { pickImages, reconstructPixels } from "../predict.ts";
import { csvTable, type Finding, publishSection, type ReportItem } from "../report.ts";
import { describeParams } from "../search_space.ts";
import { lossHistory, readTrainingState, type TrainingRecord } from "../train/trainings.ts";
import { type Budget, closeTo, holdsWhen, TOLERANCE } from "./findings.ts";
import { STUDY } from "../paper.ts";
import {
  CORRUPTION_KINDS,
  type CorruptionKind,
  curveTable,
  type NamedModel,
  type RobustnessSettings,
  testLosses,
  writeCurve,
} from "./robustness.ts";
import { describeReadings, lossCurves, measureIdentity, writeIdentityResults } from "./identity.ts";

/** One trained denoiser: what it undoes and its training's record. */
export interface Denoiser {
  kind: CorruptionKind;
  corruption: Corruption;
  record: TrainingRecord;
}

/** The denoisers' trainings, as `denoise` hands them over to be written. */
export interface DenoiseOutcome {
  standard: Autoencoder;
  denoisers: Denoiser[];
  /** Where the records and states are. */
  folder: string;
  settings: RobustnessSettings;
  params: TrainingParams;
  seed: number;
  trainImages: number;
  /** The clean test images, `count × 784` floats in [0, 1], and their labels. */
  clean: Float32Array;
  labels: Uint8Array;
  /** The digit classifier that scores whether a digit keeps its identity. */
  classifier: Classifier;
  /** Test digits in each denoising figure. */
  digits: number;
}

/** The losses a noise denoiser is judged by, on the same test images. */
export interface DenoiserLosses {
  /** The denoiser on noisy images, against the clean ones (null: it diverged). */
  denoiser: number | null;
  /** The standard model on the same noisy images, and on the clean ones. */
  standardNoisy: number;
  standardClean: number;
  corruption: Corruption;
  budget: Budget;
}

/**
 * What the noise denoiser judges of the study: its loss on noisy digits against the study's (comparable
 * only at the study's budget and noise), that it beats the standard model on them, and that on noisy digits
 * it comes within {@link TOLERANCE} of what the standard model reaches on clean ones — the study's
 * 0.030541 against 0.02995.
 */
export function denoiserFindings(losses: DenoiserLosses): Finding[] {
  const { denoiser, standardNoisy, standardClean, corruption } = losses;
  const noise = describeCorruption(corruption);
  const study = STUDY.denoiserLoss.value;
  const studyRatio = study / STUDY.testLoss.value;
  const standardLevel = corruption.kind === "noise" && corruption.std === 0.2;
  const lossRow = closeTo(
    `noise denoiser's test loss under ${noise} after ${STUDY.denoiserLoss.epochs} epochs`,
    study,
    denoiser,
    losses.budget,
    STUDY.denoiserLoss.epochs,
  );
  const ratio = denoiser === null ? null : denoiser / standardClean;
  return [
    standardLevel ? lossRow : {
      ...lossRow,
      verdict: "not comparable",
      why: `the study's noise had std 0.2, this run's ${noise}`,
    },
    holdsWhen(
      `the noise denoiser beats the standard model on noisy digits`,
      "it does",
      "denoiser's loss < standard model's, same noisy test digits",
      denoiser === null ? "diverged" : `${denoiser.toFixed(5)} against ${standardNoisy.toFixed(5)}`,
      denoiser !== null && denoiser < standardNoisy,
      `both against the clean images, under ${noise}`,
    ),
    holdsWhen(
      "on noisy digits the denoiser comes close to the standard model on clean ones",
      `${study} against ${STUDY.testLoss.value} (×${studyRatio.toFixed(3)})`,
      `within ${TOLERANCE * 100}% of the standard model's clean loss`,
      ratio === null ? "diverged" : `×${ratio.toFixed(3)} of ${standardClean.toFixed(5)}`,
      ratio !== null && ratio <= 1 + TOLERANCE,
      "the denoiser's noisy loss over the standard model's clean loss",
    ),
  ];
}

/** Writes the denoisers' weights, the comparison, curves, figures and report section into `out`. */
export async function writeDenoiseResults(out: string, outcome: DenoiseOutcome): Promise<string[]> {
  const { standard, settings, clean, labels, classifier, seed } = outcome;
  const hidden = standard.config.hidden;
  // Each denoiser's weights, as a model file (none where it diverged).
  const trained: (NamedModel & Denoiser & { file?: string })[] = [];
  for (const denoiser of outcome.denoisers) {
    const file = `denoiser-${denoiser.kind}.safetensors`;
    if (denoiser.record.diverged) {
      await Deno.remove(join(out, file)).catch(() => {});
      continue;
    }
    const { weights } = await readTrainingState(outcome.folder, denoiser.record.id);
    const model = Autoencoder.fromWeights({ hidden, dropout: outcome.params.dropout }, weights);
    await model.save(join(out, file));
    trained.push({ ...denoiser, name: `${denoiser.kind} denoiser`, model, file });
  }

  // Comparison: every model on the same clean, noisy and occluded test images, then on the curves.
  const models: NamedModel[] = [{ name: "standard", model: standard }, ...trained];
  const columns = [null, ...CORRUPTION_KINDS.map((kind) => settings.corruptions[kind])];
  const losses: number[][] = [];
  for (const corruption of columns) losses.push(await testLosses(models, clean, corruption, seed));
  const lossOf = (model: number, column: number) => losses[column][model];
  const comparison = {
    headers: ["model", ...columns.map((c) => c ? describeCorruption(c) : "clean")],
    rows: models.map(({ name }, m) => [name, ...columns.map((_, c) => lossOf(m, c))]),
  };
  const identity = await measureIdentity(
    models,
    classifier,
    { pixels: clean, labels },
    settings,
    seed,
  );
  const curves = lossCurves(identity);
  const charts: string[] = [];
  for (const curve of curves) charts.push(await writeCurve(out, curve));
  const identityItems = await writeIdentityResults(out, identity);

  // Figures: the first test digits, corrupted as in the comparison, through both models (Figure 6).
  const indices = [...Array(outcome.digits).keys()];
  const preview = clean.subarray(0, outcome.digits * IMAGE_PIXELS);
  const figures: Record<string, string> = {};
  const readings: Record<string, string[]> = {};
  for (const { kind, corruption, model } of trained) {
    const corrupted = corrupt(preview, corruption, seed);
    const outputs = [
      await reconstructPixels(standard, corrupted),
      await reconstructPixels(model, corrupted),
    ];
    const rows = [preview, corrupted, ...outputs].map((pixels) => pickImages(pixels, indices));
    figures[kind] = `denoised-${kind}.png`;
    await writeFileAtomic(join(out, figures[kind]), encodeDigitGrid(rows, { separateAfter: [1] }));
    readings[kind] = [];
    for (const output of outputs) {
      readings[kind].push(describeReadings(labels, await classifier.predict(output), indices));
    }
  }

  // Files: comparison table (JSON, CSV), the report section.
  await writeFileAtomic(join(out, "comparison.csv"), csvTable(comparison.headers, comparison.rows));
  await writeJsonAtomic(join(out, "denoise.json"), {
    standardModel: settings.model,
    hidden,
    seed,
    params: outcome.params,
    trainImages: outcome.trainImages,
    testImages: clean.length / IMAGE_PIXELS,
    classifier: settings.classifier,
    denoisers: outcome.denoisers.map(({ kind, corruption, record }) => ({
      kind,
      corruption,
      file: trained.find((t) => t.kind === kind)?.file ?? null,
      diverged: record.diverged,
      epochs: record.history.length,
      history: lossHistory(record.history),
    })),
    comparison,
    curves,
    identity,
  });
  const summaries = outcome.denoisers.map(({ kind, corruption, record }) => {
    const column = 1 + CORRUPTION_KINDS.indexOf(kind);
    const reference = kind === "noise"
      ? `the study reports ${STUDY.denoiserLoss.value} after ${STUDY.denoiserLoss.epochs} epochs`
      : "the study proposed it as future work";
    const m = trained.findIndex((t) => t.kind === kind);
    if (m < 0) {
      return `The ${kind} denoiser diverged at epoch ${record.history.length}, so it was not saved.`;
    }
    const [ours, standards] = [lossOf(1 + m, column), lossOf(0, column)].map((l) => l.toFixed(6));
    return `The ${kind} denoiser (${record.history.length} epochs) reaches ${ours} on test images ` +
      `under ${
        describeCorruption(corruption)
      }, against the clean ones (${reference}); the standard ` +
      `model reaches ${standards}.`;
  });
  const items: ReportItem[] = [
    {
      kind: "text",
      text: `Denoisers of d = ${hidden} trained on ${outcome.trainImages} images ` +
        `(${describeParams(outcome.params)}; ${outcome.params.source}), evaluated on ` +
        `${clean.length / IMAGE_PIXELS} test images. ${summaries.join(" ")}`,
    },
    {
      kind: "table",
      caption: "Test loss against the clean image, per model and input (MSE per pixel).",
      headers: comparison.headers,
      rows: comparison.rows.map(([name, ...values]) => [
        name,
        ...values.map((v) => (v as number).toFixed(6)),
      ]),
    },
    ...curves.map((curve, i): ReportItem => ({
      kind: "figure",
      file: charts[i],
      caption: `Test loss of the standard model and the denoisers as the ${
        curve.kind === "noise" ? "noise" : "occluding square"
      } grows.`,
    })),
    ...curves.map((curve): ReportItem => ({
      kind: "table",
      caption: `The ${curve.kind} curves' values.`,
      ...curveTable(curve, 5),
    })),
    ...identityItems,
    ...trained.map(({ kind, corruption }): ReportItem => ({
      kind: "figure",
      file: figures[kind],
      caption:
        `The first ${outcome.digits} test digits under ${
          describeCorruption(corruption)
        }: original, corrupted, the standard model's output, the ${kind} denoiser's output (rows). ` +
        `The classifier reads (true → read) the standard model's outputs ${
          readings[kind][0]
        } and the ${kind} denoiser's ${readings[kind][1]}.`,
    })),
  ];
  const noise = trained.findIndex((t) => t.kind === "noise");
  const findings = outcome.denoisers.some(({ kind }) => kind === "noise")
    ? denoiserFindings({
      denoiser: noise < 0 ? null : lossOf(1 + noise, 1 + CORRUPTION_KINDS.indexOf("noise")),
      standardNoisy: lossOf(0, 1 + CORRUPTION_KINDS.indexOf("noise")),
      standardClean: lossOf(0, 0),
      corruption: settings.corruptions.noise,
      budget: {
        epochs: outcome.denoisers.find(({ kind }) => kind === "noise")!.record.history.length,
        trainImages: outcome.trainImages,
        testImages: clean.length / IMAGE_PIXELS,
      },
    })
    : [];
  await publishSection(out, { title: "Denoising autoencoders", items, findings });
  trained.forEach(({ model }) => model.dispose());
  return summaries;
}
