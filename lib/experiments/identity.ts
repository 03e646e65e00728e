/**
 * Does the digit survive? The identity of reconstructed digits, scored by the digit classifier, as the
 * `corrupt` and `denoise` experiments report it beside their losses: for each model and corruption level,
 * the share of test digits whose reconstruction the classifier reads as the digit they were (and, from the
 * same reconstructions, each model's loss against the clean digits: the loss curves); the
 * classifier's reading of the corrupted inputs themselves (the baseline: does reconstructing help at
 * all?) and of the clean reconstructions (the ceiling); which digit each one came back as (confusion
 * matrices and heat maps); and the files and report items that show them, with the finding in words.
 *
 * @module
 */
import { join } from "node:path";
import { ProgressBar } from "../cli.ts";
import { corrupt, type Corruption, describeCorruption } from "../corrupt.ts";
import { type Chart, heatmapChart, lineChart, writeChart } from "../figures/charts.ts";
import { writeFileAtomic } from "../files/atomic.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { DIGIT_CLASSES } from "../model/classifier.ts";
import { averageLoss, reconstructionLosses } from "../predict.ts";
import { csvTable, type ReportItem } from "../report.ts";
import type { Inference } from "../train/inference.ts";
import {
  CORRUPTION_KINDS,
  corruptionAt,
  type CorruptionCurve,
  corruptionLevel,
  LEVEL_TITLES,
  type NamedModel,
  type RobustnessSettings,
} from "./robustness.ts";

/** Test digits as identity is scored on them: clean pixels (`count × 784` floats in [0, 1]), labels. */
export interface LabelledPixels {
  pixels: Float32Array;
  labels: Uint8Array;
}

/** What the baseline's series, rows and panels are called: the classifier reading the input itself. */
export const INPUT_NAME = "the input itself";

/**
 * The identity of each model's reconstructions at each level of one corruption, and the baseline's; and
 * each model's loss, from the same reconstructions.
 */
export interface IdentityCurve extends CorruptionCurve {
  /** For each model, by name, the share of digits its reconstructions keep at each level. */
  identity: Record<string, number[]>;
  /** The share of corrupted inputs the classifier reads as their digit, at each level. */
  baseline: number[];
}

/** Identity under one corruption: each model's share and which digits came back as which. */
export interface IdentityAt {
  corruption: Corruption;
  /** For each model, the share of its reconstructions read as their digit. */
  identity: Record<string, number>;
  baseline: number;
  /**
   * `confusion[name][t][r]`: test digits t whose reconstruction by the model `name` (or, under
   * {@link INPUT_NAME}, whose corrupted input) the classifier reads as r.
   */
  confusion: Record<string, number[][]>;
}

/** Everything identity says about a set of models on a set of test digits. */
export interface IdentityResults {
  testImages: number;
  /** The classifier's accuracy on the clean test digits. */
  classifierAccuracy: number;
  /** For each model, the share of its clean reconstructions read as their digit: the ceiling. */
  ceiling: Record<string, number>;
  /** Identity under each corruption the figures use (noise std 0.2 and occlusion side 10 by default). */
  at: IdentityAt[];
  /** Identity over the levels of each corruption's curve. */
  curves: IdentityCurve[];
}

/**
 * The share of `readings` equal to `labels`: of digits read as what they are.
 *
 * @example
 * ```ts
 * import { identityShare } from "./identity.ts";
 * console.log(identityShare(Uint8Array.of(4, 9, 7), Uint8Array.of(4, 4, 7))); // 0.6666666666666666
 * ```
 */
export function identityShare(readings: Uint8Array, labels: Uint8Array): number {
  if (readings.length !== labels.length) {
    throw new RangeError(`${readings.length} readings of ${labels.length} labels`);
  }
  let same = 0;
  for (let i = 0; i < labels.length; i++) same += +(readings[i] === labels[i]);
  return same / Math.max(labels.length, 1);
}

