/**
 * `deno task morph`: the latent space used generatively, scored by the digit classifier. Encodes the test
 * set with the trained model, takes the centroid of each digit class (and says how many of their
 * decodings the classifier reads as their own class), and walks the straight line from one digit's
 * centroid to another's, decoding each step: an animated GIF and a PNG strip per pair, the classifier's
 * reading of every frame written under the strip. Then the study's first animation, its claim measured:
 * straight lines between the codes of random test digits (`--random N` pairs), how smooth each is — its
 * largest step between neighbouring frames against the distance between its ends, and how often its
 * reading changes — over all of them, with the roughest drawn. Also a 2-D map of the codes (the first two
 * principal components when d > 2), coloured by digit.
 *
 *     deno task morph                       # 2→0, 3→9, 1→4, and 20 random paths
 *     deno task morph --from 7 --to 1 --steps 30 --random 100
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain } from "../lib/cli.ts";
import {
  checkInteger,
  commonFlags,
  loadClassifier,
  loadTrainedModel,
  setupExperiment,
  TRAINED_CLASSIFIER,
  TRAINED_MODEL,
} from "../lib/experiment.ts";
import { percent } from "../lib/experiments/identity.ts";
import {
  decodeCodes,
  describeRuns,
  pathRows,
  pathSmoothness,
  randomPairs,
  writePathFigures,
  writeRandomPaths,
} from "../lib/experiments/morph.ts";
import { scatterChart, writeChart } from "../lib/figures/charts.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import { classCentroids, interpolate, projectTo2d } from "../lib/latent.ts";
import { createRng, permutation } from "../lib/random.ts";
import { publishSection, type ReportItem } from "../lib/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/files/atomic.ts";

/** The seed's morphs: from the first digit of each pair to the second. */
const DEFAULT_PAIRS = "2-0,3-9,1-4";
/** Codes drawn on the latent map at most (a random subset beyond that, to keep the chart legible). */
const MAP_POINTS = 5000;
/** Added to `--seed` to draw the random pairs, apart from the map's subset. */
const RANDOM_SEED_OFFSET = 7919;

/** What the task does: the line its `--help` prints above its flags. */
const SUMMARY =
  "the latent space used generatively: class centroids, morphs between digits, random paths and a 2-D map of the codes";

