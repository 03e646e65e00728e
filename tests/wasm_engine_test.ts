/**
 * aelab's WebAssembly engine against tfjs, on real MNIST digits: every kernel's gradients (each
 * parameter's, which the input gradients of the layers after it feed) and the loss of a step with dropout
 * on a short batch, Adam's update, evaluation, a few epochs of training (each epoch's test loss within 2%
 * of tfjs wasm's), a denoiser, the digit classifier (its cross-entropy, gradients, epochs and logits), state
 * handed out and back, and what `createTrainer` builds for it.
 */
import assert from "node:assert/strict";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import { tf } from "../lib/deps.ts";
import { initialWeightsOf, type Weights } from "../lib/model/architecture.ts";
import { imagesTensor } from "../lib/model/images.ts";
import { Network } from "../lib/model/network.ts";
import { modelLayers, type ModelSpec } from "../lib/model/spec.ts";
import { createRng, DropoutStream } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { chooseEngine, createTrainer } from "../lib/train/engine.ts";
import { fit } from "../lib/train/fit.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { datasetOf, type TrainingJob } from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import { WorkerPool } from "../lib/train/workers.ts";
import { type Kernels, loadKernels } from "../lib/wasm/kernels.ts";
import { WasmInference } from "../lib/wasm/inference.ts";
import { type BatchSource, WasmPopulation } from "../lib/wasm/population.ts";
import {
  autoencoderJob,
  classifierJob,
  maxAbsDifference,
  testDigits,
  trainDigits,
  trainerStates,
} from "./_fixtures.ts";

const loaded = await loadKernels();
assert.ok(typeof loaded !== "string", String(loaded));
const kernels: Kernels = loaded;
/** The plain SIMD build, which runtimes without relaxed SIMD run. */
const plain: Kernels = {
  module: await WebAssembly.compile(
    await Deno.readFile(new URL("../lib/wasm/kernels_plain.wasm", import.meta.url)),
  ),
  relaxed: false,
  name: "SIMD",
};
const wasm = await setupBackend("wasm", { quiet: true });
const digits = await trainDigits(512);
const train = datasetOf(digits);
const test = datasetOf(await testDigits(256));

/** The largest difference between `actual` and `expected` relative to `expected`'s largest magnitude. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  const scale = expected.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
  return maxAbsDifference(actual, expected) / scale;
}

/**
 * tfjs's loss and gradients (PyTorch layouts) of the model `spec` of `weights` on the images `indices` of
 * `data`, under dropout `masks` (one per dropout layer): an autoencoder's mean squared error against the
 * targets or the inputs, a classifier's mean softmax cross-entropy against the labels.
 */
function tfjsGradients(
  spec: ModelSpec,
  weights: Weights,
  data: BatchSource,
  indices: number[],
  masks: Float32Array[],
): { loss: number; grads: Weights } {
  const network = new Network(modelLayers(spec), weights);
  const dropout = modelLayers(spec).filter((layer) => layer.dropout);
  const result = tf.tidy(() => {
    const x = imagesTensor(data.inputs, indices);
    const loss = (output: tf.Tensor) => {
      if (spec.kind === "autoencoder") {
        return tf.mean(
          tf.squaredDifference(output, data.targets ? imagesTensor(data.targets, indices) : x),
        );
      }
      const labels = tf.tensor1d(Int32Array.from(indices, (i) => data.labels![i]), "int32");
      const onehot = tf.oneHot(labels, 10);
      return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(output as tf.Tensor2D)), 1)));
    };
    const maskTensors = new Map(
      dropout.map((layer, k) => [
        layer.name,
        tf.tensor2d(masks[k], [indices.length, layer.outputs]),
      ]),
    );
    const { value, grads } = tf.variableGrads(
      () => loss(network.forward(x, undefined, maskTensors)) as tf.Scalar,
      network.variables,
    );
    const flat = tf.concat(network.variables.map((v) => grads[v.name].reshape([-1])));
    return { loss: value.dataSync()[0], flat: flat.dataSync() as Float32Array };
  });
  const grads = network.unflatten(result.flat);
  network.dispose();
  return { loss: result.loss, grads };
}

