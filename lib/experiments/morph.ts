/**
 * Paths through the latent space, as `morph` draws and measures them: a straight line between two codes
 * decoded frame by frame, the digit classifier's reading of every frame, and how smooth the path is — the
 * largest pixel change between neighbouring frames against the change between its ends, and how often
 * the reading changes (a regular space changes class a few times, not back and forth) — with the
 * figures of a path (GIF and strip with the readings under it) and the distribution over many paths.
 *
 * @module
 */
import { join } from "node:path";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import { encodeGrayGif } from "../figures/gif.ts";
import { digitGlyph } from "../figures/glyphs.ts";
import { type Digit, digitGrid, encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic } from "../files/atomic.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { createRng, permutation } from "../random.ts";
import type { ReportItem } from "../report.ts";
import { scatterChart, writeChart } from "../figures/charts.ts";

/** A decoded path: its frames (784 pixels each, in [0, 1]) and the digit each frame is read as. */
export interface DecodedPath {
  frames: Float32Array[];
  readings: Uint8Array;
}

/** How smooth a decoded path is. */
export interface PathSmoothness {
  /**
   * The largest distance (Euclidean, over the pixels) between neighbouring frames, over the distance
   * between the first and last frame: 1/(frames − 1) for a path that changes evenly, 1 for one that
   * jumps the whole way in one step (null when the ends decode alike but the frames between do not).
   */
  largestStep: number | null;
  /** How many times the classifier's reading changes between neighbouring frames. */
  readingChanges: number;
  /** How many of those changes go back to a digit read earlier on the path (back and forth). */
  returns: number;
}

/** `codes` decoded by `model`, each frame read by `classifier`: a path, or the class centroids. */
export async function decodeCodes(
  model: Autoencoder,
  classifier: Classifier,
  codes: readonly Float32Array[],
): Promise<DecodedPath> {
  const frames: Float32Array[] = [];
  for (const code of codes) frames.push(await model.generateFromEncodedSample(code));
  const pixels = new Float32Array(frames.length * IMAGE_PIXELS);
  frames.forEach((frame, i) => pixels.set(frame, i * IMAGE_PIXELS));
  return { frames, readings: await classifier.predict(pixels) };
}

/**
 * A path's frames and, under them, the classifier's reading of each written as a digit: two rows of a
 * digit grid.
 */
export function pathRows(path: DecodedPath): Digit[][] {
  return [path.frames, Array.from(path.readings, (digit) => digitGlyph(digit))];
}

/**
 * The readings along a path as runs, e.g. `2 (frames 1–8), 8 (9–10), 0 (11–20)`.
 *
 * @example
 * ```ts
 * import { describeRuns } from "./morph.ts";
 * console.log(describeRuns(Uint8Array.of(2, 2, 8, 0, 0))); // "2 (frames 1–2), 8 (3), 0 (4–5)"
 * ```
 */
export function describeRuns(readings: Uint8Array): string {
  const runs: string[] = [];
  for (let start = 0; start < readings.length;) {
    let end = start;
    while (end + 1 < readings.length && readings[end + 1] === readings[start]) end++;
    const frames = end > start ? `${start + 1}–${end + 1}` : `${start + 1}`;
    runs.push(`${readings[start]} (${runs.length === 0 ? "frames " : ""}${frames})`);
    start = end + 1;
  }
  return runs.join(", ");
}

/**
 * How smooth `path` is: its largest step against the distance between its ends, and how often (and how
 * often back) its reading changes.
 *
 * @example
 * ```ts
 * import { pathSmoothness } from "./morph.ts";
 * const frames = [0, 0.5, 1].map((level) => new Float32Array(784).fill(level));
 * console.log(pathSmoothness({ frames, readings: Uint8Array.of(1, 7, 7) }));
 * // { largestStep: 0.5, readingChanges: 1, returns: 0 }
 * ```
 */
export function pathSmoothness(path: DecodedPath): PathSmoothness {
  const { frames, readings } = path;
  let largest = 0;
  for (let i = 1; i < frames.length; i++) {
    largest = Math.max(largest, distance(frames[i - 1], frames[i]));
  }
  const ends = distance(frames[0], frames.at(-1)!);
  const largestStep = ends > 0 ? largest / ends : largest > 0 ? null : 0;
  let [readingChanges, returns] = [0, 0];
  const seen = new Set([readings[0]]);
  for (let i = 1; i < readings.length; i++) {
    if (readings[i] === readings[i - 1]) continue;
    readingChanges++;
    if (seen.has(readings[i])) returns++;
    seen.add(readings[i]);
  }
  return { largestStep, readingChanges, returns };
}

