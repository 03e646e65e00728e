/**
 * `deno task morph`: the latent space used generatively. Encodes the test set with the trained model, takes
 * the centroid of each digit class, and walks the straight line from one digit's centroid to another's,
 * decoding each step: an animated GIF and a PNG strip per pair. Also a 2-D map of the codes (the first two
 * principal components when d > 2), coloured by digit.
 *
 *     deno task morph                       # 2→0, 3→9, 1→4
 *     deno task morph --from 7 --to 1 --steps 30
 *
 * @module
 */
import { join } from "node:path";
import { check, parseFlags, runMain } from "../lib/cli.ts";
import {
  checkInteger,
  commonFlags,
  loadTrainedModel,
  setupExperiment,
  TRAINED_MODEL,
} from "../lib/experiment.ts";
import { scatterChart, writeChart } from "../lib/figures/charts.ts";
import { encodeDigitGif } from "../lib/figures/gif.ts";
import { encodeDigitGrid } from "../lib/figures/png.ts";
import { classCentroids, interpolate, projectTo2d } from "../lib/latent.ts";
import { createRng, permutation } from "../lib/random.ts";
import { publishSection, type ReportItem } from "../lib/report.ts";
import { writeFileAtomic, writeJsonAtomic } from "../lib/files.ts";

/** The seed's morphs: from the first digit of each pair to the second. */
const DEFAULT_PAIRS = "2-0,3-9,1-4";
/** Codes drawn on the latent map at most (a random subset beyond that, to keep the chart legible). */
const MAP_POINTS = 5000;

await runMain(async () => {
  // Flags.
  const flags = parseFlags(Deno.args, {
    model: { type: "string", default: TRAINED_MODEL, help: "trained model to morph with" },
    pairs: { type: "string", default: DEFAULT_PAIRS, help: "digit pairs FROM-TO, comma-separated" },
    from: { type: "number", help: "morph from this digit (with --to, instead of --pairs)" },
    to: { type: "number", help: "morph to this digit (with --from)" },
    steps: { type: "number", default: 20, help: "frames per morph, both ends included" },
    delay: { type: "number", default: 120, help: "milliseconds per GIF frame" },
    ...commonFlags("morph"),
  }, "morph");
  checkInteger("steps", flags.steps, 2);
  checkInteger("delay", flags.delay, 10);
  const pairs = parsePairs(flags);

  // Data and model: the test set (holding every digit, for the centroids), encoded by the trained model.
  const { data, out } = await setupExperiment(flags);
  const absent = [...Array(10).keys()].filter((digit) => !data.test.labels.includes(digit));
  check(
    absent.length === 0,
    `the first ${data.test.count} test images hold no digit ${
      absent.join(", ")
    }, and morph needs ` +
      "every digit's centroid: raise --test-limit",
  );
  const model = await loadTrainedModel(flags.model);
  const encoded = await model.getEncRepresentation(data.test);
  const centroids = classCentroids(encoded);

  // Morphs: decode each step of each straight line between centroids.
  const items: ReportItem[] = [];
  const morphs = [];
  for (const [from, to] of pairs) {
    const frames = [];
    for (const code of interpolate(centroids[from], centroids[to], flags.steps)) {
      frames.push(await model.generateFromEncodedSample(code));
    }
    const name = `morph_${from}_to_${to}`;
    await writeFileAtomic(
      join(out, `${name}.gif`),
      encodeDigitGif(frames, { delayMs: flags.delay }),
    );
    await writeFileAtomic(join(out, `${name}.png`), encodeDigitGrid([frames]));
    morphs.push({ from, to, gif: `${name}.gif`, strip: `${name}.png` });
    items.push(
      {
        kind: "figure",
        file: `${name}.gif`,
        caption:
          `Morphing ${from} into ${to}: the decoded straight line between the two class centroids.`,
      },
      {
        kind: "figure",
        file: `${name}.png`,
        caption: `The ${flags.steps} frames of the ${from}→${to} morph, left to right.`,
      },
    );
  }

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
    hidden: encoded.hidden,
    steps: flags.steps,
    centroids: centroids.map((centroid) => Array.from(centroid)),
    morphs,
  });
  await publishSection(out, { title: "Morphing through the latent space", items });
  model.dispose();
  console.error(`wrote ${pairs.length} morphs and the latent map to ${out}/`);
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
