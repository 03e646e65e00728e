import assert from "node:assert/strict";
import { UsageError } from "../lib/cli.ts";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { meanLoss, perImageLoss } from "../lib/predict.ts";
import {
  curveChart,
  curveTable,
  DEFAULT_LEVELS,
  parseKinds,
  parseLevels,
  parseRobustnessFlags,
  robustnessFlags,
  testLosses,
} from "../lib/experiments/robustness.ts";
import { testDigits } from "./_fixtures.ts";
import { setupBackend } from "../lib/tfjs.ts";

const digits = await testDigits(200);
const clean = digitPixels(digits);
await setupBackend("wasm", { quiet: true });
const first = { name: "first", model: Autoencoder.create({}, 3) };
const second = { name: "second", model: Autoencoder.create({}, 4) };

const mean = (values: Float32Array) => values.reduce((sum, v) => sum + v, 0) / values.length;
/** Equal up to float32 sums over a few hundred thousand pixels. */
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.abs(b);

Deno.test("without corruption, or at level 0, the loss is the model's plain test loss", async () => {
  const plain = await meanLoss(first.model, digits.images);
  assert.deepEqual(await testLosses([first], clean, null, 0), [plain]);
  assert.deepEqual(await testLosses([first], clean, { kind: "noise", std: 0 }, 5), [plain]);
  assert.deepEqual(await testLosses([first], clean, { kind: "occlusion", side: 0 }, 5), [plain]);
});

Deno.test("a corrupted input is scored against the clean image, not against itself", async () => {
  for (
    const corruption of [{ kind: "noise", std: 0.5 }, { kind: "occlusion", side: 14 }] as const
  ) {
    const [loss] = await testLosses([first], clean, corruption, 9);
    const corrupted = corrupt(clean, corruption, 9);
    const againstClean = mean(await perImageLoss(first.model, corrupted, clean));
    const againstItself = mean(await perImageLoss(first.model, corrupted));
    assert.ok(close(loss, againstClean), `${loss} vs ${againstClean}`);
    assert.ok(!close(loss, againstItself), `${loss} vs ${againstItself}`);
  }
});

Deno.test("every model sees the same corrupted images, set by the seed", async () => {
  const noisy = { kind: "noise", std: 1 } as const;
  const together = await testLosses([first, second], clean, noisy, 1);
  assert.ok(together.every((loss) => Number.isFinite(loss) && loss > 0), `${together}`);
  assert.notEqual(together[0], together[1]);
  // alone or together, each model gets the same number; another seed draws other noise
  assert.deepEqual(await testLosses([second], clean, noisy, 1), [together[1]]);
  const [reseeded] = await testLosses([first], clean, noisy, 2);
  assert.notEqual(reseeded, together[0]);
});

Deno.test("level lists are parsed, checked, sorted and freed of repeats", () => {
  assert.deepEqual(parseLevels("noise-levels", "0.5, 0,1,0.5", "noise"), [0, 0.5, 1]);
  assert.deepEqual(parseLevels("occlusion-sides", "28,0,14", "occlusion"), [0, 14, 28]);
  for (
    const [text, kind, message] of [
      ["", "noise", /comma-separated numbers/],
      ["0,,1", "noise", /comma-separated numbers/],
      ["0,abc", "noise", /comma-separated numbers/],
      ["-0.1", "noise", /must lie in \[0, Infinity\)/],
      ["3.5", "occlusion", /3.5 is not a whole number of pixels in 0…28/],
      ["29", "occlusion", /29 is not a whole number of pixels in 0…28/],
    ] as const
  ) {
    assert.throws(() => parseLevels("levels", text, kind), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, message);
      assert.match(error.message, /^--levels\b/);
      return true;
    });
  }
});

Deno.test("kinds are parsed in the study's order; an unknown kind is a usage error", () => {
  assert.deepEqual(parseKinds("kinds", "occlusion, noise,noise"), ["noise", "occlusion"]);
  assert.deepEqual(parseKinds("kinds", "occlusion"), ["occlusion"]);
  assert.throws(() => parseKinds("kinds", "noise,blur"), UsageError);
  assert.throws(() => parseKinds("kinds", ""), UsageError);
});

Deno.test("the flags default to the study's strengths and levels", () => {
  const specs = robustnessFlags();
  const defaults = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, spec.default]),
  ) as Parameters<typeof parseRobustnessFlags>[0];
  const settings = parseRobustnessFlags(defaults);
  assert.equal(settings.model, "results/train/model.safetensors");
  assert.deepEqual(settings.corruptions, {
    noise: { kind: "noise", std: 0.2 },
    occlusion: { kind: "occlusion", side: 10 },
  });
  assert.deepEqual(settings.levels.noise, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(settings.levels.occlusion, DEFAULT_LEVELS.occlusion);
  assert.equal(settings.levels.occlusion.length, 15);
  assert.equal(settings.levels.occlusion.at(-1), 28);
  assert.throws(() => parseRobustnessFlags({ ...defaults, occlusion: 2.5 }), /--occlusion/);
  assert.throws(() => parseRobustnessFlags({ ...defaults, noise: -1 }), /--noise/);
});

Deno.test("a curve becomes a table (exact or rounded) and a chart with units on its axes", async () => {
  const curve = { kind: "occlusion" as const, levels: [0, 10], losses: { a: [0.1, 0.123456789] } };
  assert.deepEqual(curveTable(curve), {
    headers: ["occlusion side (pixels)", "loss: a"],
    rows: [[0, 0.1], [10, 0.123456789]],
  });
  assert.deepEqual(curveTable(curve, 3).rows, [[0, "0.100"], [10, "0.123"]]);
  const occlusion = await curveChart(curve);
  assert.match(occlusion.svg, /occlusion side \(pixels\)/);
  assert.match(occlusion.svg, /MSE per pixel/);
  const noise = await curveChart({
    kind: "noise",
    levels: [0, 0.5],
    losses: { standard: [0.03, 0.05], "noise denoiser": [0.031, 0.04] },
  });
  assert.match(noise.svg, /noise std σ \(pixel intensity, 0–1\)/);
  assert.match(noise.svg, /noise denoiser/);
  assert.ok(noise.png.length > 1000);
});