/**
 * `pairs` pairs of distinct indices among `count` items, drawn at random (seeded by `seed`), no index
 * twice: the test digits whose codes random paths join.
 *
 * @example
 * ```ts
 * import { randomPairs } from "./morph.ts";
 * console.log(randomPairs(100, 3, 0).length); // 3
 * ```
 */
export function randomPairs(count: number, pairs: number, seed: number): [number, number][] {
  if (!(Number.isInteger(pairs) && pairs >= 0 && 2 * pairs <= count)) {
    throw new RangeError(`${pairs} pairs need ${2 * pairs} of the ${count} items`);
  }
  const order = permutation(count, createRng(seed));
  return Array.from({ length: pairs }, (_, i) => [order[2 * i], order[2 * i + 1]]);
}

/**
 * The index of the least smooth of `paths`: the largest step first (an undefined one counts as the
 * largest), then the most reading changes, then the most returns.
 *
 * @example
 * ```ts
 * import { roughestPath } from "./morph.ts";
 * const smooth = { largestStep: 0.1, readingChanges: 1, returns: 0 };
 * console.log(roughestPath([smooth, { ...smooth, largestStep: 0.4 }, smooth])); // 1
 * ```
 */
export function roughestPath(paths: readonly PathSmoothness[]): number {
  const key = (p: PathSmoothness) => [p.largestStep ?? Infinity, p.readingChanges, p.returns];
  let worst = 0;
  paths.forEach((path, i) => {
    const [a, b] = [key(path), key(paths[worst])];
    const order = a.findIndex((value, k) => value !== b[k]);
    if (order >= 0 && a[order] > b[order]) worst = i;
  });
  return worst;
}

/**
 * Writes `paths` as `<name>.gif` (every path's frame t side by side in frame t) and `<name>.png` (each
 * path's frames in a row, the classifier's reading of each frame written under it); returns the two
 * file names.
 */
export async function writePathFigures(
  dir: string,
  name: string,
  paths: readonly DecodedPath[],
  delayMs: number,
): Promise<{ gif: string; strip: string }> {
  const files = { gif: `${name}.gif`, strip: `${name}.png` };
  const steps = paths[0].frames.length;
  const frames = Array.from(
    { length: steps },
    (_, t) => digitGrid([paths.map((path) => path.frames[t])], { gap: 0 }),
  );
  await writeFileAtomic(join(dir, files.gif), encodeGrayGif(frames, { delayMs }));
  const rows = paths.flatMap(pathRows);
  // Each path's frames and readings together, set apart from the next path's.
  const separateAfter = paths.map((_, i) => 2 * i + 1);
  await writeFileAtomic(join(dir, files.strip), encodeDigitGrid(rows, { separateAfter }));
  return files;
}

/** The smoothness of many paths, as a distribution. */
export interface SmoothnessSummary {
  paths: number;
  /** The largest step of a path that changes evenly: 1/(frames − 1). */
  evenStep: number;
  /** The largest step's minimum, median, 90th percentile and maximum over the paths. */
  largestStep: { min: number; median: number; p90: number; max: number };
  /** `readingChanges[k]`: the paths whose reading changes k times. */
  readingChanges: number[];
  /** The paths whose reading goes back to a digit it had left. */
  backAndForth: number;
}

/**
 * The distribution of `paths`' smoothness, for paths of `steps` frames (a path whose step is undefined
 * counts as the largest).
 *
 * @example
 * ```ts
 * import { summarizeSmoothness } from "./morph.ts";
 * const summary = summarizeSmoothness([
 *   { largestStep: 0.1, readingChanges: 1, returns: 0 },
 *   { largestStep: 0.3, readingChanges: 3, returns: 1 },
 * ], 11);
 * console.log(summary.readingChanges, summary.backAndForth); // [0, 1, 0, 1] 1
 * ```
 */
export function summarizeSmoothness(
  paths: readonly PathSmoothness[],
  steps: number,
): SmoothnessSummary {
  const steepest = paths.map((path) => path.largestStep ?? Infinity).sort((a, b) => a - b);
  const quantile = (q: number) => steepest[Math.round(q * (steepest.length - 1))];
  const readingChanges = new Array(Math.max(0, ...paths.map((p) => p.readingChanges)) + 1).fill(0);
  for (const path of paths) readingChanges[path.readingChanges]++;
  return {
    paths: paths.length,
    evenStep: 1 / (steps - 1),
    largestStep: {
      min: steepest[0],
      median: quantile(0.5),
      p90: quantile(0.9),
      max: steepest.at(-1)!,
    },
    readingChanges,
    backAndForth: paths.filter((path) => path.returns > 0).length,
  };
}

