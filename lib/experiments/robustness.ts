/**
 * How well autoencoders cope with corrupted inputs, as the `corrupt` and `denoise` experiments measure it:
 * the loss of models against the clean images over a list of corruption levels (seeded, so every model sees
 * the same corrupted images), the flags that name those levels, and the chart and table of such curves.
 *
 * @module
 */
import { join } from "node:path";
import { check, type FlagSpec, UsageError } from "../cli.ts";
import { corrupt, type Corruption, DEFAULT_CORRUPTIONS } from "../corrupt.ts";
import { checkRange, TRAINED_CLASSIFIER, TRAINED_MODEL } from "../experiment.ts";
import { type Chart, lineChart, writeChart } from "../figures/charts.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import { meanLoss } from "../predict.ts";
import { csvTable } from "../report.ts";
import { IMAGE_SIDE } from "../data/geometry.ts";
import { writeFileAtomic } from "../files/atomic.ts";

/** The two corruptions of the study. */
export type CorruptionKind = Corruption["kind"];

/** Every corruption kind, in the order the study shows them. */
export const CORRUPTION_KINDS: readonly CorruptionKind[] = ["noise", "occlusion"];

/** Levels the curves sweep by default: noise std 0, 0.1, …, 1 and occlusion side 0, 2, …, 28 pixels. */
export const DEFAULT_LEVELS: Readonly<Record<CorruptionKind, readonly number[]>> = {
  noise: Array.from({ length: 11 }, (_, i) => i / 10),
  occlusion: Array.from({ length: IMAGE_SIDE / 2 + 1 }, (_, i) => 2 * i),
};

/** The title, with units, of the axis a corruption's level is drawn on. */
export const LEVEL_TITLES: Readonly<Record<CorruptionKind, string>> = {
  noise: "noise std σ (pixel intensity, 0–1)",
  occlusion: "occlusion side (pixels)",
};

/** The title of the loss axis of every curve. */
const LOSS_TITLE = "test loss against the clean image (MSE per pixel)";

/**
 * The corruption `kind` at strength `level` (noise std, or occlusion side in pixels).
 *
 * @example
 * ```ts
 * import { corruptionAt } from "./robustness.ts";
 * console.log(corruptionAt("occlusion", 10)); // { kind: "occlusion", side: 10 }
 * ```
 */
export function corruptionAt(kind: CorruptionKind, level: number): Corruption {
  return kind === "noise" ? { kind, std: level } : { kind, side: level };
}

/** The strength of `corruption`: its noise std or its occlusion side. */
export function corruptionLevel(corruption: Corruption): number {
  return corruption.kind === "noise" ? corruption.std : corruption.side;
}

/**
 * Flags that both corruption experiments take: the standard model, the classifier that reads the digits,
 * the strengths and the levels.
 */
export function robustnessFlags() {
  return {
    model: { type: "string", default: TRAINED_MODEL, help: "the trained (standard) model" },
    classifier: {
      type: "string",
      default: TRAINED_CLASSIFIER,
      help: "the digit classifier that scores whether a digit keeps its identity",
    },
    noise: {
      type: "number",
      default: corruptionLevel(DEFAULT_CORRUPTIONS.noise),
      help: "noise std of the figures (denoise: also of training and the table)",
    },
    occlusion: {
      type: "number",
      default: corruptionLevel(DEFAULT_CORRUPTIONS.occlusion),
      help: "occlusion side in pixels of the figures (denoise: also of training and the table)",
    },
    "noise-levels": {
      type: "string",
      default: DEFAULT_LEVELS.noise.join(","),
      help: "noise stds of the loss curve, comma-separated",
    },
    "occlusion-sides": {
      type: "string",
      default: DEFAULT_LEVELS.occlusion.join(","),
      help: "occlusion sides (pixels) of the loss curve, comma-separated",
    },
  } satisfies Record<string, FlagSpec>;
}

