import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/deps.ts";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist } from "../lib/data/mnist.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { parameterSpecs } from "../lib/model/architecture.ts";
import { loadSafetensors, saveSafetensors } from "../lib/model/weights.ts";
import { meanLoss } from "../lib/predict.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { datasetOf } from "../lib/train/trainer.ts";
import { autoencoderJob, maxAbsDifference } from "./_fixtures.ts";

const PYTHON = "/usr/bin/python3";
const PEER = new URL("./autoencoder_peer.py", import.meta.url).pathname;
const mnist = await loadMnist({ quiet: true });

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`forward pass and three Adam steps with L2 equal PyTorch's (${backend})`, async () => {
    const { backend: name } = await setupBackend(backend, { quiet: true });
    const digits = takeDigits(mnist.test, 16);
    const pixels = Float32Array.from(digits.images, (v) => v / 255);
    const config = { lr: 2e-3, l2: 1e-2, steps: 3 };
    const model = { kind: "autoencoder", hidden: 5, dropout: 0 } as const;
    // One batch of the 16 digits in their stored order: three epochs are three Adam steps on it.
    const trainer = new TfjsTrainer(
      [autoencoderJob({
        hidden: 5,
        lr: config.lr,
        l2: config.l2,
        seed: 11,
        train: datasetOf(digits),
      })],
      { batchSize: 16, backend: name },
    );
    const dir = await Deno.makeTempDir({ prefix: "aelab_tfjs_trainer_test_" });
    try {
      const initial = (await trainer.getState(0)).weights;
      const reference = Autoencoder.fromWeights(model, initial);
      await reference.save(join(dir, "weights.safetensors"));
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
      const [code, output] = [reference.encode(input), reference.reconstruct(input)];
      assert.ok(maxAbsDifference(await code.data(), torch.code.data) <= 1e-4);
      assert.ok(maxAbsDifference(await output.data(), torch.output.data) <= 1e-4);
      tf.dispose([input, code, output]);
      const loss = await meanLoss(reference, pixels);
      assert.ok(
        Math.abs(loss - torch.loss.data[0]) <= 1e-6,
        `loss ${loss} vs ${torch.loss.data[0]}`,
      );
      reference.dispose();

      // The epoch order of one batch is a shuffle of it, and a shuffle of a batch is the same step.
      for (let step = 0; step < config.steps; step++) await trainer.trainEpoch();
      const { weights, steps } = await trainer.getState(0);
      assert.equal(steps, config.steps);
      let [worst, moved] = [0, 0];
      for (const spec of parameterSpecs(5)) {
        worst = Math.max(worst, maxAbsDifference(weights[spec.name], torch[spec.name].data));
        moved = Math.max(moved, maxAbsDifference(weights[spec.name], initial[spec.name]));
      }
      // Three Adam steps move some weights by about 3·lr; both sides agree far closer than that.
      assert.ok(moved > 2 * config.lr, `weights moved by at most ${moved}`);
      assert.ok(worst <= 1e-4, `max abs weight difference ${worst}`);
    } finally {
      await trainer.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("training lowers the loss on 2,000 MNIST digits and leaks no tensors", async () => {
  const { backend } = await setupBackend("wasm", { quiet: true });
  const trainer = new TfjsTrainer([autoencoderJob({
    train: datasetOf(takeDigits(mnist.train, 2000)),
    test: datasetOf(takeDigits(mnist.test, 500)),
  })], { batchSize: 64, backend });
  const [before] = await trainer.evaluate("test");
  const losses: number[] = [];
  const tensors: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    [losses[epoch]] = await trainer.trainEpoch();
    tensors.push(tf.memory().numTensors);
  }
  const [after] = await trainer.evaluate("test");
  assert.equal(new Set(tensors).size, 1, `tensor count changed across epochs: ${tensors}`);
  // The epoch's loss is a mean over its steps: below the untrained model's, above the trained one's.
  assert.ok(
    losses[0] < before! && losses[0] > after!,
    `first epoch ${losses[0]}, test ${before} → ${after}`,
  );
  assert.ok(losses[3] < losses[0] * 0.8, `training losses ${losses}`);
  assert.ok(after! < before! * 0.6, `test loss ${before} → ${after}`);
  const state = await trainer.getState(0);
  assert.equal(state.steps, 4 * Math.ceil(2000 / 64));
  assert.equal(state.epochs, 4);
  assert.deepEqual(await trainer.evaluate("validation"), [null]);
  const held = tf.memory().numTensors;
  await trainer.dispose();
  assert.ok(tf.memory().numTensors < held);
});

Deno.test("dropout is seeded and only active in training; each model of a population trains alone", async () => {
  const { backend } = await setupBackend("wasm", { quiet: true });
  const train = datasetOf(takeDigits(mnist.train, 256));
  const settings = [[5, 0.5], [5, 0.5], [6, 0.5], [5, 0]].map(([seed, dropout]) =>
    autoencoderJob({ seed, dropout, train })
  );
  const together = new TfjsTrainer(settings, { batchSize: 64, backend });
  const losses = await together.trainEpoch();
  const weights = await Promise.all(settings.map((_, i) => together.getState(i)));
  await together.dispose();
  assert.equal(losses[0], losses[1]);
  assert.deepEqual(weights[0], weights[1]);
  assert.notEqual(losses[0], losses[2]);
  assert.notEqual(losses[0], losses[3]);
  // A model trained alone ends as it does beside others.
  const alone = new TfjsTrainer([settings[2]], { batchSize: 64, backend });
  assert.deepEqual(await alone.trainEpoch(), [losses[2]]);
  assert.deepEqual(await alone.getState(0), weights[2]);
  await alone.dispose();
  // Evaluation has no dropout: the same model gives the same loss twice.
  const model = Autoencoder.fromWeights({ hidden: 4, dropout: 0.5 }, weights[0].weights);
  assert.equal(await meanLoss(model, train.inputs), await meanLoss(model, train.inputs));
  model.dispose();
});

Deno.test("a model left out of an epoch stays as it was, and a state set is taken up exactly", async () => {
  const { backend } = await setupBackend("wasm", { quiet: true });
  const train = datasetOf(takeDigits(mnist.train, 128));
  const jobs = [autoencoderJob({ seed: 1, train }), autoencoderJob({ seed: 2, train })];
  const trainer = new TfjsTrainer(jobs, { batchSize: 32, backend });
  const before = await trainer.getState(1);
  const losses = await trainer.trainEpoch({ active: [true, false] });
  assert.ok(Number.isFinite(losses[0]) && Number.isNaN(losses[1]));
  assert.deepEqual(await trainer.getState(1), before);
  // Model 0's state, set into a fresh trainer's model, trains on as it would have.
  const state = await trainer.getState(0);
  const next = new TfjsTrainer([jobs[0]], { batchSize: 32, backend });
  await next.setState(0, state);
  assert.deepEqual(await next.trainEpoch(), [(await trainer.trainEpoch())[0]]);
  assert.deepEqual(await next.getState(0), await trainer.getState(0));
  await Promise.all([trainer.dispose(), next.dispose()]);
});