/**
 * The confusion matrix of `readings` against `labels`: `matrix[t][r]` counts digits t read as r.
 *
 * @example
 * ```ts
 * import { confusionMatrix } from "./identity.ts";
 * console.log(confusionMatrix(Uint8Array.of(4, 4), Uint8Array.of(4, 9))[4][9]); // 1
 * ```
 */
export function confusionMatrix(labels: Uint8Array, readings: Uint8Array): number[][] {
  const matrix = Array.from({ length: DIGIT_CLASSES }, () => new Array(DIGIT_CLASSES).fill(0));
  labels.forEach((label, i) => matrix[label][readings[i]]++);
  return matrix;
}

/** What one model made of every test digit under one corruption of the figures. */
export interface Reconstructions {
  /** The reconstructions, `count × 784` floats in [0, 1]. */
  pixels: Float32Array;
  /** Each reconstruction's loss against its clean digit. */
  losses: Float32Array;
  /** The classifier's reading of each reconstruction. */
  readings: Uint8Array;
}

/** Every model's reconstructions of the test digits under one corruption of the figures. */
export interface ReconstructionsAt {
  corruption: Corruption;
  /** The corrupted test digits every model reconstructed. */
  inputs: Float32Array;
  /** By model name. */
  models: Record<string, Reconstructions>;
}

/**
 * What {@link measureIdentity} measures: identity, and from the same reconstructions each model's losses
 * and, under the figures' corruptions, the reconstructions themselves.
 */
export interface IdentityMeasurement {
  identity: IdentityResults;
  /** Each model's loss on the clean test digits, by name. */
  cleanLosses: Record<string, number>;
  /** Under each corruption of `identity.at`, in its order. */
  at: ReconstructionsAt[];
}

/**
 * Scores `models` with `classifier` on `test` digits, both run on `inference`: the classifier's own
 * accuracy, each model's ceiling, identity under each corruption of `settings` (with confusion
 * matrices) and over each curve's levels, with each model's loss against the clean digits there (with
 * a progress bar). Every model and the baseline see the same corrupted images, seeded by `seed` as
 * `testLosses` seeds them, and each model reconstructs each corrupted set once: its losses on the clean
 * digits and its reconstructions under the figures' corruptions come back beside identity.
 */
