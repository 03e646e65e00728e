/** What `denoise` trains: a denoiser per corruption, on (corrupted, clean) pairs drawn once per split. */
import assert from "node:assert/strict";
import { corrupt, DEFAULT_CORRUPTIONS, digitPixels } from "../lib/corrupt.ts";
import type { Digits } from "../lib/data/mnist.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import { denoiserSet } from "../lib/experiments/denoise_plan.ts";

/** `count` digits of a gradient of grey levels, labelled 0, 1, … */
function digits(count: number, shift: number): Digits {
  const images = new Uint8Array(count * IMAGE_PIXELS).map((_, i) => (i * 7 + shift) % 256);
  return { images, labels: new Uint8Array(count).map((_, i) => i % 10), count };
}

Deno.test("denoiserSet pairs each split's corrupted digits with the clean ones, drawn once", () => {
  const data = { train: digits(6, 0), validation: digits(3, 0), test: digits(4, 2) };
  const set = denoiserSet({
    kinds: ["noise", "occlusion"],
    settings: {
      model: "model.safetensors",
      classifier: "classifier.safetensors",
      corruptions: DEFAULT_CORRUPTIONS,
      levels: { noise: [0, 0.2], occlusion: [0, 10] },
    },
    hidden: 4,
    params: { lr: 1e-3, l2: 0, dropout: 0, epochs: 2, batchSize: 2, source: "flags" },
    seed: 5,
    out: "denoise",
  }, data);
  assert.deepEqual(set.trainings.map(({ id }) => id), ["noise", "occlusion"]);
  const [noise, occlusion] = set.trainings.map(({ job }) => job);
  for (const split of ["train", "validation", "test"] as const) {
    const pairs = noise[split]!;
    const clean = digitPixels(data[split]);
    assert.equal(pairs.count, data[split].count);
    assert.deepEqual(Array.from(pairs.targets!), Array.from(data[split].images));
    // Read twice, the same images: a training and its evaluations see one draw.
    assert.equal(pairs.inputs, pairs.inputs);
    assert.notDeepEqual(pairs.inputs, clean);
    assert.ok((pairs.inputs as Float32Array).every((value) => value >= 0 && value <= 1));
  }
  // The test digits are corrupted with --seed itself, as `corrupt` corrupts them.
  assert.deepEqual(
    noise.test!.inputs,
    corrupt(digitPixels(data.test), DEFAULT_CORRUPTIONS.noise, 5),
  );
  assert.deepEqual(
    occlusion.test!.inputs,
    corrupt(digitPixels(data.test), DEFAULT_CORRUPTIONS.occlusion, 5),
  );
  // Each split draws its own corruption: the validation digits are the first 3 training digits.
  assert.notDeepEqual(
    Array.from(noise.train.inputs.subarray(0, 3 * IMAGE_PIXELS)),
    Array.from(noise.validation!.inputs),
  );
});