/** What {@link robustnessFlags} ask for, checked. */
export interface RobustnessSettings {
  /** Path of the standard model's weights. */
  model: string;
  /** Path of the digit classifier's weights. */
  classifier: string;
  /** The corruption of each kind that figures and comparisons use. */
  corruptions: Record<CorruptionKind, Corruption>;
  /** The levels of each kind's curve, ascending, without repeats. */
  levels: Record<CorruptionKind, number[]>;
}

/** Checks the values of {@link robustnessFlags}; a bad one is a usage error (exit code 2). */
export function parseRobustnessFlags(flags: {
  model: string;
  classifier: string;
  noise: number;
  occlusion: number;
  "noise-levels": string;
  "occlusion-sides": string;
}): RobustnessSettings {
  check(flags.model !== "", "--model must name a weights file");
  check(flags.classifier !== "", "--classifier must name a weights file");
  checkLevel("noise", "noise", flags.noise);
  checkLevel("occlusion", "occlusion", flags.occlusion);
  return {
    model: flags.model,
    classifier: flags.classifier,
    corruptions: {
      noise: corruptionAt("noise", flags.noise),
      occlusion: corruptionAt("occlusion", flags.occlusion),
    },
    levels: {
      noise: parseLevels("noise-levels", flags["noise-levels"], "noise"),
      occlusion: parseLevels("occlusion-sides", flags["occlusion-sides"], "occlusion"),
    },
  };
}

/**
 * The corruption kinds of a comma-separated list given as the flag `--name`, in the study's order, without
 * repeats; an unknown or missing kind is a usage error.
 *
 * @example
 * ```ts
 * import { parseKinds } from "./robustness.ts";
 * console.log(parseKinds("kinds", "occlusion,noise")); // ["noise", "occlusion"]
 * ```
 */
export function parseKinds(name: string, text: string): CorruptionKind[] {
  const kinds = text.split(",").map((part) => part.trim());
  for (const kind of kinds) {
    check(
      (CORRUPTION_KINDS as readonly string[]).includes(kind),
      `--${name} must name corruptions among ${CORRUPTION_KINDS.join(", ")}, got "${text}"`,
    );
  }
  return CORRUPTION_KINDS.filter((kind) => kinds.includes(kind));
}

/**
 * The levels of a comma-separated list given as the flag `--name` for corruption `kind`, sorted and without
 * repeats. Anything but finite levels the corruption accepts is a usage error.
 *
 * @example
 * ```ts
 * import { parseLevels } from "./robustness.ts";
 * console.log(parseLevels("occlusion-sides", "10, 0,28,10", "occlusion")); // [0, 10, 28]
 * ```
 */
export function parseLevels(name: string, text: string, kind: CorruptionKind): number[] {
  const parts = text.split(",").map((part) => part.trim());
  const levels = parts.map((part) => {
    const level = part === "" ? NaN : Number(part);
    if (!Number.isFinite(level)) {
      throw new UsageError(`--${name} must be comma-separated numbers, got "${text}"`);
    }
    checkLevel(name, kind, level);
    return level;
  });
  return [...new Set(levels)].sort((a, b) => a - b);
}

function checkLevel(name: string, kind: CorruptionKind, level: number): void {
  if (kind === "noise") checkRange(name, level, 0, Infinity);
  else {
    check(
      Number.isInteger(level) && level >= 0 && level <= IMAGE_SIDE,
      `--${name}: ${level} is not a whole number of pixels in 0…${IMAGE_SIDE}`,
    );
  }
}

/** A model with the name its series and columns carry. */
export interface NamedModel {
  name: string;
  model: Autoencoder;
}