export async function measureIdentity(
  models: NamedModel[],
  classifier: Classifier,
  test: LabelledPixels,
  settings: RobustnessSettings,
  seed: number,
  inference: Inference,
): Promise<IdentityMeasurement> {
  const { pixels, labels } = test;
  const keyOf = (corruption: Corruption | null) =>
    corruption && corruptionLevel(corruption) > 0 ? describeCorruption(corruption) : "";
  const figureKeys = new Set(CORRUPTION_KINDS.map((kind) => keyOf(settings.corruptions[kind])));
  /**
   * The classifier's reading of `inputs`, and each model's reconstruction of them: each one's loss
   * against the clean digit and reading, and (with `keep`) the reconstructions themselves.
   */
  const readAll = async (inputs: Float32Array, keep: boolean) => {
    const readings: Record<string, Uint8Array> = {};
    const losses: Record<string, number> = {};
    const kept: Record<string, Reconstructions> = {};
    for (const { name, model } of models) {
      const reconstructed = await inference.reconstruct(model, inputs);
      readings[name] = await inference.readDigits(classifier, reconstructed);
      const each = reconstructionLosses(reconstructed, pixels);
      losses[name] = averageLoss(each);
      if (keep) kept[name] = { pixels: reconstructed, losses: each, readings: readings[name] };
    }
    const input = await inference.readDigits(classifier, inputs);
    return { input, readings, losses, kept: keep ? { inputs, models: kept } : undefined };
  };
  const share = (readings: Record<string, Uint8Array>) =>
    Object.fromEntries(
      Object.entries(readings).map(([name, r]) => [name, identityShare(r, labels)]),
    );
  const memo = new Map<string, ReturnType<typeof readAll>>();
  /**
   * The classifier's reading of the inputs under `corruption` (none: the clean ones) and of each model's
   * reconstruction of them, read once for each corruption (a curve's level 0 is the clean images, and
   * the figures' corruptions lie on the curves); the reconstructions are kept under the figures'.
   */
  const read = (corruption: Corruption | null) => {
    const key = keyOf(corruption);
    let readings = memo.get(key);
    if (!readings) {
      const inputs = corruption ? corrupt(pixels, corruption, seed) : pixels;
      readings = readAll(inputs, figureKeys.has(key));
      memo.set(key, readings);
    }
    return readings;
  };

  const clean = await read(null);
  const at: IdentityAt[] = [];
  const reconstructionsAt: ReconstructionsAt[] = [];
  for (const kind of CORRUPTION_KINDS) {
    const corruption = settings.corruptions[kind];
    const { input, readings, kept } = await read(corruption);
    const confusion: Record<string, number[][]> = { [INPUT_NAME]: confusionMatrix(labels, input) };
    for (const [name, r] of Object.entries(readings)) confusion[name] = confusionMatrix(labels, r);
    at.push({
      corruption,
      identity: share(readings),
      baseline: identityShare(input, labels),
      confusion,
    });
    reconstructionsAt.push({ corruption, ...kept! });
  }
  const curves: IdentityCurve[] = [];
  for (const kind of CORRUPTION_KINDS) {
    const levels = settings.levels[kind];
    const curve: IdentityCurve = {
      kind,
      levels: [...levels],
      losses: Object.fromEntries(models.map(({ name }) => [name, []])),
      identity: Object.fromEntries(models.map(({ name }) => [name, []])),
      baseline: [],
    };
    const bar = new ProgressBar(`${kind} curve`, levels.length);
    for (const [done, level] of levels.entries()) {
      const { input, readings, losses } = await read(corruptionAt(kind, level));
      for (const [name, value] of Object.entries(share(readings))) curve.identity[name].push(value);
      for (const [name, loss] of Object.entries(losses)) curve.losses[name].push(loss);
      curve.baseline.push(identityShare(input, labels));
      bar.update(done + 1, describeCorruption(corruptionAt(kind, level)));
    }
    bar.finish();
    curves.push(curve);
  }
  return {
    identity: {
      testImages: labels.length,
      classifierAccuracy: identityShare(clean.input, labels),
      ceiling: share(clean.readings),
      at,
      curves,
    },
    cleanLosses: clean.losses,
    at: reconstructionsAt,
  };
}

/** The loss curves of `results`: each curve's levels and each model's loss there, without identity. */
export function lossCurves(results: IdentityResults): CorruptionCurve[] {
  return results.curves.map(({ kind, levels, losses }) => ({ kind, levels, losses }));
}

/** A share as a percentage with one decimal, e.g. `93.1%`. */
export function percent(share: number): string {
  return `${(100 * share).toFixed(1)}%`;
}

/**
 * How `labels` came back as `readings` at `indices`, e.g. `7 → 7, 2 → 9`: a figure's caption.
 *
 * @example
 * ```ts
 * import { describeReadings } from "./identity.ts";
 * console.log(describeReadings(Uint8Array.of(4, 7), Uint8Array.of(9, 7), [0, 1])); // "4 → 9, 7 → 7"
 * ```
 */
export function describeReadings(
  labels: Uint8Array,
  readings: Uint8Array,
  indices: readonly number[],
): string {
  return indices.map((i) => `${labels[i]} → ${readings[i]}`).join(", ");
}

