/**
 * The fused engine's `Population` as a whole, on Mesa's software adapter and real MNIST digits: it
 * starts from and trains like the tfjs trainer (same seed, same batches), trains a denoiser, keeps
 * masked latent sizes exact, and fails clearly.
 */
import assert from "node:assert/strict";
import { DeviceLimitError, GpuContext } from "../lib/gpu/device.ts";
import { Population } from "../lib/gpu/population.ts";
import { createRng, normal } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { type Dataset, datasetOf } from "../lib/train/trainer.ts";
import {
  type AutoencoderJob,
  autoencoderJob,
  maxAbsDifference,
  testDigits,
  trainDigits,
} from "./_fixtures.ts";

// The tfjs reference runs on wasm: 25× faster than the cpu backend here, with the same float32 numbers.
const { backend } = await setupBackend("wasm", { quiet: true });

const BATCH = 8;
const train = await trainDigits(200);
const test = await testDigits(40);

function relativeDifference(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

function assertClose(actual: number, expected: number, relative: number, what: string) {
  assert.ok(
    relativeDifference(actual, expected) <= relative,
    `${what}: fused ${actual}, tfjs ${expected}`,
  );
}

/** The fused population of the one model of `job` (its settings, none of its data). */
function populationOf(job: AutoencoderJob): Promise<Population> {
  const { model, lr, l2, seed } = job;
  return Population.create({
    batchSize: BATCH,
    models: [{ hidden: model.hidden, dropout: model.dropout, lr, l2, seed }],
  });
}

Deno.test("a model starts from the tfjs trainer's weights and trains 50 steps like it", async () => {
  const job = autoencoderJob({
    train: datasetOf(train),
    test: datasetOf(test),
    seed: 5,
    lr: 2e-3,
    l2: 1e-4,
  });
  const trainer = new TfjsTrainer([job], { batchSize: BATCH, backend });
  const population = await populationOf(job);
  try {
    const expected = (await trainer.getState(0)).weights;
    const actual = await population.getWeights(0);
    assert.deepEqual(Object.keys(actual), Object.keys(expected));
    for (const name in expected) assert.deepEqual(actual[name], expected[name], name);

    const data = await population.upload(train.images);
    const testData = await population.upload(test.images);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) { // 2 × 25 steps, each epoch in the seed's epochOrder
      const [reference] = await trainer.trainEpoch();
      const [loss] = await population.trainEpoch(data);
      assertClose(loss, reference, 1e-3, `epoch ${epoch}`);
      losses.push(loss);
    }
    assert.equal(population.steps, 50);
    assert.equal(population.epochs, 2);
    assert.ok(losses[1] < losses[0], `the loss did not fall: ${losses}`);
    const [loss] = await population.evaluate(testData);
    const [reference] = await trainer.evaluate("test");
    assertClose(loss, reference!, 1e-3, "test loss");
    const [trained, referenceWeights] = [
      await population.getWeights(0),
      (await trainer.getState(0)).weights,
    ];
    for (const name in trained) {
      const difference = maxAbsDifference(trained[name], referenceWeights[name]);
      assert.ok(difference <= 1e-4, `${name} differs by ${difference} after 50 steps`);
    }
  } finally {
    population.destroy();
    await trainer.dispose();
  }
});

Deno.test("profiling times every training kernel and trains as an epoch does", async () => {
  const models = [{ hidden: 2, lr: 3e-3, dropout: 0.2, seed: 1 }, {
    hidden: 3,
    lr: 1e-3,
    seed: 2,
  }];
  const [profiled, trained] = await Promise.all(
    [0, 1].map(() => Population.create({ batchSize: BATCH, models })),
  );
  try {
    const images = train.images.subarray(0, 3 * BATCH * 784);
    const steps = 3;
    const times = await profiled.profileTraining(await profiled.upload(images), steps);
    await trained.trainEpoch(await trained.upload(images));
    // each kernel once per step, in the order the plan dispatches them, each taking some time
    assert.equal(times.length, 33);
    assert.equal(times[0].label, "forward encoder_cnn.0");
    assert.deepEqual(times.slice(-3).map(({ label }) => label), [
      "gradient sums",
      "adam",
      "finish step",
    ]);
    for (const { label, microseconds } of times) {
      assert.ok(microseconds > 0 && Number.isFinite(microseconds), `${label}: ${microseconds} µs`);
    }
    // the steps taken, in their own passes, are the epoch's steps
    assert.equal(profiled.steps, steps);
    for (const model of [0, 1]) {
      const [actual, expected] = [
        await profiled.getWeights(model),
        await trained.getWeights(model),
      ];
      for (const name in expected) assert.deepEqual(actual[name], expected[name], name);
    }
    await assert.rejects(profiled.profileTraining(await profiled.upload(images), 0), /positive/);
  } finally {
    profiled.destroy();
    trained.destroy();
  }
});