/**
 * The test loss of each of `models` on `clean` images (`count × 784` floats in [0, 1]) corrupted by
 * `corruption` with a generator seeded by `seed`: the mean squared error between the output for the
 * corrupted images and the clean ones. Without a corruption it is the plain test loss. Every model sees
 * the same corrupted images.
 *
 * @example
 * ```ts
 * import { setupBackend } from "../tfjs.ts";
 * import { Autoencoder } from "../model/autoencoder.ts";
 * import { testLosses } from "./robustness.ts";
 * await setupBackend("auto");
 * const model = Autoencoder.create({}, 1);
 * const clean = new Float32Array(3 * 784).fill(0.5);
 * const [loss] = await testLosses([{ name: "new", model }], clean, { kind: "noise", std: 0.2 }, 7);
 * model.dispose();
 * ```
 */
export async function testLosses(
  models: NamedModel[],
  clean: Float32Array,
  corruption: Corruption | null,
  seed: number,
): Promise<number[]> {
  const inputs = corruption ? corrupt(clean, corruption, seed) : clean;
  const losses: number[] = [];
  for (const { model } of models) losses.push(await meanLoss(model, inputs, clean));
  return losses;
}

/**
 * The loss of models against the clean images at each level of one corruption (`measureIdentity` in
 * `identity.ts` measures it, from the reconstructions it reads).
 */
export interface CorruptionCurve {
  kind: CorruptionKind;
  levels: number[];
  /** For each model, by name, its loss at each level. */
  losses: Record<string, number[]>;
}

/**
 * A curve as a table: the level, then one column of losses per model; losses rounded to `digits` decimals
 * when given (for the report), exact otherwise (for CSV).
 *
 * @example
 * ```ts
 * import { curveTable } from "./robustness.ts";
 * const table = curveTable({ kind: "occlusion", levels: [0, 10], losses: { a: [0.03, 0.05] } }, 3);
 * console.log(table.rows); // [[0, "0.030"], [10, "0.050"]]
 * ```
 */
export function curveTable(
  curve: CorruptionCurve,
  digits?: number,
): { headers: string[]; rows: (string | number)[][] } {
  const names = Object.keys(curve.losses);
  const cell = (loss: number) => digits === undefined ? loss : loss.toFixed(digits);
  return {
    headers: [LEVEL_TITLES[curve.kind], ...names.map((name) => `loss: ${name}`)],
    rows: curve.levels.map((level, i) => [level, ...names.map((n) => cell(curve.losses[n][i]))]),
  };
}

/**
 * A line chart of a curve: loss against the corruption's level (with its units), one line per model.
 *
 * @example
 * ```ts
 * import { curveChart } from "./robustness.ts";
 * const chart = await curveChart({ kind: "noise", levels: [0, 1], losses: { a: [0.03, 0.09] } });
 * console.log(chart.svg.includes("noise std")); // true
 * ```
 */
export function curveChart(curve: CorruptionCurve): Promise<Chart> {
  return lineChart({
    title: curve.kind === "noise"
      ? "Test loss against Gaussian noise on the input"
      : "Test loss against an occluding square on the input",
    x: { title: LEVEL_TITLES[curve.kind] },
    y: { title: LOSS_TITLE },
    legend: "model",
    series: Object.entries(curve.losses).map(([name, losses]) => ({
      name,
      x: curve.levels,
      y: losses,
    })),
  });
}

/**
 * Writes a curve into `dir` as `<kind>-curve.csv`, `.svg` and `.png`, each atomically; returns the PNG's
 * file name.
 *
 * @example
 * ```ts
 * import { writeCurve } from "./robustness.ts";
 * const curve = { kind: "noise" as const, levels: [0, 0.5, 1], losses: { standard: [0.03, 0.05, 0.08] } };
 * await writeCurve(await Deno.makeTempDir(), curve); // noise-curve.csv, .svg, .png
 * ```
 */
export async function writeCurve(dir: string, curve: CorruptionCurve): Promise<string> {
  const base = `${curve.kind}-curve`;
  const { headers, rows } = curveTable(curve);
  await Promise.all([
    writeFileAtomic(join(dir, `${base}.csv`), csvTable(headers, rows)),
    writeChart(join(dir, base), await curveChart(curve)),
  ]);
  return `${base}.png`;
}
