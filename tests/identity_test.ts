import assert from "node:assert/strict";
import { join } from "node:path";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import {
  confusionMatrix,
  describeReadings,
  identityFinding,
  identityShare,
  lossCurves,
  measureIdentity,
  writeIdentityResults,
} from "../lib/experiments/identity.ts";
import {
  corruptionAt,
  type RobustnessSettings,
  testLosses,
} from "../lib/experiments/robustness.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { Classifier } from "../lib/model/classifier_model.ts";
import { averageLoss, meanLoss, perImageLoss, reconstructPixels } from "../lib/predict.ts";
import { createRng, shuffleInPlace } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { chooseEngine, createInference } from "../lib/train/engine.ts";
import { TFJS_INFERENCE } from "../lib/train/inference.ts";
import { type Dataset, datasetOf, type TrainingJob } from "../lib/train/trainer.ts";
import { WorkerPool } from "../lib/train/workers.ts";
import { testDigits, trainDigits } from "./_fixtures.ts";

const backend = await setupBackend("wasm", { quiet: true });
const test = await testDigits(500);
const digits = { pixels: digitPixels(test), labels: test.labels };
const settings: RobustnessSettings = {
  model: "model.safetensors",
  classifier: "classifier.safetensors",
  corruptions: { noise: corruptionAt("noise", 0.2), occlusion: corruptionAt("occlusion", 10) },
  levels: { noise: [0, 0.2, 0.5, 1], occlusion: [0, 10, 28] },
};

/**
 * An autoencoder (6,000 digits), a classifier and a classifier trained on shuffled labels (2,000 digits),
 * trained together for 3 epochs by two workers, once per test process.
 */
const trained = (async () => {
  const [many, few] = [datasetOf(await trainDigits(6000)), datasetOf(await trainDigits(2000))];
  const shuffled = shuffleInPlace(Uint8Array.from(few.labels!), createRng(1));
  const job = (name: string, model: TrainingJob["model"], lr: number, train: Dataset) => ({
    name,
    model,
    lr,
    l2: 0,
    seed: 1,
    train,
  });
  const classifier = { kind: "classifier", dropout: 0 } as const;
  const jobs = [
    job("autoencoder", { kind: "autoencoder", hidden: 4, dropout: 0 }, 1e-3, many),
    job("classifier", classifier, 2e-3, few),
    job("mislabelled classifier", classifier, 2e-3, { ...few, labels: shuffled }),
  ];
  const pool = await WorkerPool.create(jobs, {
    batchSize: 32,
    trainer: { engine: "tfjs", backend: "wasm" },
    workers: 2,
  });
  for (let epoch = 0; epoch < 3; epoch++) await pool.trainEpoch();
  const states = await Promise.all(jobs.map((_, i) => pool.getState(i)));
  await pool.dispose();
  return {
    standard: {
      name: "standard",
      model: Autoencoder.fromWeights({ hidden: 4, dropout: 0 }, states[0].weights),
    },
    classifier: Classifier.fromWeights({ dropout: 0 }, states[1].weights),
    mislabelled: Classifier.fromWeights({ dropout: 0 }, states[2].weights),
  };
})();

/**
 * The identity of the trained autoencoder's reconstructions, read by the trained classifier, with the
 * losses and reconstructions measured beside it.
 */
const scored = (async () => {
  const { standard, classifier } = await trained;
  return await measureIdentity([standard], classifier, digits, settings, 3, TFJS_INFERENCE);
})();

Deno.test("identity shares and confusion matrices count what they should", () => {
  const labels = Uint8Array.of(4, 4, 7, 1);
  const readings = Uint8Array.of(4, 9, 7, 7);
  assert.equal(identityShare(readings, labels), 0.5);
  const matrix = confusionMatrix(labels, readings);
  assert.equal(matrix[4][9], 1);
  assert.equal(matrix[1][7], 1);
  assert.equal(matrix.flat().reduce((a, b) => a + b), 4);
  assert.equal(describeReadings(labels, readings, [1, 2]), "4 → 9, 7 → 7");
  assert.throws(() => identityShare(readings, labels.subarray(1)), /4 readings of 3 labels/);
});

Deno.test("at zero corruption, identity is the classifier's accuracy on plain reconstructions, the baseline its accuracy", async () => {
  const { classifier, standard } = await trained;
  const { identity } = await scored;
  const reconstructed = await classifier.predict(
    await reconstructPixels(standard.model, digits.pixels),
  );
  assert.equal(identity.ceiling.standard, identityShare(reconstructed, test.labels));
  const accuracy = identityShare(await classifier.predict(digits.pixels), test.labels);
  assert.equal(identity.classifierAccuracy, accuracy);
  assert.ok(accuracy > 0.85, `classifier accuracy ${accuracy}`);
  for (const curve of identity.curves) {
    assert.equal(curve.identity.standard[0], identity.ceiling.standard, curve.kind);
    assert.equal(curve.baseline[0], accuracy, curve.kind);
  }
  // far above chance (0.1): the briefly trained model's reconstructions keep many digits
  assert.ok(identity.ceiling.standard > 0.35, `ceiling ${identity.ceiling.standard}`);
});

