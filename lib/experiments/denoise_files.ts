/**
 * What `deno task denoise` leaves, from what `denoise.ts` measured: each denoiser's weights
 * (`denoiser-<kind>.safetensors`), the comparison (`comparison.csv`), the curves (`<kind>-curve.*`),
 * identity's files (`identity.ts`), the denoising figures (`denoised-<kind>.png`), `denoise.json` and the
 * report's section.
 *
 * @module
 */
import { join } from "node:path";
import { describeCorruption } from "../corrupt.ts";
import { encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { csvTable, publishSection, type ReportItem } from "../report.ts";
import { describeParams } from "../search_space.ts";
import { lossHistory } from "../train/trainings.ts";
import type { DenoiseResults } from "./denoise.ts";
import { STUDY } from "../paper.ts";
import { writeIdentityResults } from "./identity.ts";
import { curveTable, writeCurve } from "./robustness.ts";

/**
 * Writes `results`' weights, comparison, curves, identity, figures, `denoise.json` and report section
 * into `out`; returns a summary line per denoiser.
 */
export async function writeDenoiseResults(out: string, results: DenoiseResults): Promise<string[]> {
  const { settings, hidden, comparison, curves, digits } = results;
  // Each denoiser's weights, as a model file (none where it diverged).
  const files: Record<string, string | null> = {};
  for (const { kind, model } of results.denoisers) {
    const file = `denoiser-${kind}.safetensors`;
    files[kind] = model ? file : null;
    if (model) await model.save(join(out, file));
    else await Deno.remove(join(out, file)).catch(() => {});
  }

  const charts: string[] = [];
  for (const curve of curves) charts.push(await writeCurve(out, curve));
  const identityItems = await writeIdentityResults(out, results.identity);
  const figures: Record<string, string> = {};
  for (const { kind, rows } of results.figures) {
    figures[kind] = `denoised-${kind}.png`;
    await writeFileAtomic(join(out, figures[kind]), encodeDigitGrid(rows, { separateAfter: [1] }));
  }

  // Files: comparison table (JSON, CSV), the report section.
  await writeFileAtomic(join(out, "comparison.csv"), csvTable(comparison.headers, comparison.rows));
  await writeJsonAtomic(join(out, "denoise.json"), {
    standardModel: settings.model,
    hidden,
    seed: results.seed,
    params: results.params,
    trainImages: results.trainImages,
    testImages: results.testImages,
    classifier: settings.classifier,
    denoisers: results.denoisers.map(({ kind, corruption, record }) => ({
      kind,
      corruption,
      file: files[kind],
      diverged: record.diverged,
      epochs: record.history.length,
      history: lossHistory(record.history),
    })),
    comparison,
    curves,
    identity: results.identity,
  });
  const summaries = results.denoisers.map(({ kind, corruption, record, losses }) => {
    const reference = kind === "noise"
      ? `the study reports ${STUDY.denoiserLoss.value} after ${STUDY.denoiserLoss.epochs} epochs`
      : "the study proposed it as future work";
    if (!losses) {
      return `The ${kind} denoiser diverged at epoch ${record.history.length}, so it was not saved.`;
    }
    const [ours, standards] = [losses.denoiser, losses.standard].map((l) => l.toFixed(6));
    return `The ${kind} denoiser (${record.history.length} epochs) reaches ${ours} on test images ` +
      `under ${
        describeCorruption(corruption)
      }, against the clean ones (${reference}); the standard ` +
      `model reaches ${standards}.`;
  });
  const items: ReportItem[] = [
    {
      kind: "text",
      text: `Denoisers of d = ${hidden} trained on ${results.trainImages} images ` +
        `(${describeParams(results.params)}; ${results.params.source}), evaluated on ` +
        `${results.testImages} test images. ${summaries.join(" ")}`,
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
    ...results.figures.map(({ kind, corruption, readings }): ReportItem => ({
      kind: "figure",
      file: figures[kind],
      caption:
        `The first ${digits} test digits under ${
          describeCorruption(corruption)
        }: original, corrupted, the standard model's output, the ${kind} denoiser's output (rows). ` +
        `The classifier reads (true → read) the standard model's outputs ${
          readings[0]
        } and the ${kind} denoiser's ${readings[1]}.`,
    })),
  ];
  await publishSection(out, {
    title: "Denoising autoencoders",
    items,
    findings: results.findings,
  });
  return summaries;
}