Deno.test("each kernel's gradients, the loss and Adam's step match tfjs's, with dropout, on a short batch, in both builds", () => {
  const dropout = 0.3;
  const l2 = 1e-3;
  // 21 images: a batch shorter than the lanes the kernels run (the rest must not count)
  const indices = Array.from({ length: 21 }, (_, i) => (i * 7) % 200);
  const stream = new DropoutStream(9, 0);
  const noisy = corrupt(digitPixels(digits), { kind: "noise", std: 0.2 }, 4);
  const autoencoder: ModelSpec = { kind: "autoencoder", hidden: 3, dropout };
  const classifier: ModelSpec = { kind: "classifier", dropout };
  // an autoencoder, a denoiser (the noisy images in, the clean ones the target), and the classifier
  // (its stride-1 convolution, logits and cross-entropy)
  const models: { spec: ModelSpec; data: BatchSource }[] = [
    { spec: autoencoder, data: { inputs: digits.images } },
    { spec: autoencoder, data: { inputs: noisy, targets: digits.images } },
    { spec: classifier, data: { inputs: digits.images, labels: digits.labels } },
  ];
  const cases = [kernels, plain].flatMap((build) => models.map((model) => ({ build, ...model })));
  for (const { build, spec, data } of cases) {
    const weights = initialWeightsOf(modelLayers(spec), createRng(3));
    const masks = modelLayers(spec).filter((layer) => layer.dropout).map((layer) =>
      stream.mask(21, layer.outputs, dropout)
    );
    const population = new WasmPopulation(build, [{ spec, l2, seed: 3 }], 32);
    population.loadBatch(data, indices);
    population.loadMasks(0, masks);
    const lr = 1e-2;
    const loss = population.step(0, lr, 1);
    const expected = tfjsGradients(spec, weights, data, indices, masks);
    assert.ok(Math.abs(loss - expected.loss) <= 1e-5 * expected.loss, `${loss} ${expected.loss}`);
    const grads = population.getGradients(0);
    for (const [name, reference] of Object.entries(expected.grads)) {
      const error = relativeError(grads[name], reference);
      assert.ok(error < 1e-4, `${name}: relative error ${error}`);
    }
    // Adam's first step from zero moments, on the engine's own gradients (checked above):
    // w − lr · (g + λw) / (|g + λw| + ε). Where g and λw nearly cancel, that ratio turns on how
    // float32 rounded their sum, so there the step need only stay within lr.
    const updated = population.getWeights(0);
    for (const [name, w] of Object.entries(weights)) {
      const g = grads[name].map((value, i) => value + l2 * w[i]);
      const step = w.map((value, i) => value - lr * g[i] / (Math.abs(g[i]) + 1e-8));
      const errors = step.map((value, i) => Math.abs(updated[name][i] - value));
      const error = Math.max(...errors.filter((_, i) => Math.abs(g[i]) > 1e-6));
      assert.ok(error < 1e-6, `${name}: Adam's step off by ${error}`);
      assert.ok(errors.every((e) => e <= lr), `${name}: a step past lr`);
    }
  }
});

Deno.test("evaluation without dropout gives tfjs's loss; more models than one keep apart", async () => {
  const jobs = [
    autoencoderJob({ train, test, hidden: 2, dropout: 0.2, seed: 4 }),
    autoencoderJob({ train, test, hidden: 6, seed: 7 }),
  ];
  const ours = new WasmTrainer(kernels, jobs, { batchSize: 100 });
  const tfjs = new TfjsTrainer(jobs, { batchSize: 100, backend: wasm.backend });
  const [actual, expected] = [await ours.evaluate("test"), await tfjs.evaluate("test")];
  actual.forEach((loss, i) => assert.ok(Math.abs(loss! - expected[i]!) < 1e-5 * expected[i]!));
  assert.deepEqual(await ours.evaluate("validation"), [null, null]);
  await tfjs.dispose();
});

