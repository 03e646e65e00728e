import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeGif } from "../lib/figures/gif.ts";
import { digitGlyph } from "../lib/figures/glyphs.ts";
import { decodePng } from "../lib/figures/png.ts";
import {
  assertAsksForTrainedModel,
  assertRefuses,
  gridSide,
  runScript,
  tinyClassifier,
  tinyTrainedModel,
} from "./_scripts.ts";

Deno.test("morph without a trained model says to train one, in one line, and exits 2", () =>
  assertAsksForTrainedModel("scripts/morph.ts"));

/** The cell at `row`, `column` of a decoded digit grid (scale 3, gap 2, no separators), as bytes. */
function cell(png: ReturnType<typeof decodePng>, row: number, column: number): number[] {
  return Array.from({ length: 784 }, (_, i) => {
    const [y, x] = [2 + row * 86 + 3 * Math.floor(i / 28), 2 + column * 86 + 3 * (i % 28)];
    return png.frames[0][4 * (y * png.width + x)];
  });
}

Deno.test("morph writes a GIF and a strip read by the classifier per pair, random paths and their smoothness, and the latent map", async () => {
  const model = await tinyTrainedModel();
  const out = await Deno.makeTempDir();
  const run = await runScript("scripts/morph.ts", [
    `--model=${model}`,
    `--classifier=${await tinyClassifier()}`,
    "--pairs=2-0,7-1",
    "--steps=6",
    "--random=5",
    "--test-limit=500",
    `--out=${out}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const morph = JSON.parse(await Deno.readTextFile(join(out, "morph.json")));
  for (const [k, [from, to]] of [[2, 0], [7, 1]].entries()) {
    const gif = decodeGif(await Deno.readFile(join(out, `morph_${from}_to_${to}.gif`)));
    assert.equal(gif.frames.length, 6);
    assert.deepEqual([gif.width, gif.height], [84, 84]);
    assert.equal(gif.loopCount, 0);
    // a morph moves step by step: no step jumps as far as the whole way from first to last frame
    const distance = (a: Uint8Array, b: Uint8Array) =>
      a.reduce((sum, v, i) => sum + Math.abs(v - b[i]), 0);
    const whole = distance(gif.frames[0], gif.frames[5]);
    assert.ok(whole > 0);
    for (let i = 1; i < 6; i++) assert.ok(distance(gif.frames[i - 1], gif.frames[i]) < whole);
    // the strip: the frames, and under each the classifier's reading of it written as a digit
    const strip = decodePng(await Deno.readFile(join(out, `morph_${from}_to_${to}.png`)));
    assert.deepEqual([strip.width, strip.height], [gridSide(6), gridSide(2)]);
    const { readings } = morph.morphs[k];
    assert.equal(readings.length, 6);
    readings.forEach((reading: number, column: number) =>
      assert.deepEqual(cell(strip, 1, column), Array.from(digitGlyph(reading)))
    );
  }
  assert.equal(morph.centroids.length, 10);
  assert.equal(morph.centroids[0].length, 4);
  assert.equal(morph.centroidReadings.length, 10);
  const own = morph.centroidReadings.filter((reading: number, digit: number) => reading === digit);
  assert.equal(morph.centroidsReadAsOwnClass, own.length / 10);
  const centroids = decodePng(await Deno.readFile(join(out, "centroids.png")));
  assert.deepEqual([centroids.width, centroids.height], [gridSide(10), gridSide(2)]);

  // random paths: 5 seeded pairs of distinct test digits, each measured
  const { random } = morph;
  assert.equal(random.pairs.length, 5);
  const ends = random.pairs.flatMap((pair: { from: { index: number }; to: { index: number } }) => [
    pair.from.index,
    pair.to.index,
  ]);
  assert.equal(new Set(ends).size, 10);
  for (const pair of random.pairs) {
    // no step can be shorter on the longest than an even share of the way between the ends
    assert.ok(pair.largestStep >= 1 / 5 - 1e-6, `largest step ${pair.largestStep}`);
    const changes = pair.readings.filter((r: number, i: number) =>
      i > 0 && r !== pair.readings[i - 1]
    );
    assert.equal(pair.readingChanges, changes.length);
    assert.ok(pair.returns <= pair.readingChanges);
  }
  assert.equal(random.summary.paths, 5);
  assert.equal(random.summary.readingChanges.reduce((a: number, b: number) => a + b), 5);
  assert.equal(random.summary.evenStep, 1 / 5);
  const steps = random.pairs.map((pair: { largestStep: number }) => pair.largestStep);
  assert.equal(random.summary.largestStep.max, Math.max(...steps));
  assert.equal(random.pairs[random.roughest].largestStep, Math.max(...steps));
  const shown = decodeGif(await Deno.readFile(join(out, "morph_random.gif")));
  assert.deepEqual([shown.frames.length, shown.width, shown.height], [6, 5 * 84, 84]);
  const strip = decodePng(await Deno.readFile(join(out, "morph_random.png")));
  assert.deepEqual([strip.width, strip.height], [gridSide(6), gridSide(10) + 4 * 4]);
  const roughest = decodePng(await Deno.readFile(join(out, "morph_random_roughest.png")));
  assert.deepEqual([roughest.width, roughest.height], [gridSide(6), gridSide(2)]);
  assert.match(await Deno.readTextFile(join(out, "random_paths.svg")), /largest step/);
  const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  const text = report.items.find((item: { kind: string }) => item.kind === "text").text;
  assert.match(text, /^Is the encoded space regular\? 5 straight lines of 6 frames/);

  assert.ok(decodePng(await Deno.readFile(join(out, "latent_map.png"))).width > 500);
  assert.match(await Deno.readTextFile(join(out, "latent_map.svg")), /principal component/);
  await Deno.remove(out, { recursive: true });
});

for (
  const [flags, message] of [
    [["--pairs=2-10"], /--pairs must look like/],
    [["--from=2"], /--from and --to go together/],
    [["--steps=1"], /--steps must be an integer ≥ 2/],
    [["--random=-1"], /--random must be an integer ≥ 0/],
    [["--random=300", "--test-limit=500"], /--random 300 needs 600 test images, there are 500/],
  ] as const
) {
  Deno.test(`morph refuses ${flags.join(" ")} with exit code 2`, async () =>
    assertRefuses("scripts/morph.ts", [`--model=${await tinyTrainedModel()}`, ...flags], message));
}
