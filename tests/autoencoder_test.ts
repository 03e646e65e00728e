import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/deps.ts";
import { setupBackend } from "../lib/gpu.ts";
import { takeDigits, TensorBatches } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { initialWeights } from "../lib/model/architecture.ts";
import { parameterCount, parameterSpecs } from "../lib/model/architecture.ts";
import { loadSafetensors, saveSafetensors } from "../lib/model/weights.ts";
import { createRng } from "../lib/random.ts";

const PYTHON = "/usr/bin/python3";
const PEER = new URL("./autoencoder_peer.py", import.meta.url).pathname;
const mnist = await loadMnist({ quiet: true });

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "aelab_autoencoder_test_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the model's variables hold 49,541 parameters at d = 4, and the architecture's count at any d", async () => {
  await setupBackend("wasm", { quiet: true });
  for (const hidden of [1, 2, 4, 16, 64, 288]) {
    const model = Autoencoder.create({ hidden });
    assert.equal(model.parameterCount, parameterCount(hidden), `hidden ${hidden}`);
    if (hidden === 4) assert.equal(model.parameterCount, 49541);
    model.dispose();
  }
});

Deno.test("initial weights follow PyTorch's bounds and the seed", async () => {
  await setupBackend("wasm", { quiet: true });
  const [a, b, c] = [3, 3, 4].map((seed) => Autoencoder.create({ seed }));
  const [wa, wb, wc] = await Promise.all([a, b, c].map((m) => m.getWeights()));
  for (const spec of parameterSpecs(4)) {
    const bound = 1 / Math.sqrt(spec.fanIn);
    const values = wa[spec.name];
    assert.ok(values.every((v) => Math.abs(v) <= bound), spec.name);
    // Drawn across the whole interval, not a corner of it.
    if (values.length >= 64) {
      assert.ok(Math.max(...values) > bound / 2 && Math.min(...values) < -bound / 2, spec.name);
    }
  }
  assert.deepEqual(wa, wb);
  assert.notDeepEqual(wa, wc);
  assert.deepEqual(wa, initialWeights(4, createRng(3)));
  [a, b, c].forEach((m) => m.dispose());
});

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`forward pass and three Adam steps with L2 equal PyTorch's (${backend})`, async () => {
    await setupBackend(backend, { quiet: true });
    const digits = takeDigits(mnist.test, 16);
    const pixels = Float32Array.from(digits.images, (v) => v / 255);
    const config = { lr: 2e-3, l2: 1e-2, steps: 3 };
    const model = Autoencoder.create({
      hidden: 5,
      dropout: 0,
      lr: config.lr,
      l2: config.l2,
      seed: 11,
    });
    const batches = new TensorBatches(pixels, { batchSize: 16, shuffle: false });
    await inTempDir(async (dir) => {
      await model.save(join(dir, "weights.safetensors"));
      const shape = [16, 1, 28, 28];
      await saveSafetensors(join(dir, "batch.safetensors"), {
        inputs: { shape, data: pixels },
        targets: { shape, data: pixels },
      });
      await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
      const peer = await new Deno.Command(PYTHON, { args: [PEER, "check", dir] }).output();
      assert.equal(peer.code, 0, new TextDecoder().decode(peer.stderr));
      const { tensors: torch } = await loadSafetensors(join(dir, "out.safetensors"));

      const input = tf.tensor4d(pixels, [16, 28, 28, 1]);
      const [code, output] = [model.encode(input), model.reconstruct(input)];
      assert.ok(maxAbsDifference(await code.data(), torch.code.data) <= 1e-4);
      assert.ok(maxAbsDifference(await output.data(), torch.output.data) <= 1e-4);
      tf.dispose([input, code, output]);
      const loss = await model.testEpoch(batches);
      assert.ok(
        Math.abs(loss - torch.loss.data[0]) <= 1e-6,
        `loss ${loss} vs ${torch.loss.data[0]}`,
      );

      const initial = await model.getWeights();
      for (let step = 0; step < config.steps; step++) await model.trainEpoch(batches);
      const weights = await model.getWeights();
      let [worst, moved] = [0, 0];
      for (const spec of parameterSpecs(5)) {
        worst = Math.max(worst, maxAbsDifference(weights[spec.name], torch[spec.name].data));
        moved = Math.max(moved, maxAbsDifference(weights[spec.name], initial[spec.name]));
      }
      // Three Adam steps move some weights by about 3·lr; both sides agree far closer than that.
      assert.ok(moved > 2 * config.lr, `weights moved by at most ${moved}`);
      assert.ok(worst <= 1e-4, `max abs weight difference ${worst}`);
    });
    batches.dispose();
    model.dispose();
  });
}

