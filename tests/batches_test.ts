import assert from "node:assert/strict";
import {
  epochOrder,
  pickDigits,
  splitTrainValidation,
  takeDigits,
  unitPixels,
} from "../lib/data/batches.ts";
import type { Digits } from "../lib/data/mnist.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import { testMnist } from "./_fixtures.ts";

const mnist = await testMnist();
const digits = takeDigits(mnist.train, 1000);

/** The images of `digits` as strings, one per digit, to compare sets of images. */
function imageKeys(set: Digits): string[] {
  return Array.from(
    { length: set.count },
    (_, i) => set.images.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS).join(),
  );
}

Deno.test("takeDigits keeps the first digits, all of them past the count", () => {
  const few = takeDigits(mnist.test, 5);
  assert.equal(few.count, 5);
  assert.deepEqual(few.labels, mnist.test.labels.subarray(0, 5));
  assert.deepEqual(few.images, mnist.test.images.subarray(0, 5 * IMAGE_PIXELS));
  assert.equal(takeDigits(few, 100).count, 5);
  assert.equal(takeDigits(few, 0).images.length, 0);
  assert.throws(() => takeDigits(few, -1), RangeError);
});

Deno.test("pickDigits copies the chosen digits in the order asked, into shared memory", () => {
  const picked = pickDigits(digits, [9, 3, 9]);
  assert.equal(picked.count, 3);
  assert.deepEqual(
    picked.labels,
    Uint8Array.of(digits.labels[9], digits.labels[3], digits.labels[9]),
  );
  assert.deepEqual(
    picked.images.subarray(IMAGE_PIXELS, 2 * IMAGE_PIXELS),
    digits.images.subarray(3 * IMAGE_PIXELS, 4 * IMAGE_PIXELS),
  );
  assert.notEqual(picked.images.buffer, digits.images.buffer);
  // Shared, so that a pool of workers reads the digits without a copy each.
  assert.ok(picked.images.buffer instanceof SharedArrayBuffer);
  assert.ok(picked.labels.buffer instanceof SharedArrayBuffer);
  assert.throws(() => pickDigits(digits, [1000]), /index 1000 is not a digit of 0…999/);
});

Deno.test("the split partitions the digits, reproducibly for a seed", () => {
  const { train, validation } = splitTrainValidation(digits, { validationSize: 200, seed: 1 });
  assert.equal(train.count, 800);
  assert.equal(validation.count, 200);
  assert.equal(train.images.length, 800 * IMAGE_PIXELS);
  // Every digit lands in exactly one part, with its own label.
  const labelOf = new Map(imageKeys(digits).map((key, i) => [key, digits.labels[i]]));
  const parts = [...imageKeys(train), ...imageKeys(validation)];
  assert.deepEqual([...parts].sort(), imageKeys(digits).sort());
  const labels = [...train.labels, ...validation.labels];
  parts.forEach((key, i) => assert.equal(labelOf.get(key), labels[i]));

  const again = splitTrainValidation(digits, { validationSize: 200, seed: 1 });
  assert.deepEqual(again.validation, validation);
  const other = splitTrainValidation(digits, { validationSize: 200, seed: 2 });
  assert.notDeepEqual(other.validation.labels, validation.labels);
  assert.equal(splitTrainValidation(mnist.train, { seed: 3 }).validation.count, 10000);
  assert.throws(() => splitTrainValidation(digits, { validationSize: 1001, seed: 1 }), RangeError);
});

Deno.test("each epoch's order is a seeded permutation, another one every epoch", () => {
  const orders = [0, 1].map((epoch) => epochOrder(1000, 7, epoch));
  const all = Array.from({ length: 1000 }, (_, i) => i);
  for (const order of orders) assert.deepEqual([...order].sort((a, b) => a - b), all);
  assert.notDeepEqual(orders[0], orders[1]);
  assert.deepEqual(epochOrder(1000, 7, 1), orders[1]);
  assert.notDeepEqual(epochOrder(1000, 8, 0), orders[0]);
});

Deno.test("unitPixels turns bytes into floats in [0, 1], of the images asked for in that order", () => {
  const images = digits.images.subarray(0, 5 * IMAGE_PIXELS);
  const image = (pixels: ArrayLike<number>, i: number) =>
    Array.from(pixels).slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
  const all = unitPixels(images);
  assert.equal(all.length, 5 * IMAGE_PIXELS);
  assert.deepEqual(Array.from(all), Array.from(images, (v) => Math.fround(v / 255)));
  assert.ok(all.some((v) => v === 1) && all.some((v) => v > 0 && v < 1));
  const picked = unitPixels(images, [3, 0, 3]);
  assert.equal(picked.length, 3 * IMAGE_PIXELS);
  [3, 0, 3].forEach((from, i) =>
    assert.deepEqual(image(picked, i), image(all, from), `image ${i}`)
  );
  // Floats are copied as they are, never divided again.
  const floats = all.map((v) => v / 2);
  const copied = unitPixels(floats);
  assert.deepEqual(copied, floats);
  assert.notEqual(copied.buffer, floats.buffer);
  assert.deepEqual(image(unitPixels(floats, [4]), 0), image(floats, 4));
  assert.equal(unitPixels(images, []).length, 0);
});
