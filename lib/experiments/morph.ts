/**
 * Paths through the latent space, as `morph` measures them: a straight line between two codes decoded
 * frame by frame, the digit classifier's reading of every frame, and how smooth the path is — the
 * largest pixel change between neighbouring frames against the change between its ends, and how often
 * the reading changes (a regular space changes class a few times, not back and forth) — with the
 * distribution over many paths, the decoded class centroids and the codes laid out in two dimensions;
 * `morph_files.ts` writes them.
 *
 * @module
 */
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Digits } from "../data/mnist.ts";
import { classCentroids, interpolate, projectTo2d } from "../latent.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { createRng, permutation } from "../random.ts";

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

/** Codes drawn on the latent map at most (a random subset beyond that, to keep the chart legible). */
const MAP_POINTS = 5000;
/** Added to the seed to draw the random pairs, apart from the map's subset. */
const RANDOM_SEED_OFFSET = 7919;

/** What `morph` measures with: the trained model, the classifier, the test digits and the flags. */
export interface MorphInputs {
  model: Autoencoder;
  classifier: Classifier;
  /** The test digits, holding every digit (for the centroids). */
  test: Digits;
  /** The digit pairs to morph, from the first to the second. */
  pairs: [number, number][];
  /** Frames per path, both ends included. */
  steps: number;
  /** Paths between the codes of this many random pairs of test digits. */
  random: number;
  seed: number;
  /** The weights files of the model and the classifier, as `morph.json` records them. */
  weights: { model: string; classifier: string };
  /** Milliseconds per GIF frame. */
  delayMs: number;
}

/** One morph: the decoded straight line from one class centroid to another, and how smooth it is. */
export interface Morph {
  from: number;
  to: number;
  path: DecodedPath;
  smoothness: PathSmoothness;
}

/** Straight paths between the codes of random pairs of test digits, and how smooth they are. */
export interface RandomPaths {
  /** The test digits each path joins, by index. */
  pairs: [number, number][];
  /** The labels of the test digits. */
  labels: Uint8Array;
  paths: DecodedPath[];
  smoothness: PathSmoothness[];
  summary: SmoothnessSummary;
  /** The index of the roughest path. */
  roughest: number;
}

/** Test codes in two dimensions: a random subset, with their digits. */
export interface LatentMap {
  /** Whether the codes are projected on their first two principal components (d > 2). */
  projected: boolean;
  x: number[];
  y: number[];
  labels: number[];
}

/** Everything `morph` measured, as `morph_files.ts` writes it. */
export interface MorphResults {
  weights: MorphInputs["weights"];
  hidden: number;
  steps: number;
  delayMs: number;
  centroids: Float32Array[];
  /** Each class centroid decoded, and read. */
  decodedCentroids: DecodedPath;
  /** How many of the decoded centroids are read as their own class. */
  ownClass: number;
  morphs: Morph[];
  /** None where no random paths were asked for. */
  random?: RandomPaths;
  map: LatentMap;
}

/**
 * Encodes the test digits of `inputs`, decodes each class centroid and each straight line between the
 * centroids of its pairs and between the codes of random test digits, each frame read by the
 * classifier, with how smooth each path is; and lays the codes out in two dimensions.
 */
export async function measureMorphs(inputs: MorphInputs): Promise<MorphResults> {
  const { model, classifier, steps, seed } = inputs;
  const encoded = await model.getEncRepresentation(inputs.test);
  const centroids = classCentroids(encoded);

  // Centroids: each class's mean code decoded, and read.
  const decodedCentroids = await decodeCodes(model, classifier, centroids);
  const ownClass = decodedCentroids.readings.filter((reading, digit) => reading === digit).length;

  // Morphs: decode and read each step of each straight line between centroids.
  const morphs: Morph[] = [];
  for (const [from, to] of inputs.pairs) {
    const path = await decodeCodes(
      model,
      classifier,
      interpolate(centroids[from], centroids[to], steps),
    );
    morphs.push({ from, to, path, smoothness: pathSmoothness(path) });
  }

  // Random paths: straight lines between the codes of random test digits, and how smooth they are.
  const pairs = randomPairs(inputs.test.count, inputs.random, seed + RANDOM_SEED_OFFSET);
  const code = (i: number) => encoded.codes.subarray(i * encoded.hidden, (i + 1) * encoded.hidden);
  const paths = [];
  for (const [a, b] of pairs) {
    paths.push(await decodeCodes(model, classifier, interpolate(code(a), code(b), steps)));
  }
  const smoothness = paths.map(pathSmoothness);
  const random = paths.length > 0
    ? {
      pairs,
      labels: encoded.labels,
      paths,
      smoothness,
      summary: summarizeSmoothness(smoothness, steps),
      roughest: roughestPath(smoothness),
    }
    : undefined;

  // Latent map: every code (or a random subset) in two dimensions, coloured by digit.
  const { x, y } = projectTo2d(encoded);
  const shown = permutation(encoded.labels.length, createRng(seed)).subarray(0, MAP_POINTS);
  const map = {
    projected: encoded.hidden > 2,
    x: Array.from(shown, (i) => x[i]),
    y: Array.from(shown, (i) => y[i]),
    labels: Array.from(shown, (i) => encoded.labels[i]),
  };
  return {
    weights: inputs.weights,
    hidden: encoded.hidden,
    steps,
    delayMs: inputs.delayMs,
    centroids,
    decodedCentroids,
    ownClass,
    morphs,
    random,
    map,
  };
}

/** The Euclidean distance between two images. */
function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}
