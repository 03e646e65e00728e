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
import { measureMorphs } from "../lib/experiments/morph.ts";
import { writeMorphResults } from "../lib/experiments/morph_files.ts";

/** The seed's morphs: from the first digit of each pair to the second. */
const DEFAULT_PAIRS = "2-0,3-9,1-4";

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

  // Data and models: the test set (holding every digit, for the centroids), the trained model, the
  // classifier that reads frames.
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

  // Loop: the centroids decoded, each morph and random path decoded and read, the latent map.
  const results = await measureMorphs({
    model,
    classifier,
    test: data.test,
    pairs,
    steps: flags.steps,
    random: flags.random,
    seed: flags.seed,
    weights: { model: flags.model, classifier: flags.classifier },
    delayMs: flags.delay,
  });
  model.dispose();
  classifier.dispose();

  // Files: the figures, the latent map, morph.json, the report section.
  await writeMorphResults(out, results);
  console.error(
    `wrote ${pairs.length} morphs, ${results.random?.paths.length ?? 0} random paths and the ` +
      `latent map to ${out}/`,
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
