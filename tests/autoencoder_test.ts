import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/deps.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { initialWeights } from "../lib/model/architecture.ts";
import { parameterCount, parameterSpecs } from "../lib/model/architecture.ts";
import { loadSafetensors, saveSafetensors } from "../lib/model/weights.ts";
import { createRng } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { inTempDir, maxAbsDifference } from "./_fixtures.ts";

const mnist = await loadMnist({ quiet: true });

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
  const [a, b, c] = [3, 3, 4].map((seed) => Autoencoder.create({}, seed));
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

Deno.test("save and load round-trip exactly; a mismatching file is rejected", async () => {
  await setupBackend("wasm", { quiet: true });
  const model = Autoencoder.create({ hidden: 3, dropout: 0.2 }, 9);
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
    await assert.rejects(Autoencoder.load(path), /not a model's weights file/);
    await saveSafetensors(path, tensors, { ...metadata, kind: "classifier" });
    await assert.rejects(Autoencoder.load(path), /holds a digit classifier, not an autoencoder/);
    const poisoned = { ...tensors };
    const bias = new Float32Array(tensors["decoder_conv.4.bias"].data);
    bias[0] = NaN;
    poisoned["decoder_conv.4.bias"] = { shape: [1], data: bias };
    await saveSafetensors(path, poisoned, metadata);
    await assert.rejects(
      Autoencoder.load(path),
      /model\.safetensors: decoder_conv\.4\.bias holds 1 of 1 values that are NaN or infinite/,
    );
    // Weights that are not finite are never saved as a model either.
    const broken = Autoencoder.create({ hidden: 3 }, 1);
    const infinite = Object.entries(await broken.getWeights()).map(([name, values]) => [
      name,
      values.map(() => Infinity),
    ]);
    broken.setWeights(Object.fromEntries(infinite));
    await assert.rejects(broken.save(join(dir, "broken.safetensors")), /NaN or infinite/);
    assert.equal(await Deno.stat(join(dir, "broken.safetensors")).catch(() => null), null);
    broken.dispose();
  });
  model.dispose();
});

Deno.test("codes of digits and images of codes", async () => {
  await setupBackend("wasm", { quiet: true });
  const model = Autoencoder.create({ hidden: 6 }, 2);
  const digits = takeDigits(mnist.test, 1500);
  const { codes, labels, hidden } = await model.getEncRepresentation(digits);
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