Deno.test("training lowers the loss on 2,000 MNIST digits and leaks no tensors", async () => {
  await setupBackend("wasm", { quiet: true });
  const train = new TensorBatches(takeDigits(mnist.train, 2000).images, { batchSize: 64, seed: 1 });
  const test = new TensorBatches(takeDigits(mnist.test, 500).images, {
    batchSize: 250,
    shuffle: false,
  });
  const model = Autoencoder.create({ hidden: 4, dropout: 0.1, seed: 1 });
  const before = await model.testEpoch(test);
  const losses: number[] = [];
  const tensors: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    losses.push(await model.trainEpoch(train));
    tensors.push(tf.memory().numTensors);
  }
  const after = await model.testEpoch(test);
  assert.equal(new Set(tensors).size, 1, `tensor count changed across epochs: ${tensors}`);
  // The epoch's loss is a mean over its steps: below the untrained model's, above the trained one's.
  assert.ok(
    losses[0] < before && losses[0] > after,
    `first epoch ${losses[0]}, test ${before} → ${after}`,
  );
  assert.ok(losses[3] < losses[0] * 0.8, `training losses ${losses}`);
  assert.ok(after < before * 0.6, `test loss ${before} → ${after}`);
  assert.equal(model.steps, 4 * Math.ceil(2000 / 64));
  const held = tf.memory().numTensors;
  model.dispose();
  train.dispose();
  test.dispose();
  assert.ok(tf.memory().numTensors < held);
});

Deno.test("dropout is seeded and only active in training", async () => {
  await setupBackend("wasm", { quiet: true });
  const digits = takeDigits(mnist.train, 256);
  const run = async (seed: number, dropout: number) => {
    const batches = TensorBatches.fromDigits(digits, { batchSize: 64, seed: 3 });
    const model = Autoencoder.create({ seed, dropout });
    const input = tf.tensor4d(Float32Array.from(digits.images, (v) => v / 255), [256, 28, 28, 1]);
    const [first, second] = [model.reconstruct(input), model.reconstruct(input)];
    const evalRepeatable = maxAbsDifference(await first.data(), await second.data()) === 0;
    const loss = await model.trainEpoch(batches);
    tf.dispose([input, first, second]);
    const weights = await model.getWeights();
    model.dispose();
    batches.dispose();
    return { evalRepeatable, loss, weights };
  };
  const [a, b, c, none] = [
    await run(5, 0.5),
    await run(5, 0.5),
    await run(6, 0.5),
    await run(5, 0),
  ];
  assert.ok(a.evalRepeatable);
  assert.equal(a.loss, b.loss);
  assert.deepEqual(a.weights, b.weights);
  assert.notEqual(a.loss, c.loss);
  assert.notEqual(a.loss, none.loss);
});

Deno.test("save and load round-trip exactly; a mismatching file is rejected", async () => {
  await setupBackend("wasm", { quiet: true });
  const model = Autoencoder.create({ hidden: 3, dropout: 0.2, seed: 9 });
  await inTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    await model.save(path);
    const { metadata, tensors } = await loadSafetensors(path);
    assert.equal(metadata.hidden, "3");
    assert.equal(metadata.dropout, "0.2");
    assert.deepEqual(Object.keys(tensors), parameterSpecs(3).map((spec) => spec.name));

    const loaded = await Autoencoder.load(path);
    assert.deepEqual(loaded.config.hidden, 3);
    assert.deepEqual(loaded.config.dropout, 0.2);
    assert.deepEqual(await loaded.getWeights(), await model.getWeights());
    const z = [0.5, -1, 2];
    assert.deepEqual(
      await loaded.generateFromEncodedSample(z),
      await model.generateFromEncodedSample(z),
    );
    loaded.dispose();

    await assert.rejects(Autoencoder.load(path, { hidden: 4 }), /hidden 3.*hidden 4/);
    await assert.rejects(Autoencoder.load(path, { dropout: 0 }), /dropout 0\.2.*dropout 0/);
    const wrongShape = { ...tensors };
    wrongShape["encoder_lin.3.weight"] = { shape: [4, 64], data: new Float32Array(256) };
    await saveSafetensors(path, wrongShape, metadata);
    await assert.rejects(Autoencoder.load(path), /encoder_lin\.3\.weight has shape \[4,64\]/);
    const missing = { ...tensors };
    delete missing["decoder_conv.4.bias"];
    await saveSafetensors(path, missing, metadata);
    await assert.rejects(Autoencoder.load(path), /missing tensor decoder_conv\.4\.bias/);
    await saveSafetensors(path, tensors, {});
    await assert.rejects(Autoencoder.load(path), /not an autoencoder file/);
  });
  model.dispose();
});

Deno.test("codes of digits and images of codes", async () => {
  await setupBackend("wasm", { quiet: true });
  const model = Autoencoder.create({ hidden: 6, seed: 2 });
  const digits = takeDigits(mnist.test, 1500);
  const { codes, labels, hidden } = await model.getEncRepresentation(digits, 1000);
  assert.equal(hidden, 6);
  assert.equal(codes.length, 1500 * 6);
  assert.deepEqual(labels, digits.labels);
  // The last code, encoded on its own, is the same.
  const one = tf.tensor4d(
    Float32Array.from(digits.images.subarray(1499 * 784), (v) => v / 255),
    [1, 28, 28, 1],
  );
  const code = model.encode(one);
  assert.ok(maxAbsDifference(await code.data(), codes.subarray(1499 * 6)) <= 1e-6);
  const pixels = await model.generateFromEncodedSample(codes.subarray(1499 * 6));
  const image = model.decode(code);
  assert.ok(maxAbsDifference(pixels, await image.data()) <= 1e-6);
  assert.ok(pixels.every((p) => p > 0 && p < 1));
  tf.dispose([one, code, image]);
  await assert.rejects(model.generateFromEncodedSample([1, 2]), /6 numbers/);
  model.dispose();
});