/**
 * The finding in words, one sentence per corruption: how many digits each model keeps against the
 * baseline and its ceiling, and the digits the first model turns into most often.
 *
 * @example
 * ```ts
 * import { identityFinding } from "./identity.ts";
 * const confusion = Array.from({ length: 10 }, (_, t) => Array.from({ length: 10 }, (_, r) => +(t === r)));
 * confusion[4][9] = 3;
 * console.log(identityFinding({
 *   testImages: 13,
 *   classifierAccuracy: 1,
 *   ceiling: { standard: 0.95 },
 *   at: [{
 *     corruption: { kind: "noise", std: 0.2 },
 *     identity: { standard: 0.9 },
 *     baseline: 0.97,
 *     confusion: { standard: confusion },
 *   }],
 *   curves: [],
 * }));
 * ```
 */
export function identityFinding(results: IdentityResults): string {
  return results.at.map(({ corruption, identity, baseline, confusion }) => {
    const names = Object.keys(identity);
    const kept = names.map((name) =>
      `${percent(identity[name])} through the ${name} model (its ceiling, on clean digits: ` +
      `${percent(results.ceiling[name])})`
    );
    const best = names.reduce((a, b) => identity[b] > identity[a] ? b : a);
    const gap = 100 * (identity[best] - baseline);
    const [first] = names;
    const swaps = confusion[first].flatMap((row, t) =>
      row.map((count, r) => ({ t, r, count })).filter((swap) => swap.t !== swap.r && swap.count > 0)
    ).sort((a, b) => b.count - a.count).slice(0, 3);
    const turns = swaps.length === 0
      ? ""
      : `; the ${first} model turns ${
        swaps.map(({ t, r, count }) => `${t} into ${r} (${count} times)`).join(", ")
      } most often`;
    return `Under ${describeCorruption(corruption)}, the classifier reads ${
      percent(baseline)
    } of ` +
      `the corrupted test digits as what they are; ${kept.join(", ")} keep their digit. ` +
      `Reconstructing by the ${names.length > 1 ? `best of them, the ${best}` : best} model ` +
      `${gap >= 0 ? "gains" : "loses"} ${Math.abs(gap).toFixed(1)} points against reading the ` +
      `corrupted digits directly${turns}.`;
  }).join(" ");
}

/**
 * Writes identity's files into `dir` — `identity.csv` (each model's identity on clean digits and under
 * each corruption of the figures, the baseline's too), `<kind>-identity.{csv,svg,png}` (the curves) and
 * `<kind>-confusion.{csv,svg,png}` (the heat maps) — and returns the report items that show them, the
 * finding first.
 */
export async function writeIdentityResults(
  dir: string,
  results: IdentityResults,
): Promise<ReportItem[]> {
  const table = identityTable(results);
  await writeFileAtomic(join(dir, "identity.csv"), csvTable(table.headers, table.rows));
  const items: ReportItem[] = [
    { kind: "text", text: identityFinding(results) },
    {
      kind: "table",
      caption: `The share of ${results.testImages} test digits that the classifier reads as what ` +
        "they are, read from the input itself (on clean digits: the classifier's accuracy; corrupted: " +
        "the baseline) and from each model's reconstruction (on clean digits: the ceiling).",
      headers: table.headers,
      rows: table.rows.map(([name, ...shares]) => [name, ...shares.map((s) => percent(+s))]),
    },
  ];
  for (const curve of results.curves) {
    const base = `${curve.kind}-identity`;
    const { headers, rows } = curveTable(curve);
    await writeFileAtomic(join(dir, `${base}.csv`), csvTable(headers, rows));
    await writeChart(join(dir, base), await identityChart(curve));
    items.push({
      kind: "figure",
      file: `${base}.png`,
      caption:
        `The share of test digits that keep their identity as the ${
          curve.kind === "noise" ? "noise grows" : "occluding square grows"
        }, as the classifier reads them from each model's reconstruction and from ${INPUT_NAME} (the ` +
        "baseline).",
    });
  }
  for (const { corruption, confusion } of results.at) {
    const base = `${corruption.kind}-confusion`;
    await writeFileAtomic(join(dir, `${base}.csv`), confusionCsv(confusion));
    const title = `True digit to the digit it came back as, under ${
      describeCorruption(corruption)
    }`;
    await writeChart(join(dir, base), await confusionChart(title, confusion));
    items.push({
      kind: "figure",
      file: `${base}.png`,
      caption:
        `True digit → digit it came back as under ${
          describeCorruption(corruption)
        }, as the classifier reads it from ${INPUT_NAME} and from each model's reconstruction (percent of ` +
        "each true digit).",
    });
  }
  return items;
}