Deno.test("a denoiser maps corrupted inputs to clean targets as the tfjs trainer does", async () => {
  const rng = createRng(3);
  const noisy = train.images.map((v) =>
    Math.min(255, Math.max(0, Math.round(v + 60 * normal(rng))))
  );
  const pairs: Dataset = { inputs: noisy, targets: train.images, count: train.count };
  const job = autoencoderJob({ train: pairs, validation: pairs, seed: 9 });
  const trainer = new TfjsTrainer([job], { batchSize: BATCH, backend });
  const population = await populationOf(job);
  try {
    const data = await population.upload(noisy, train.images);
    const noisyOnly = await population.upload(noisy);
    assert.ok(data.denoising && !noisyOnly.denoising);
    const [[reference], [loss]] = [await trainer.trainEpoch(), await population.trainEpoch(data)];
    assertClose(loss, reference, 1e-3, "training loss");
    const [evaluated] = await population.evaluate(data);
    const [expected] = await trainer.evaluate("validation");
    assertClose(evaluated, expected!, 1e-3, "loss against the clean images");
    const [againstItself] = await population.evaluate(noisyOnly);
    assert.ok(relativeDifference(againstItself, evaluated) > 0.01, "targets made no difference");
  } finally {
    population.destroy();
    await trainer.dispose();
  }
});

Deno.test("a latent size masked inside a larger layout trains exactly as a model of that size", async () => {
  const small = { hidden: 3, lr: 2e-3, l2: 1e-4, dropout: 0.2, seed: 11 };
  const large = { hidden: 6, lr: 1e-3, l2: 0, dropout: 0.1, seed: 12 };
  const mixed = await Population.create({ batchSize: BATCH, models: [small, large] });
  const alone = [
    await Population.create({ batchSize: BATCH, models: [small] }),
    await Population.create({ batchSize: BATCH, models: [large] }),
  ];
  try {
    assert.equal(mixed.hiddenMax, 6);
    assert.equal(alone[0].hiddenMax, 3);
    const subset = train.images.subarray(0, 64 * 784);
    const mixedData = await mixed.upload(subset);
    const aloneData = await Promise.all(alone.map((population) => population.upload(subset)));
    for (let epoch = 0; epoch < 2; epoch++) {
      const losses = await mixed.trainEpoch(mixedData);
      for (const m of [0, 1]) {
        const [loss] = await alone[m].trainEpoch(aloneData[m]);
        assert.ok(
          relativeDifference(losses[m], loss) <= 1e-6,
          `model ${m}: ${losses[m]} vs ${loss}`,
        );
      }
    }
    for (const m of [0, 1]) {
      const [mixedWeights, aloneWeights] = [
        await mixed.getWeights(m),
        await alone[m].getWeights(0),
      ];
      for (const name in aloneWeights) {
        assert.ok(
          maxAbsDifference(mixedWeights[name], aloneWeights[name]) <= 1e-6,
          `${name} of ${m}`,
        );
      }
    }
  } finally {
    mixed.destroy();
    alone.forEach((population) => population.destroy());
  }
});

Deno.test("a population too large for the adapter is refused with the limit it exceeds", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  assert.ok(adapter);
  // The largest buffer holds the first layer's outputs: models × batch × 8 × 14 × 14 floats.
  const models = Math.ceil(adapter.limits.maxStorageBufferBindingSize / (256 * 1568 * 4)) + 1;
  const tooLarge = () =>
    Population.create({
      batchSize: 256,
      models: Array.from(
        { length: models },
        (_, seed) => ({ hidden: 4, lr: 1e-3, seed }),
      ),
    });
  await assert.rejects(
    tooLarge(),
    /needs maxStorageBufferBindingSize ≥ \d+ for the buffer of the outputs of encoder_cnn\.0.*fewer models/,
  );
  // a DeviceLimitError, which --engine auto answers by training on the CPU (see engine_test.ts)
  await assert.rejects(tooLarge(), DeviceLimitError);
});

Deno.test("settings the engine cannot train are refused", async () => {
  const model = { hidden: 4, lr: 1e-3, seed: 1 };
  for (
    const [options, message] of [
      [{ batchSize: 0, models: [model] }, /batch size/],
      [{ batchSize: 8, models: [] }, /at least one model/],
      [{ batchSize: 8, models: [{ ...model, dropout: 1 }] }, /dropout 1 is outside/],
      [{ batchSize: 8, models: [{ ...model, hidden: 0 }] }, /hidden 0/],
      [{ batchSize: 8, hiddenMax: 2, models: [model] }, /hidden 4 > hiddenMax 2/],
    ] as const
  ) {
    await assert.rejects(Population.create(options), message);
  }
});

Deno.test("no adapter, a lost device and a destroyed population each give a clear error", async () => {
  const gpu = navigator.gpu;
  const original = gpu.requestAdapter;
  Object.defineProperty(gpu, "requestAdapter", {
    value: () => Promise.resolve(null),
    configurable: true,
  });
  try {
    await assert.rejects(
      Population.create({ batchSize: 8, models: [{ hidden: 4, lr: 1e-3, seed: 1 }] }),
      /no WebGPU adapter could be had/,
    );
  } finally {
    Object.defineProperty(gpu, "requestAdapter", { value: original, configurable: true });
  }

  const context = await GpuContext.create([], "a test");
  const buffer = await context.createBuffer("test", 16);
  context.device.destroy(); // as a driver reset would
  await assert.rejects(context.read(buffer, 0, 16), /device of the fused engine was lost/);
  assert.throws(() => context.check(), /was lost/);

  const population = await Population.create({
    batchSize: 8,
    models: [{ hidden: 4, lr: 1e-3, seed: 1 }],
  });
  const data = await population.upload(train.images.subarray(0, 8 * 784));
  population.destroy();
  await assert.rejects(population.trainEpoch(data), /destroyed/);
  await assert.rejects(population.getWeights(0), /destroyed/);
});