/** Random paths drawn together in one GIF and strip (the roughest is also drawn on its own). */
const RANDOM_SHOWN = 8;

/** Random paths, as `morph` hands them over to be written. */
export interface RandomPaths {
  /** The test digits each path joins, by index. */
  pairs: [number, number][];
  /** The labels of the test digits. */
  labels: Uint8Array;
  paths: DecodedPath[];
  delayMs: number;
}

/**
 * Writes the random paths' figures into `dir` — the first few as `morph_random.{gif,png}`, the roughest
 * as `morph_random_roughest.{gif,png}`, each path's smoothness as `random_paths.{svg,png}` — and returns
 * their record (each path's ends, readings and smoothness; the distribution; the roughest) and report
 * items.
 */
export async function writeRandomPaths(
  dir: string,
  random: RandomPaths,
): Promise<{ record: unknown; items: ReportItem[] }> {
  const { pairs, labels, paths } = random;
  const steps = paths[0].frames.length;
  const smoothness = paths.map(pathSmoothness);
  const summary = summarizeSmoothness(smoothness, steps);
  const roughest = roughestPath(smoothness);
  const shown = await writePathFigures(
    dir,
    "morph_random",
    paths.slice(0, RANDOM_SHOWN),
    random.delayMs,
  );
  const worst = await writePathFigures(
    dir,
    "morph_random_roughest",
    [paths[roughest]],
    random.delayMs,
  );
  await writeChart(
    join(dir, "random_paths"),
    await scatterChart({
      title: `Smoothness of ${paths.length} straight paths between random test codes`,
      x: {
        title: "changes of the classifier's reading along the path",
        whole: true,
        values: smoothness.map((s) => s.readingChanges),
      },
      y: {
        title: "largest step / distance between the ends",
        values: smoothness.map((s) => s.largestStep ?? NaN),
      },
    }),
  );
  const step = (value: number | null) => value === null ? "undefined" : value.toFixed(3);
  const { largestStep, evenStep, readingChanges } = summary;
  const times = (k: number) => ["never", "once", "twice"][k] ?? `${k} times`;
  const changes = readingChanges.flatMap((count, k) =>
    count > 0 ? [`${times(k)} on ${count}`] : []
  );
  const [from, to] = pairs[roughest];
  const goBack = summary.backAndForth === 1
    ? "goes back to a digit it had left"
    : "go back to a digit they had left";
  const items: ReportItem[] = [
    {
      kind: "text",
      text: `Is the encoded space regular? ${paths.length} straight lines of ${steps} frames ` +
        "between the codes of random pairs of test digits: the largest pixel change between " +
        "neighbouring frames, against the change between the ends, is " +
        `${step(largestStep.median)} on the median path, at most ${step(largestStep.p90)} on 90% ` +
        `of them and ${step(largestStep.max)} on the roughest (a path that changes evenly: ` +
        `${step(evenStep)}; one that jumps in one step: 1). Along them the classifier's reading ` +
        `changes ${changes.join(", ")}; ${summary.backAndForth} of the ${paths.length} paths ` +
        `${goBack}.`,
    },
    {
      kind: "figure",
      file: shown.gif,
      caption: `The first ${Math.min(RANDOM_SHOWN, paths.length)} random paths, side by side.`,
    },
    {
      kind: "figure",
      file: shown.strip,
      caption: "The same paths' frames, a path per row, with the classifier's reading of every " +
        "frame under it.",
    },
    {
      kind: "figure",
      file: "random_paths.png",
      caption: "Each random path: its largest step against the distance between its ends, and " +
        "how many times its reading changes.",
    },
    {
      kind: "table",
      caption: "Random paths by how many times the classifier's reading changes along them.",
      headers: ["reading changes", "paths"],
      rows: readingChanges.map((count, k) => [k, count]),
    },
    {
      kind: "figure",
      file: worst.strip,
      caption: `The roughest random path, from test digit ${from} (a ${labels[from]}) to ${to} ` +
        `(a ${labels[to]}): its largest step is ${step(smoothness[roughest].largestStep)} of the ` +
        `way; read as ${describeRuns(paths[roughest].readings)}.`,
    },
  ];
  const record = {
    pairs: pairs.map(([a, b], i) => ({
      from: { index: a, label: labels[a] },
      to: { index: b, label: labels[b] },
      readings: Array.from(paths[i].readings),
      ...smoothness[i],
    })),
    summary,
    roughest,
    figures: { shown, roughest: worst, chart: "random_paths.png" },
  };
  return { record, items };
}

/** The Euclidean distance between two images. */
function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}