Deno.test("on the wasm engine's workers, the classifier reads digits and the model reconstructs them as on tfjs: the same identity and losses", async () => {
  const { classifier, standard } = await trained;
  const tfjs = await createInference(await chooseEngine("tfjs", { backend, quiet: true }));
  assert.equal(tfjs.description, "tfjs wasm in this thread");
  const wasm = await chooseEngine("wasm", { backend, workers: 2, quiet: true });
  const inference = await createInference(wasm);
  try {
    assert.equal(inference.description, "aelab wasm on 2 workers");
    const noisy = corrupt(digits.pixels, { kind: "noise", std: 0.5 }, 3);
    const reconstructed = await reconstructPixels(standard.model, digits.pixels);
    for (const [what, pixels] of Object.entries({ test: test.images, noisy, reconstructed })) {
      const ours = await inference.readDigits(classifier, pixels);
      const theirs = await classifier.predict(pixels);
      assert.equal(ours.length, test.count);
      const differ = ours.filter((reading, i) => reading !== theirs[i]).length;
      assert.ok(differ <= 1, `${what}: ${differ} of ${test.count} readings differ`);
    }
    const ours = await inference.reconstruct(standard.model, noisy);
    const theirs = await reconstructPixels(standard.model, noisy);
    const gap = ours.reduce((max, value, i) => Math.max(max, Math.abs(value - theirs[i])), 0);
    assert.ok(gap < 1e-5, `reconstructions ${gap} apart`);
    const measured = await measureIdentity([standard], classifier, digits, settings, 3, inference);
    const expected = await scored;
    assert.equal(measured.identity.classifierAccuracy, expected.identity.classifierAccuracy);
    measured.identity.curves.forEach((curve, k) => {
      const reference = expected.identity.curves[k];
      curve.identity.standard.forEach((share, level) => {
        const gap = Math.abs(share - reference.identity.standard[level]);
        assert.ok(gap <= 0.004, `${curve.kind} level ${level}: identity ${share}`);
        const [loss, tfjsLoss] = [curve.losses.standard[level], reference.losses.standard[level]];
        assert.ok(
          Math.abs(loss - tfjsLoss) <= 1e-5 * tfjsLoss,
          `${curve.kind} level ${level}: loss`,
        );
      });
    });
  } finally {
    inference.dispose();
  }
});

Deno.test("identity falls as the noise grows, and an image blanked out keeps the digit of chance", async () => {
  const { identity } = await scored;
  const [noise, occlusion] = identity.curves;
  const kept = noise.identity.standard;
  assert.ok(kept[3] < kept[0] - 0.2, `identity over noise ${kept}`);
  assert.ok(kept[2] < kept[0] && kept[3] < kept[1], `identity over noise ${kept}`);
  // Every blank image comes back as the same digit: identity is that digit's share of the test set.
  const blank = occlusion.identity.standard.at(-1)!;
  assert.ok(blank < 0.2, `identity with the whole image occluded ${blank}`);
  const shares = Array.from(
    { length: 10 },
    (_, d) => test.labels.filter((l) => l === d).length / 500,
  );
  assert.ok(shares.some((share) => Math.abs(share - blank) < 1e-9), `${blank} is no digit's share`);
  // The figures' corruption: its confusion matrix holds every test digit, its diagonal the identity.
  const [atNoise] = identity.at;
  assert.equal(atNoise.identity.standard, kept[1]);
  assert.equal(atNoise.baseline, noise.baseline[1]);
  const matrix = atNoise.confusion.standard;
  assert.equal(matrix.flat().reduce((a, b) => a + b), 500);
  assert.equal(matrix.reduce((sum, row, d) => sum + row[d], 0) / 500, kept[1]);
  assert.deepEqual(Object.keys(atNoise.confusion), ["the input itself", "standard"]);
});

