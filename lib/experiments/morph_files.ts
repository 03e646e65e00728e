/**
 * What `deno task morph` leaves, from what `morph.ts` measured: the decoded centroids
 * (`centroids.png`), each morph as a GIF and a strip with the classifier's readings under it
 * (`morph_<from>_to_<to>.{gif,png}`), the random paths (`morph_random*.{gif,png}`,
 * `random_paths.{svg,png}`), the latent map (`latent_map.{svg,png}`), `morph.json` and the report's
 * section.
 *
 * @module
 */
import { join } from "node:path";
import { scatterChart, writeChart } from "../figures/charts.ts";
import { encodeGrayGif } from "../figures/gif.ts";
import { digitGlyph } from "../figures/glyphs.ts";
import { type Digit, digitGrid, encodeDigitGrid } from "../figures/png.ts";
import { writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import { publishSection, type ReportItem } from "../report.ts";
import { percent } from "./identity.ts";
import {
  type DecodedPath,
  describeRuns,
  type LatentMap,
  type MorphResults,
  type RandomPaths,
} from "./morph.ts";

/** Random paths drawn together in one GIF and strip (the roughest is also drawn on its own). */
const RANDOM_SHOWN = 8;

/** Writes `results`' figures, `morph.json` and report section into `out`. */
export async function writeMorphResults(out: string, results: MorphResults): Promise<void> {
  const { decodedCentroids, ownClass, steps, delayMs } = results;
  await writeFileAtomic(join(out, "centroids.png"), encodeDigitGrid(pathRows(decodedCentroids)));
  const items: ReportItem[] = [{
    kind: "figure",
    file: "centroids.png",
    caption: `The decoded centroid of each digit 0–9, with the classifier's reading under it: ` +
      `${ownClass} of 10 (${percent(ownClass / 10)}) are read as their own class.`,
  }];

  const morphs = [];
  for (const { from, to, path, smoothness } of results.morphs) {
    const files = await writePathFigures(out, `morph_${from}_to_${to}`, [path], delayMs);
    morphs.push({ from, to, ...files, readings: Array.from(path.readings), ...smoothness });
    items.push(
      {
        kind: "figure",
        file: files.gif,
        caption:
          `Morphing ${from} into ${to}: the decoded straight line between the two class centroids.`,
      },
      {
        kind: "figure",
        file: files.strip,
        caption: `The ${steps} frames of the ${from}→${to} morph, left to right, with the ` +
          `classifier's reading of each under it: ${describeRuns(path.readings)}.`,
      },
    );
  }

  const random = results.random ? await writeRandomPaths(out, results.random, delayMs) : undefined;
  if (random) items.push(...random.items);

  items.push(await writeLatentMap(out, results.hidden, results.map));
  await writeJsonAtomic(join(out, "morph.json"), {
    model: results.weights.model,
    classifier: results.weights.classifier,
    hidden: results.hidden,
    steps,
    centroids: results.centroids.map((centroid) => Array.from(centroid)),
    centroidReadings: Array.from(decodedCentroids.readings),
    centroidsReadAsOwnClass: ownClass / 10,
    morphs,
    random: random?.record ?? null,
  });
  await publishSection(out, { title: "Morphing through the latent space", items });
}

/**
 * A path's frames and, under them, the classifier's reading of each written as a digit: two rows of a
 * digit grid.
 */
function pathRows(path: DecodedPath): Digit[][] {
  return [path.frames, Array.from(path.readings, (digit) => digitGlyph(digit))];
}

/**
 * Writes `paths` as `<name>.gif` (every path's frame t side by side in frame t) and `<name>.png` (each
 * path's frames in a row, the classifier's reading of each frame written under it); returns the two
 * file names.
 */
async function writePathFigures(
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

/**
 * Writes the random paths' figures into `dir` — the first few as `morph_random.{gif,png}`, the roughest
 * as `morph_random_roughest.{gif,png}`, each path's smoothness as `random_paths.{svg,png}` — and returns
 * their record (each path's ends, readings and smoothness; the distribution; the roughest) and report
 * items.
 */
async function writeRandomPaths(
  dir: string,
  random: RandomPaths,
  delayMs: number,
): Promise<{ record: unknown; items: ReportItem[] }> {
  const { pairs, labels, paths, smoothness, summary, roughest } = random;
  const steps = paths[0].frames.length;
  const shown = await writePathFigures(dir, "morph_random", paths.slice(0, RANDOM_SHOWN), delayMs);
  const worst = await writePathFigures(dir, "morph_random_roughest", [paths[roughest]], delayMs);
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

/** Writes the latent map as `latent_map.{svg,png}` into `dir`; returns its report item. */
async function writeLatentMap(dir: string, hidden: number, map: LatentMap): Promise<ReportItem> {
  const axes = map.projected ? ["first", "second"].map((n) => `${n} principal component`) : [
    "z₁",
    "z₂",
  ];
  await writeChart(
    join(dir, "latent_map"),
    await scatterChart({
      title: `Test digits in the latent space (d = ${hidden})`,
      x: { title: axes[0], values: map.x },
      y: { title: axes[1], values: map.y },
      color: { title: "digit", values: map.labels, categorical: true },
      pointSize: 8,
      width: 480,
      height: 400,
    }),
  );
  return {
    kind: "figure",
    file: "latent_map.png",
    caption: `${map.x.length} test codes ${
      map.projected ? "projected on their first two principal components" : "as they are"
    }, coloured by digit: classes form clusters, and morphs run between their centres.`,
  };
}
