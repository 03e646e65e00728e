import assert from "node:assert/strict";
import {
  addGaussianNoise,
  blankSquare,
  corrupt,
  corruptedPairs,
  digitPixels,
  occlude,
} from "../lib/corrupt.ts";
import { createRng } from "../lib/random.ts";
import { testDigits } from "./_fixtures.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";

const digits = await testDigits(200);
const clean = digitPixels(digits);

Deno.test("noise keeps every value in [0, 1] and changes the image, reproducibly for a seed", () => {
  for (const std of [0.05, 0.2, 1, 3]) {
    const noisy = addGaussianNoise(clean, std, createRng(7));
    assert.ok(noisy.every((value) => value >= 0 && value <= 1), `std ${std} left [0, 1]`);
    assert.ok(noisy.some((value, i) => value !== clean[i]), `std ${std} changed nothing`);
    assert.deepEqual(noisy, addGaussianNoise(clean, std, createRng(7)));
  }
  assert.notDeepEqual(
    addGaussianNoise(clean, 0.2, createRng(1)),
    addGaussianNoise(clean, 0.2, createRng(2)),
  );
});

Deno.test("noise of std 0.2 has about that spread where no clipping happens", () => {
  const half = new Float32Array(IMAGE_PIXELS * 50).fill(0.5);
  const noisy = addGaussianNoise(half, 0.2, createRng(3));
  const deviations = noisy.map((value) => value - 0.5);
  const variance = deviations.reduce((sum, d) => sum + d * d, 0) / deviations.length;
  assert.ok(Math.abs(Math.sqrt(variance) - 0.2) < 0.01, `spread ${Math.sqrt(variance)}`);
});

Deno.test("noise std 0 and occlusion side 0 change nothing", () => {
  assert.deepEqual(addGaussianNoise(clean, 0, createRng(1)), clean);
  assert.deepEqual(occlude(clean, 0, createRng(1)), clean);
});

Deno.test("occlusion zeroes exactly one side×side square per image, inside it, the rest unchanged", () => {
  const ones = new Float32Array(IMAGE_PIXELS * 100).fill(1);
  for (const side of [1, 10, 27]) {
    const occluded = occlude(ones, side, createRng(side));
    for (let image = 0; image < 100; image++) {
      const pixels = occluded.subarray(image * IMAGE_PIXELS, (image + 1) * IMAGE_PIXELS);
      const zeros = [...pixels.keys()].filter((i) => pixels[i] === 0);
      assert.equal(zeros.length, side * side);
      const rows = zeros.map((i) => Math.floor(i / 28));
      const cols = zeros.map((i) => i % 28);
      assert.equal(Math.max(...rows) - Math.min(...rows), side - 1);
      assert.equal(Math.max(...cols) - Math.min(...cols), side - 1);
      assert.ok(pixels.every((value) => value === 0 || value === 1));
    }
  }
  assert.ok(occlude(clean, 28, createRng(1)).every((value) => value === 0));
});

Deno.test("occlusion of real digits leaves pixels outside the square exactly as they were", () => {
  const occluded = occlude(clean, 10, createRng(5));
  let changed = 0;
  for (let i = 0; i < clean.length; i++) {
    if (occluded[i] !== clean[i]) {
      assert.equal(occluded[i], 0);
      changed++;
    }
  }
  assert.ok(changed > 0 && changed <= 100 * digits.count);
});

Deno.test("bad strengths are refused", () => {
  assert.throws(() => addGaussianNoise(clean, -0.1, createRng(1)), /std/);
  assert.throws(() => occlude(clean, 29, createRng(1)), /side/);
  assert.throws(() => occlude(clean, 2.5, createRng(1)), /side/);
});

Deno.test("a square is blanked in place where it lies inside the image, and nowhere else", () => {
  const blank = (square: { side: number; top: number; left: number }) => {
    const image = blankSquare(new Float32Array(IMAGE_PIXELS).fill(1), square);
    return [...image.keys()].filter((i) => image[i] === 0).map((i) => [i / 28 | 0, i % 28]);
  };
  assert.deepEqual(blank({ side: 2, top: 3, left: 5 }), [[3, 5], [3, 6], [4, 5], [4, 6]]);
  assert.deepEqual(blank({ side: 3, top: 26, left: -1 }), [[26, 0], [26, 1], [27, 0], [27, 1]]);
  assert.deepEqual(blank({ side: 4, top: 28, left: 0 }), []);
  assert.deepEqual(blank({ side: 0, top: 5, left: 5 }), []);
  assert.equal(blank({ side: 28, top: 0, left: 0 }).length, IMAGE_PIXELS);
});

Deno.test("corruptedPairs: each digit corrupted beside its clean pixels, seeded", () => {
  const digits = { images: new Uint8Array(3 * 784).fill(128), labels: new Uint8Array(3), count: 3 };
  const noise = { kind: "noise", std: 0.3 } as const;
  const pairs = corruptedPairs(digits, noise, 7);
  assert.equal(pairs.count, 3);
  assert.deepEqual(pairs.clean, digitPixels(digits));
  assert.deepEqual(pairs.corrupted, corrupt(digitPixels(digits), noise, 7));
  assert.notDeepEqual(pairs.corrupted, pairs.clean);
});
