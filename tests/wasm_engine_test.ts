/**
 * aelab's WebAssembly engine against tfjs, on real MNIST digits: every kernel's gradients (each
 * parameter's, which the input gradients of the layers after it feed) and the loss of a step with dropout
 * on a short batch, Adam's update, evaluation, a few epochs of training (each epoch's test loss within 2%
 * of tfjs wasm's), a denoiser, state handed out and back, and how `createTrainer` takes a model the engine
 * does not train.
 */
import assert from "node:assert/strict";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import type { Pixels } from "../lib/data/batches.ts";
import { tf } from "../lib/deps.ts";
import { initialWeights, layerSpecs, type Weights } from "../lib/model/architecture.ts";
import { imagesTensor } from "../lib/model/images.ts";
import { Network } from "../lib/model/network.ts";
import type { ModelSpec } from "../lib/model/spec.ts";
import { createRng, DropoutStream } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { chooseEngine, createTrainer } from "../lib/train/engine.ts";
import { fit } from "../lib/train/fit.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { datasetOf } from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import { WorkerPool } from "../lib/train/workers.ts";
import { type Kernels, loadKernels } from "../lib/wasm/kernels.ts";
import { WasmPopulation } from "../lib/wasm/population.ts";
import {
  assertUsageError,
  autoencoderJob,
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
 * tfjs's loss and gradients (PyTorch layouts) of the autoencoder `weights` of latent size `hidden` on the
 * images `indices` of `inputs`, under dropout `masks` (one per dropout layer), against those of `targets`
 * or the inputs.
 */
function tfjsGradients(
  hidden: number,
  weights: Weights,
  data: { inputs: Pixels; targets?: Pixels },
  indices: number[],
  masks: Float32Array[],
): { loss: number; grads: Weights } {
  const network = new Network(layerSpecs(hidden), weights);
  const dropout = layerSpecs(hidden).filter((layer) => layer.dropout);
  const result = tf.tidy(() => {
    const x = imagesTensor(data.inputs, indices);
    const y = data.targets ? imagesTensor(data.targets, indices) : x;
    const maskTensors = new Map(
      dropout.map((layer, k) => [
        layer.name,
        tf.tensor2d(masks[k], [indices.length, layer.outputs]),
      ]),
    );
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.squaredDifference(network.forward(x, undefined, maskTensors), y)),
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
  const hidden = 3;
  const dropout = 0.3;
  const l2 = 1e-3;
  // 21 images: a batch shorter than the lanes the kernels run (the rest must not count)
  const indices = Array.from({ length: 21 }, (_, i) => (i * 7) % 200);
  const weights = initialWeights(hidden, createRng(3));
  const stream = new DropoutStream(9, 0);
  const masks = [stream.mask(21, 64, dropout), stream.mask(21, 64, dropout)];
  const noisy = corrupt(digitPixels(digits), { kind: "noise", std: 0.2 }, 4);
  // an autoencoder, and a denoiser: the noisy images in, the clean ones the target
  const cases = [kernels, plain].flatMap((build) =>
    [{ inputs: digits.images }, { inputs: noisy, targets: digits.images }].map((data) => ({
      build,
      data,
    }))
  );
  for (const { build, data } of cases) {
    const population = new WasmPopulation(build, [{ hidden, dropout, l2, seed: 3 }], 32);
    population.loadBatch(data.inputs, data.targets, indices);
    population.loadMasks(0, masks);
    const lr = 1e-2;
    const loss = population.step(0, lr, 1);
    const expected = tfjsGradients(hidden, weights, data, indices, masks);
    assert.ok(Math.abs(loss - expected.loss) <= 1e-5 * expected.loss, `${loss} ${expected.loss}`);
    const grads = population.getGradients(0);
    for (const [name, reference] of Object.entries(expected.grads)) {
      const error = relativeError(grads[name], reference);
      assert.ok(error < 1e-4, `${name}: relative error ${error}`);
    }
    // Adam's first step from zero moments, on the engine's own gradients (checked above):
    // w − lr · (g + λw) / (|g + λw| + ε)
    const updated = population.getWeights(0);
    for (const [name, w] of Object.entries(weights)) {
      const g = grads[name].map((value, i) => value + l2 * w[i]);
      const step = w.map((value, i) => value - lr * g[i] / (Math.abs(g[i]) + 1e-8));
      const error = maxAbsDifference(updated[name], step);
      assert.ok(error < 1e-6, `${name}: Adam's step off by ${error}`);
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

Deno.test("a classifier is an error under --engine wasm and trains on tfjs (or its workers) under auto", async () => {
  const job = autoencoderJob({ train, hidden: 4 });
  const classifier = {
    ...job,
    name: "a classifier",
    model: { kind: "classifier", dropout: 0 } as ModelSpec,
  };
  const asked = await chooseEngine("wasm", { backend: wasm, quiet: true });
  assert.equal(asked.engine, "wasm");
  const trainer = await createTrainer(asked, [job], { batchSize: 32 });
  assert.ok(trainer instanceof WasmTrainer, trainer.description);
  assert.match(trainer.description, /^aelab wasm \((relaxed )?SIMD\) in this thread$/);
  await assertUsageError(
    createTrainer(asked, [job, classifier], { batchSize: 32 }),
    /^the wasm engine trains autoencoders only, not a classifier$/,
  );
  const lines: string[] = [];
  const print = console.error;
  console.error = (...data: unknown[]) => lines.push(data.join(" "));
  try {
    const fallback = await createTrainer({ ...asked, auto: true }, [classifier], {
      batchSize: 32,
    });
    assert.ok(fallback instanceof TfjsTrainer);
    await fallback.dispose();
    // where auto chose a pool of wasm workers, the pool of tfjs workers
    const pool = await createTrainer({ ...asked, auto: true, workers: 2 }, [classifier], {
      batchSize: 32,
    });
    assert.ok(pool instanceof WorkerPool);
    assert.equal(pool.description, "1 worker, tfjs wasm each");
    await pool.dispose();
  } finally {
    console.error = print;
  }
  assert.deepEqual(lines, [
    "engine: the wasm engine trains autoencoders only, not a classifier; tfjs wasm in this thread " +
    "trains instead",
    "engine: the wasm engine trains autoencoders only, not a classifier; a pool of tfjs wasm workers " +
    "trains instead",
  ]);
});