Deno.test("the loss curves come from the same reconstructions: at each level, the model's test loss there", async () => {
  const { standard, classifier } = await trained;
  const { identity } = await scored;
  for (const curve of identity.curves) {
    assert.deepEqual(Object.keys(curve.losses), ["standard"]);
    for (const [i, level] of curve.levels.entries()) {
      const corruption = corruptionAt(curve.kind, level);
      assert.deepEqual(
        [curve.losses.standard[i]],
        await testLosses([standard], digits.pixels, corruption, 3),
        `${curve.kind} ${level}`,
      );
    }
  }
  // level 0 is the plain test loss, losses grow with the noise, and an image occluded whole is a black
  // input scored against the clean digit
  const [noise, occlusion] = lossCurves(identity);
  assert.deepEqual(Object.keys(noise), ["kind", "levels", "losses"]);
  assert.equal(noise.losses.standard[0], await meanLoss(standard.model, digits.pixels));
  assert.ok(noise.losses.standard[3] > noise.losses.standard[1] + 0.01, `${noise.losses.standard}`);
  const black = new Float32Array(digits.pixels.length);
  assert.equal(
    occlusion.losses.standard.at(-1),
    await meanLoss(standard.model, black, digits.pixels),
  );
  // every model sees the same corrupted images: beside another model, the same numbers
  const untrained = { name: "untrained", model: Autoencoder.create({}, 5) };
  const { identity: both } = await measureIdentity(
    [standard, untrained],
    classifier,
    digits,
    settings,
    3,
    TFJS_INFERENCE,
  );
  both.curves.forEach((curve, i) => {
    assert.deepEqual(curve.losses.standard, identity.curves[i].losses.standard);
    assert.notDeepEqual(curve.losses.untrained, curve.losses.standard);
  });
  untrained.model.dispose();
});

Deno.test("the clean loss and the figures' reconstructions come from the same reading", async () => {
  const { standard, classifier } = await trained;
  const { cleanLosses, at } = await scored;
  assert.deepEqual(
    [cleanLosses.standard],
    await testLosses([standard], digits.pixels, null, 3),
  );
  assert.deepEqual(at.map(({ corruption }) => corruption), [
    settings.corruptions.noise,
    settings.corruptions.occlusion,
  ]);
  for (const { corruption, inputs, models } of at) {
    const { pixels, losses, readings } = models.standard;
    assert.deepEqual(inputs, corrupt(digits.pixels, corruption, 3));
    assert.deepEqual(pixels, await reconstructPixels(standard.model, inputs));
    assert.deepEqual(losses, await perImageLoss(standard.model, inputs, digits.pixels));
    assert.deepEqual(
      [averageLoss(losses)],
      await testLosses([standard], digits.pixels, corruption, 3),
    );
    assert.deepEqual(readings, await classifier.predict(pixels));
  }
});

Deno.test("a classifier trained on shuffled labels scores reconstructions at chance", async () => {
  const { standard, mislabelled } = await trained;
  const { identity } = await measureIdentity(
    [standard],
    mislabelled,
    digits,
    settings,
    3,
    TFJS_INFERENCE,
  );
  const scores = [
    identity.classifierAccuracy,
    identity.ceiling.standard,
    ...identity.at.flatMap((at) => [at.baseline, at.identity.standard]),
  ];
  const { identity: trustworthy } = await scored;
  // Chance is 0.1 where the reading is unrelated to the digit (somewhat more where the readings and
  // the digits are both skewed to a few classes); the same scores with the trained classifier are far
  // above it.
  assert.ok(scores.every((score) => score < 0.25), `scores ${scores}`);
  assert.ok(identity.classifierAccuracy < trustworthy.classifierAccuracy - 0.6);
  assert.ok(
    identity.ceiling.standard < trustworthy.ceiling.standard - 0.2,
    `ceiling ${trustworthy.ceiling.standard} against ${identity.ceiling.standard} mislabelled`,
  );
});

Deno.test("identity's files: a table, curves and heat maps, and the finding in words", async () => {
  const { identity } = await scored;
  const dir = await Deno.makeTempDir();
  try {
    const items = await writeIdentityResults(dir, identity);
    const files = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(
      files,
      [
        "identity.csv",
        ...["noise", "occlusion"].flatMap((kind) =>
          ["confusion", "identity"].flatMap((what) =>
            ["csv", "png", "svg"].map((ext) => `${kind}-${what}.${ext}`)
          )
        ),
      ].sort(),
    );
    const table = (await Deno.readTextFile(join(dir, "identity.csv"))).trim().split("\n");
    assert.equal(table[0], "digits read from,clean,noise std 0.2,occlusion side 10");
    assert.equal(Number(table[2].split(",")[1]), identity.ceiling.standard);
    const curve = (await Deno.readTextFile(join(dir, "noise-identity.csv"))).trim().split("\n");
    assert.equal(curve.length, 1 + settings.levels.noise.length);
    assert.match(await Deno.readTextFile(join(dir, "occlusion-confusion.svg")), /read as/);
    const finding = identityFinding(identity);
    assert.equal(items[0].kind === "text" && items[0].text, finding);
    assert.match(finding, /^Under noise std 0\.2, the classifier reads \d+\.\d% of the corrupted/);
    assert.match(
      finding,
      /\d+\.\d% through the standard model \(its ceiling, on clean digits: \d+\.\d%\)/,
    );
    assert.match(finding, /Under occlusion side 10/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