/** Identity on clean digits and under each corruption of the figures: a row per model, the baseline's. */
function identityTable(
  results: IdentityResults,
): { headers: string[]; rows: (string | number)[][] } {
  const names = Object.keys(results.ceiling);
  return {
    headers: [
      "digits read from",
      "clean",
      ...results.at.map((a) => describeCorruption(a.corruption)),
    ],
    rows: [
      [INPUT_NAME, results.classifierAccuracy, ...results.at.map((a) => a.baseline)],
      ...names.map((name) => [
        name,
        results.ceiling[name],
        ...results.at.map((a) => a.identity[name]),
      ]),
    ],
  };
}

/** A curve as a table: the level, then each model's identity, then the baseline's. */
function curveTable(curve: IdentityCurve): { headers: string[]; rows: (string | number)[][] } {
  const names = Object.keys(curve.identity);
  return {
    headers: [
      LEVEL_TITLES[curve.kind],
      ...names.map((name) => `identity: ${name}`),
      `identity: ${INPUT_NAME}`,
    ],
    rows: curve.levels.map((level, i) => [
      level,
      ...names.map((name) => curve.identity[name][i]),
      curve.baseline[i],
    ]),
  };
}

/** A line chart of an identity curve: one line per model, and the baseline. */
function identityChart(curve: IdentityCurve): Promise<Chart> {
  const series = [
    ...Object.entries(curve.identity).map(([name, values]) => ({ name, values })),
    { name: INPUT_NAME, values: curve.baseline },
  ];
  return lineChart({
    title: curve.kind === "noise"
      ? "Digits kept under Gaussian noise on the input"
      : "Digits kept under an occluding square on the input",
    x: { title: LEVEL_TITLES[curve.kind] },
    y: { title: "test digits read as their true digit (share)" },
    legend: "digits read from",
    series: series.map(({ name, values }) => ({ name, x: curve.levels, y: values })),
  });
}

/**
 * Confusion matrices as heat maps side by side, titled `title`, each cell the percentage of its true digit
 * read as its column's digit.
 *
 * @example
 * ```ts
 * import { confusionChart, confusionMatrix } from "./identity.ts";
 * const matrix = confusionMatrix(Uint8Array.of(4, 4, 7), Uint8Array.of(4, 9, 7));
 * const chart = await confusionChart("Clean test digits", { classifier: matrix });
 * console.log(chart.svg.includes("read as")); // true
 * ```
 */
export function confusionChart(
  title: string,
  confusion: Record<string, number[][]>,
): Promise<Chart> {
  const digits = Array.from({ length: DIGIT_CLASSES }, (_, d) => String(d));
  return heatmapChart({
    title,
    x: "read as",
    y: "true digit",
    color: "share of row",
    categories: digits,
    panels: Object.entries(confusion).map(([name, matrix]) => ({
      name,
      values: matrix.map((row) => {
        const total = row.reduce((a, b) => a + b, 0);
        return row.map((count) => total > 0 ? count / total : NaN);
      }),
    })),
    label: (share) => share >= 0.005 ? String(Math.round(100 * share)) : "",
  });
}

/** Confusion matrices as CSV: per model (or the input) and true digit, the count read as each digit. */
function confusionCsv(confusion: Record<string, number[][]>): string {
  const headers = [
    "digits read from",
    "true digit",
    ...Array.from({ length: DIGIT_CLASSES }, (_, d) => `read as ${d}`),
  ];
  const rows = Object.entries(confusion).flatMap(([name, matrix]) =>
    matrix.map((row, t) => [name, t, ...row])
  );
  return csvTable(headers, rows);
}
