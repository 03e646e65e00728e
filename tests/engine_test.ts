import assert from "node:assert/strict";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import { TensorBatches } from "../lib/data/batches.ts";
import { fit, fitPopulation } from "../lib/fit.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { trainDigits } from "./_fixtures.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { requestAdapter } from "../lib/gpu/adapter.ts";
import { resolveEngine } from "../lib/train/engine.ts";

await setupBackend("wasm", { quiet: true });
const train = await trainDigits(256);
const validation = { ...train, count: 64, images: train.images.subarray(0, 64 * 784) };
const config = { hidden: 3, dropout: 0, lr: 3e-3, l2: 1e-4, seed: 5 };
const batches = () => TensorBatches.fromDigits(train, { batchSize: 32, seed: 5 });
const validationBatches = () =>
  TensorBatches.fromDigits(validation, { batchSize: 1000, shuffle: false });

/** Two epochs of `model` on the shared subset: the losses after each. */
async function twoEpochs(model: Autoencoder) {
  const [trainBatches, evaluation] = [batches(), validationBatches()];
  const { history } = await fit(model, {
    epochs: 2,
    train: trainBatches,
    validation: evaluation,
    label: model.engine,
  });
  trainBatches.dispose();
  evaluation.dispose();
  return history;
}

function assertClose(actual: number, expected: number, relative: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${what}: ${actual} vs ${expected}`,
  );
}

Deno.test("an Autoencoder on the fused engine trains as on tfjs, and hands its weights back", async () => {
  const tfjs = Autoencoder.create(config);
  const fused = Autoencoder.create(config);
  await fused.useEngine("fused");
  assert.equal(fused.engine, "fused");
  const expected = await twoEpochs(tfjs);
  const actual = await twoEpochs(fused);
  for (const [i, record] of actual.entries()) {
    assertClose(record.trainLoss, expected[i].trainLoss, 1e-3, `epoch ${i + 1} train loss`);
    assertClose(record.validationLoss!, expected[i].validationLoss!, 1e-3, `epoch ${i + 1} val`);
  }
  // the weights came back into the tfjs variables: evaluating on tfjs gives the fused engine's loss
  const evaluation = validationBatches();
  const fusedLoss = await fused.testEpoch(evaluation);
  await fused.useEngine("tfjs");
  assertClose(
    await fused.testEpoch(evaluation),
    fusedLoss,
    1e-5,
    "tfjs evaluation of fused weights",
  );
  evaluation.dispose();
  assert.equal(fused.steps, 16);
  tfjs.dispose();
  fused.dispose();
});

Deno.test("Adam's state moves with a model between engines, in PyTorch's layout", async () => {
  const switched = Autoencoder.create(config);
  const tfjs = Autoencoder.create(config);
  for (const model of [switched, tfjs]) {
    const trainBatches = batches();
    await model.trainEpoch(trainBatches);
    if (model === switched) await model.useEngine("fused");
    await model.trainEpoch(trainBatches);
    trainBatches.dispose();
  }
  const [actual, expected] = [await switched.getTrainingState(), await tfjs.getTrainingState()];
  assert.deepEqual([actual.steps, actual.epochs], [16, 2]);
  assert.deepEqual([expected.steps, expected.epochs], [16, 2]);
  for (const key of ["first", "second"] as const) {
    for (const [name, values] of Object.entries(expected.moments[key])) {
      const scale = Math.max(...values.map(Math.abs));
      const error = Math.max(
        ...actual.moments[key][name].map((value, i) => Math.abs(value - values[i])),
      );
      assert.ok(
        error <= 1e-4 * scale,
        `${name}: ${key} moments differ by ${error} (largest ${scale})`,
      );
    }
  }
  // and back: the tfjs engine goes on from the fused engine's moments
  await switched.useEngine("tfjs");
  assert.deepEqual(await switched.getTrainingState(), actual);
  switched.dispose();
  tfjs.dispose();
});

Deno.test("weights set on a model training on the fused engine reach the engine", async () => {
  const model = Autoencoder.create(config);
  await model.useEngine("fused");
  const other = Autoencoder.create({ ...config, seed: 99 });
  model.setWeights(await other.getWeights());
  const evaluation = validationBatches();
  const expected = await other.testEpoch(evaluation);
  assertClose(await model.testEpoch(evaluation), expected, 1e-5, "loss after setWeights");
  evaluation.dispose();
  model.dispose();
  other.dispose();
});

Deno.test("a population trains each of its models as a model trained alone would be", async () => {
  const configs = [config, { ...config, hidden: 5, lr: 1e-3, seed: 8 }];
  const { models, results } = await fitPopulation(configs, {
    epochs: 2,
    batchSize: 32,
    train,
    validation,
    label: "pair",
  });
  for (const [i, single] of configs.entries()) {
    const alone = Autoencoder.create(single);
    const [trainBatches, evaluation] = [
      TensorBatches.fromDigits(train, { batchSize: 32, seed: single.seed }),
      validationBatches(),
    ];
    const { history } = await fit(alone, {
      epochs: 2,
      train: trainBatches,
      validation: evaluation,
    });
    history.forEach((record, epoch) => {
      const together = results[i].history[epoch];
      assertClose(together.trainLoss, record.trainLoss, 1e-3, `model ${i} epoch ${epoch + 1}`);
      assertClose(together.validationLoss!, record.validationLoss!, 1e-3, `model ${i} val`);
    });
    assertClose(await models[i].testEpoch(evaluation), history[1].validationLoss!, 1e-3, "weights");
    assert.equal(models[i].config.hidden, single.hidden);
    [alone, models[i]].forEach((model) => model.dispose());
    [trainBatches, evaluation].forEach((batches) => batches.dispose());
  }
});

Deno.test("auto picks fused on a hardware adapter only; unknown engines are refused", async () => {
  const gpu = await requestAdapter();
  assert.equal(
    await resolveEngine("auto", { quiet: true }),
    gpu && !gpu.software ? "fused" : "tfjs",
  );
  assert.equal(await resolveEngine("tfjs", { quiet: true }), "tfjs");
  assert.equal(await resolveEngine("fused", { quiet: true }), "fused");
  await assert.rejects(resolveEngine("turbo" as "auto"), /unknown engine "turbo"/);
});

Deno.test("the fused engine trains a denoiser on (corrupted, clean) pairs as tfjs does", async () => {
  const clean = digitPixels(train);
  // noisy inputs on the 256 levels a byte holds, as the fused engine stores them
  const noisy = corrupt(clean, { kind: "noise", std: 0.3 }, 2).map((v) =>
    Math.round(v * 255) / 255
  );
  const losses: number[][] = [];
  for (const engine of ["tfjs", "fused"] as const) {
    const model = Autoencoder.create(config);
    await model.useEngine(engine);
    const pairs = new TensorBatches(noisy, { batchSize: 32, seed: 3, targets: clean });
    losses.push([await model.trainEpoch(pairs), await model.trainEpoch(pairs)]);
    pairs.dispose();
    model.dispose();
  }
  losses[1].forEach((loss, i) => assertClose(loss, losses[0][i], 1e-3, `denoiser epoch ${i + 1}`));
  // trained towards the clean targets: the second epoch's loss is below the first's
  assert.ok(losses[1][1] < losses[1][0]);
});
