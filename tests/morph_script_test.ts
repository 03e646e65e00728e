import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeGif } from "../lib/figures/gif.ts";
import { decodePng } from "../lib/figures/png.ts";
import {
  assertAsksForTrainedModel,
  assertRefuses,
  runScript,
  tinyTrainedModel,
} from "./_scripts.ts";

Deno.test("morph without a trained model says to train one, in one line, and exits 2", () =>
  assertAsksForTrainedModel("scripts/morph.ts"));

Deno.test("morph writes a GIF and a strip per pair, and the latent map", async () => {
  const model = await tinyTrainedModel();
  const out = await Deno.makeTempDir();
  const run = await runScript("scripts/morph.ts", [
    `--model=${model}`,
    "--pairs=2-0,7-1",
    "--steps=6",
    "--test-limit=500",
    `--out=${out}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  for (const [from, to] of [[2, 0], [7, 1]]) {
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
    const strip = decodePng(await Deno.readFile(join(out, `morph_${from}_to_${to}.png`)));
    assert.deepEqual([strip.width, strip.height], [2 + 6 * (84 + 2), 2 + 84 + 2]);
  }
  const morph = JSON.parse(await Deno.readTextFile(join(out, "morph.json")));
  assert.equal(morph.centroids.length, 10);
  assert.equal(morph.centroids[0].length, 4);
  assert.ok(decodePng(await Deno.readFile(join(out, "latent_map.png"))).width > 500);
  assert.match(await Deno.readTextFile(join(out, "latent_map.svg")), /principal component/);
  await Deno.remove(out, { recursive: true });
});

for (
  const [flags, message] of [
    [["--pairs=2-10"], /--pairs must look like/],
    [["--from=2"], /--from and --to go together/],
    [["--steps=1"], /--steps must be an integer ≥ 2/],
  ] as const
) {
  Deno.test(`morph refuses ${flags.join(" ")} with exit code 2`, async () =>
    assertRefuses("scripts/morph.ts", [`--model=${await tinyTrainedModel()}`, ...flags], message));
}
