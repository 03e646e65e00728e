import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import {
  epochOrder,
  pickDigits,
  splitTrainValidation,
  takeDigits,
  TensorBatches,
} from "../lib/data/batches.ts";
import { type Digits, loadMnist } from "../lib/data/mnist.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import { setupBackend } from "../lib/tfjs.ts";

const mnist = await loadMnist({ quiet: true });
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

Deno.test("pickDigits copies the chosen digits in the order asked", () => {
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

Deno.test("batches cover each image once per epoch, in a seeded order per epoch", async () => {
  await setupBackend("wasm", { quiet: true });
  const start = tf.memory().numTensors;
  const batches = TensorBatches.fromDigits(digits, { batchSize: 300, seed: 7 });
  assert.equal(batches.batchCount, 4);
  const orders: Int32Array[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    const order = batches.order();
    const sizes: number[] = [];
    let seen = 0;
    for (const batch of batches.epoch()) {
      assert.equal(batch.targets, batch.inputs);
      assert.deepEqual(batch.inputs.shape, [batch.size, 28, 28, 1]);
      sizes.push(batch.size);
      const pixels = await batch.inputs.data();
      for (let i = 0; i < batch.size; i++) {
        const index = order[seen + i];
        const expected = digits.images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS);
        const got = pixels.subarray(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS);
        assert.ok(expected.every((v, j) => Math.abs(v / 255 - got[j]) < 1e-7), `image ${index}`);
      }
      seen += batch.size;
    }
    assert.deepEqual(sizes, [300, 300, 300, 100]);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    orders.push(order);
  }
  assert.equal(batches.epochs, 2);
  assert.notDeepEqual(orders[0], orders[1]);
  // The fused engine takes its batches from epochOrder: the same order for the same seed and epoch.
  assert.deepEqual(orders[1], epochOrder(1000, 7, 1));

  const same = TensorBatches.fromDigits(digits, { batchSize: 300, seed: 7 });
  const other = TensorBatches.fromDigits(digits, { batchSize: 300, seed: 8 });
  assert.deepEqual(same.order(0), orders[0]);
  assert.deepEqual(same.order(1), orders[1]);
  assert.notDeepEqual(other.order(0), orders[0]);
  const unshuffled = TensorBatches.fromDigits(digits, { batchSize: 300, shuffle: false });
  assert.deepEqual(unshuffled.order(5), Int32Array.from({ length: 1000 }, (_, i) => i));
  [batches, same, other, unshuffled].forEach((b) => b.dispose());
  assert.equal(tf.memory().numTensors, start);
});

Deno.test("separate targets travel with their inputs; batches are freed as the loop goes on", async () => {
  await setupBackend("wasm", { quiet: true });
  const start = tf.memory().numTensors;
  const clean = Float32Array.from(takeDigits(digits, 10).images, (v) => v / 255);
  const noisy = clean.map((v, i) => (v + (i % 7) / 7) / 2);
  const batches = new TensorBatches(noisy, { batchSize: 4, seed: 1, targets: clean });
  const order = batches.order();
  let seen = 0;
  for (const batch of batches.epoch()) {
    assert.notEqual(batch.targets, batch.inputs);
    const [inputs, targets] = [await batch.inputs.data(), await batch.targets.data()];
    for (let i = 0; i < batch.size * IMAGE_PIXELS; i++) {
      const pixel = order[seen + Math.floor(i / IMAGE_PIXELS)] * IMAGE_PIXELS + (i % IMAGE_PIXELS);
      assert.equal(inputs[i], noisy[pixel]);
      assert.equal(targets[i], clean[pixel]);
    }
    seen += batch.size;
    // Only the current batch is held: the uploaded images (2) and this batch (2).
    assert.equal(tf.memory().numTensors, start + 4);
  }
  assert.equal(seen, 10);
  for (const _ of batches.epoch()) break;
  assert.equal(tf.memory().numTensors, start + 2);
  batches.dispose();
  assert.equal(tf.memory().numTensors, start);
  assert.throws(
    () => new TensorBatches(clean, { batchSize: 4, targets: clean.subarray(784) }),
    /targets hold/,
  );
  assert.throws(() => new TensorBatches(clean.subarray(1), { batchSize: 4 }), /multiple of 784/);
  assert.throws(() => new TensorBatches(clean, { batchSize: 0 }), /batch size/);
});