await runMain(async () => {
  // Flags.
  const flags = parseFlags(Deno.args, "morph", SUMMARY, {
    model: { type: "string", default: TRAINED_MODEL, help: "trained model to morph with" },
    classifier: {
      type: "string",
      default: TRAINED_CLASSIFIER,
      help: "digit classifier that reads every frame",
    },
    pairs: { type: "string", default: DEFAULT_PAIRS, help: "digit pairs FROM-TO, comma-separated" },
    from: { type: "number", help: "morph from this digit (with --to, instead of --pairs)" },
    to: { type: "number", help: "morph to this digit (with --from)" },
    steps: { type: "number", default: 20, help: "frames per morph, both ends included" },
    delay: { type: "number", default: 120, help: "milliseconds per GIF frame" },
    random: {
      type: "number",
      default: 20,
      help: "paths between the codes of this many random pairs of test digits (0: none)",
    },
    ...commonFlags("morph"),
  });
  checkInteger("steps", flags.steps, 2);
  checkInteger("delay", flags.delay, 10);
  checkInteger("random", flags.random, 0);
  const pairs = parsePairs(flags);

  // Data and models: the test set (holding every digit, for the centroids), encoded by the trained
  // model; the classifier that reads frames.
  const { data, out } = await setupExperiment(flags);
  const absent = [...Array(10).keys()].filter((digit) => !data.test.labels.includes(digit));
  check(
    absent.length === 0,
    `the first ${data.test.count} test images hold no digit ${
      absent.join(", ")
    }, and morph needs ` +
      "every digit's centroid: raise --test-limit",
  );
  check(
    2 * flags.random <= data.test.count,
    `--random ${flags.random} needs ${2 * flags.random} test images, there are ${data.test.count}`,
  );
  const model = await loadTrainedModel(flags.model);
  const classifier = await loadClassifier(flags.classifier);
  const encoded = await model.getEncRepresentation(data.test);
  const centroids = classCentroids(encoded);

  // Centroids: each class's mean code decoded, and read.
  const decoded = await decodeCodes(model, classifier, centroids);
  const ownClass = decoded.readings.filter((reading, digit) => reading === digit).length;
  await writeFileAtomic(join(out, "centroids.png"), encodeDigitGrid(pathRows(decoded)));
  const items: ReportItem[] = [{
    kind: "figure",
    file: "centroids.png",
    caption: `The decoded centroid of each digit 0–9, with the classifier's reading under it: ` +
      `${ownClass} of 10 (${percent(ownClass / 10)}) are read as their own class.`,
  }];

  // Morphs: decode and read each step of each straight line between centroids.
  const morphs = [];
  for (const [from, to] of pairs) {
    const path = await decodeCodes(
      model,
      classifier,
      interpolate(centroids[from], centroids[to], flags.steps),
    );
    const files = await writePathFigures(out, `morph_${from}_to_${to}`, [path], flags.delay);
    const smoothness = pathSmoothness(path);
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
        caption: `The ${flags.steps} frames of the ${from}→${to} morph, left to right, with the ` +
          `classifier's reading of each under it: ${describeRuns(path.readings)}.`,
      },
    );
  }

  // Random paths: straight lines between the codes of random test digits, and how smooth they are.
  const chosen = randomPairs(data.test.count, flags.random, flags.seed + RANDOM_SEED_OFFSET);
  const code = (i: number) => encoded.codes.subarray(i * encoded.hidden, (i + 1) * encoded.hidden);
  const paths = [];
  for (const [a, b] of chosen) {
    paths.push(await decodeCodes(model, classifier, interpolate(code(a), code(b), flags.steps)));
  }
  const random = paths.length > 0
    ? await writeRandomPaths(out, {
      pairs: chosen,
      labels: encoded.labels,
      paths,
      delayMs: flags.delay,
    })
    : undefined;
  if (random) items.push(...random.items);

  // Latent map: every code (or a random subset) in two dimensions, coloured by digit.
  const { x, y } = projectTo2d(encoded);
  const shown = permutation(encoded.labels.length, createRng(flags.seed))
    .subarray(0, MAP_POINTS);
  const axes = encoded.hidden > 2 ? ["first", "second"].map((n) => `${n} principal component`) : [
    "z₁",
    "z₂",
  ];
  await writeChart(
    join(out, "latent_map"),
    await scatterChart({
      title: `Test digits in the latent space (d = ${encoded.hidden})`,
      x: { title: axes[0], values: Array.from(shown, (i) => x[i]) },
      y: { title: axes[1], values: Array.from(shown, (i) => y[i]) },
      color: {
        title: "digit",
        values: Array.from(shown, (i) => encoded.labels[i]),
        categorical: true,
      },
      pointSize: 8,
      width: 480,
      height: 400,
    }),
  );
  items.push({
    kind: "figure",
    file: "latent_map.png",
    caption: `${shown.length} test codes ${
      encoded.hidden > 2 ? "projected on their first two principal components" : "as they are"
    }, coloured by digit: classes form clusters, and morphs run between their centres.`,
  });
  await writeJsonAtomic(join(out, "morph.json"), {
    model: flags.model,
    classifier: flags.classifier,
    hidden: encoded.hidden,
    steps: flags.steps,
    centroids: centroids.map((centroid) => Array.from(centroid)),
    centroidReadings: Array.from(decoded.readings),
    centroidsReadAsOwnClass: ownClass / 10,
    morphs,
    random: random?.record ?? null,
  });
  await publishSection(out, { title: "Morphing through the latent space", items });
  model.dispose();
  classifier.dispose();
  console.error(
    `wrote ${pairs.length} morphs, ${paths.length} random paths and the latent map to ${out}/`,
  );
});

/** The digit pairs to morph, from `--from/--to` or `--pairs`. */
function parsePairs(flags: { pairs: string; from?: number; to?: number }): [number, number][] {
  const isDigit = (value: number) => Number.isInteger(value) && value >= 0 && value <= 9;
  if (flags.from !== undefined || flags.to !== undefined) {
    check(
      flags.from !== undefined && flags.to !== undefined,
      "--from and --to go together",
    );
    check(isDigit(flags.from) && isDigit(flags.to), "--from and --to must be digits 0–9");
    return [[flags.from, flags.to]];
  }
  return flags.pairs.split(",").map((pair) => {
    const digits = pair.trim().split("-").map(Number);
    check(
      digits.length === 2 && digits.every(isDigit),
      `--pairs must look like 2-0,3-9 (digits 0–9), got "${pair}"`,
    );
    return digits as [number, number];
  });
}