Deno.test("three epochs on MNIST: each epoch's test loss within 2% of tfjs wasm's, a denoiser's too", async () => {
  const noisy = corrupt(digitPixels(digits), { kind: "noise", std: 0.2 }, 2);
  const jobs = [
    autoencoderJob({ train, test, hidden: 4, dropout: 0.1, lr: 3e-3, l2: 1e-5, seed: 1 }),
    autoencoderJob({
      train: { ...train, inputs: noisy, targets: train.inputs },
      test,
      hidden: 3,
      lr: 2e-3,
      lrDecay: 0.9,
      seed: 2,
    }),
  ];
  const ours = await fit(new WasmTrainer(kernels, jobs, { batchSize: 64 }), {
    epochs: 3,
    label: "wasm",
  });
  const tfjs = new TfjsTrainer(jobs, { batchSize: 64, backend: wasm.backend });
  const reference = await fit(tfjs, { epochs: 3, label: "tfjs" });
  await tfjs.dispose();
  ours.forEach(({ history }, i) => {
    assert.equal(history.length, 3);
    history.forEach((record, e) => {
      const expected = reference[i].history[e];
      const what = `model ${i} epoch ${e + 1}: ${record.testLoss} vs ${expected.testLoss}`;
      assert.ok(Math.abs(record.testLoss! - expected.testLoss!) <= 0.02 * expected.testLoss!, what);
      assert.ok(Math.abs(record.trainLoss - expected.trainLoss) <= 0.02 * expected.trainLoss, what);
    });
    // and it learnt: the loss of the third epoch is well below the first's
    assert.ok(history[2].testLoss! < 0.9 * history[0].testLoss!);
  });
});

Deno.test("state handed out and taken back trains on to the same numbers, also on tfjs", async () => {
  const job = autoencoderJob({ train, test, hidden: 4, dropout: 0.1, lr: 3e-3, seed: 6 });
  const first = new WasmTrainer(kernels, [job], { batchSize: 128 });
  await first.trainEpoch();
  const [state] = await trainerStates(first);
  assert.equal(state.epochs, 1);
  assert.equal(state.steps, 4);
  const second = new WasmTrainer(kernels, [job], { batchSize: 128 });
  await second.setState(0, state);
  assert.deepEqual(await trainerStates(second), [state]);
  // both train the second epoch to the same bytes
  assert.deepEqual(await second.trainEpoch(), await first.trainEpoch());
  assert.deepEqual(await trainerStates(second), await trainerStates(first));
  // tfjs takes the state (weights and moments in PyTorch's layout) and measures the same loss
  const tfjs = new TfjsTrainer([job], { batchSize: 128, backend: wasm.backend });
  await tfjs.setState(0, state);
  const [expected] = await tfjs.evaluate("test");
  await second.setState(0, state);
  const [actual] = await second.evaluate("test");
  assert.ok(Math.abs(actual! - expected!) < 1e-5 * expected!);
  await tfjs.dispose();
});

/** A classifier's training job on the labelled digits, as `classify` trains it. */
function classifyJob(seed = 1): TrainingJob {
  const settings = { name: "the classifier", lr: 3e-3, lrDecay: 0.5, seed, train, test };
  return classifierJob({ ...settings, model: { kind: "classifier", dropout: 0.25 } });
}

Deno.test("the classifier on MNIST: each epoch's losses within 2% of tfjs wasm's, and its logits and readings tfjs's", async () => {
  const jobs = [classifyJob()];
  const ours = new WasmTrainer(kernels, jobs, { batchSize: 64 });
  const history = await fit(ours, { epochs: 3, label: "wasm" });
  const tfjs = new TfjsTrainer(jobs, { batchSize: 64, backend: wasm.backend });
  const reference = await fit(tfjs, { epochs: 3, label: "tfjs" });
  await tfjs.dispose();
  history[0].history.forEach((record, e) => {
    const expected = reference[0].history[e];
    const what = `epoch ${e + 1}: ${record.testLoss} vs ${expected.testLoss}`;
    assert.ok(Math.abs(record.testLoss! - expected.testLoss!) <= 0.02 * expected.testLoss!, what);
    assert.ok(Math.abs(record.trainLoss - expected.trainLoss) <= 0.02 * expected.trainLoss, what);
  });
  // it learnt: from ln 10 ≈ 2.3 to well under a third of it
  assert.ok(history[0].history[2].testLoss! < 0.75, `${history[0].history[2].testLoss}`);
  // The trained weights' logits and readings of the test digits, in the engine and in tfjs.
  const { weights } = await ours.getState(0);
  const population = new WasmPopulation(kernels, [{ spec: jobs[0].model, l2: 0, seed: 1 }], 256);
  population.setWeights(0, weights);
  population.loadBatch(test, Array.from({ length: test.count }, (_, i) => i));
  const logits = population.outputs(0);
  const network = new Network(modelLayers(jobs[0].model), weights);
  const expected = tf.tidy(() =>
    network.forward(imagesTensor(test.inputs)).dataSync() as Float32Array
  );
  network.dispose();
  const error = relativeError(logits, expected);
  assert.ok(error < 1e-5, `logits off by ${error} of the largest`);
  const reading = (values: Float32Array, b: number) => {
    const row = values.subarray(b * 10, b * 10 + 10);
    return row.indexOf(Math.max(...row));
  };
  const differ = Array.from({ length: test.count }, (_, b) => b)
    .filter((b) => reading(logits, b) !== reading(expected, b));
  assert.ok(differ.length <= 1, `${differ.length} of ${test.count} readings differ`);
});

Deno.test("an autoencoder's outputs are tfjs's reconstructions, pixel after pixel", () => {
  const spec: ModelSpec = { kind: "autoencoder", hidden: 4, dropout: 0.2 };
  const weights = initialWeightsOf(modelLayers(spec), createRng(5));
  const population = new WasmPopulation(kernels, [{ spec, l2: 0, seed: 5 }], 64);
  const indices = Array.from({ length: 37 }, (_, i) => i * 3);
  population.loadBatch(test, indices);
  const network = new Network(modelLayers(spec), weights);
  const expected = tf.tidy(() =>
    network.forward(imagesTensor(test.inputs, indices)).dataSync() as Float32Array
  );
  network.dispose();
  const error = relativeError(population.outputs(0), expected);
  assert.ok(error < 1e-5, `reconstructions off by ${error} of the largest pixel`);
});

Deno.test("under --engine wasm the classifier trains in this thread, or data-parallel on a pool; one population holds one kind", async () => {
  const job = classifyJob(3);
  const asked = await chooseEngine("wasm", { backend: wasm, quiet: true });
  const local = await createTrainer(asked, [job], { batchSize: 64 });
  assert.ok(local instanceof WasmTrainer, local.description);
  const pool = await createTrainer({ ...asked, workers: 2 }, [job], {
    batchSize: 64,
    dataParallel: true,
  });
  try {
    assert.ok(pool instanceof WorkerPool);
    assert.equal(pool.description, `2 workers data-parallel, aelab wasm (${kernels.name}) each`);
    // Each worker a slice of every batch, the gradients summed: one thread's losses, up to the order
    // of the sums.
    const [ours, theirs] = [await pool.trainEpoch(), await local.trainEpoch()];
    assert.ok(Math.abs(ours[0] - theirs[0]) <= 1e-5 * theirs[0], `${ours[0]} vs ${theirs[0]}`);
    const [test1, test2] = [await pool.evaluate("test"), await local.evaluate("test")];
    assert.ok(Math.abs(test1[0]! - test2[0]!) <= 1e-4 * test2[0]!, `${test1[0]} vs ${test2[0]}`);
  } finally {
    await Promise.all([local.dispose(), pool.dispose()]);
  }
  assert.throws(
    () => new WasmTrainer(kernels, [autoencoderJob({ train }), job], { batchSize: 32 }),
    /^RangeError: a population holds models of one kind, got autoencoder, classifier$/,
  );
});

Deno.test("inference on the wasm workers: a model the workers cannot hold fails in one line naming the worker, and the pool stays failed", async () => {
  const inference = WasmInference.create(2);
  try {
    const spec: ModelSpec = { kind: "autoencoder", hidden: 4, dropout: 0 };
    const weights = initialWeightsOf(modelLayers(spec), createRng(1));
    const broken = {
      spec,
      getWeights: () => Promise.resolve({ ...weights, "decoder_conv.4.bias": new Float32Array(3) }),
    };
    const message =
      /^Error: inference worker [12] of 2 failed \(decoder_conv\.4\.bias: expected 1 values, got 3\)$/;
    await assert.rejects(inference.outputs(broken, test.inputs), message);
    const sound = { spec, getWeights: () => Promise.resolve(weights) };
    await assert.rejects(inference.outputs(sound, test.inputs), message);
  } finally {
    inference.dispose();
  }
});
