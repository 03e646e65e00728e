/**
 * A model trained data-parallel by a pool of wasm workers (`workers.ts` with `exchange.ts`): each worker a
 * slice of every batch, their gradients summed in shared memory. It trains as the wasm engine in this
 * thread does up to the order of float sums, keeps the study's numbers, and a worker that fails mid-step
 * fails the step in one line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { setupBackend } from "../lib/tfjs.ts";
import { abortExchange, exchangeBuffer, GradientExchange } from "../lib/train/exchange.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import {
  datasetOf,
  type EpochOptions,
  type Trainer,
  type TrainingJob,
} from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import { WorkerPool } from "../lib/train/workers.ts";
import { loadKernels } from "../lib/wasm/kernels.ts";
import { testDigits, trainDigits } from "./_fixtures.ts";
import { filesIn, lastLine, runScript } from "./_scripts.ts";

const { backend } = await setupBackend("wasm", { quiet: true });
const loaded = await loadKernels();
assert.ok(typeof loaded !== "string", String(loaded));
const kernels = loaded;

/** Epochs each trainer trains. */
const EPOCHS = 2;

/**
 * One model with dropout on 513 training digits in batches of 64: the last batch holds one image, so one
 * of two workers has no rows of it.
 */
async function oneModel(): Promise<TrainingJob[]> {
  return [{
    name: "d = 4",
    model: { kind: "autoencoder", hidden: 4, dropout: 0.1 },
    lr: 3e-3,
    l2: 1e-4,
    seed: 7,
    train: datasetOf(await trainDigits(513)),
    test: datasetOf(await testDigits(200)),
  }];
}

/** Each epoch's training loss and test loss of `trainer`, `EPOCHS` epochs, each trained with `options`. */
async function history(trainer: Trainer, options?: EpochOptions): Promise<[number, number][]> {
  const epochs: [number, number][] = [];
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const [train] = await trainer.trainEpoch(options);
    const [test] = await trainer.evaluate("test");
    epochs.push([train, test!]);
  }
  return epochs;
}

/** Asserts that `actual` is within `relative` of `expected`, relative to it. */
function assertClose(actual: number, expected: number, relative: number, what: string) {
  const error = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(error <= relative, `${what}: ${actual} vs ${expected}, ${error} relative`);
}

Deno.test("one model on 2 wasm workers trains data-parallel as the wasm engine in this thread, and as tfjs", async () => {
  const jobs = await oneModel();
  const pool = await WorkerPool.create(jobs, {
    batchSize: 64,
    trainer: { engine: "wasm" },
    workers: 2,
    dataParallel: true,
  });
  const local = new WasmTrainer(kernels, jobs, { batchSize: 64 });
  const tfjs = new TfjsTrainer(jobs, { batchSize: 64, backend });
  try {
    assert.equal(pool.description, `2 workers data-parallel, aelab wasm (${kernels.name}) each`);
    // Its sums run in another order than one thread's: a checkpoint of one does not resume on the other.
    assert.equal(pool.numerics, "wasm, data-parallel on 2");
    const progress: number[] = [];
    const [ours, theirs, tfjsHistory] = [
      await history(pool, { onProgress: (done) => progress.push(done) }),
      await history(local),
      await history(tfjs),
    ];
    // The steps of one epoch of one model, not of each worker added up.
    assert.equal(progress.at(-1), 9);
    ours.forEach(([train, test], epoch) => {
      assertClose(train, theirs[epoch][0], 1e-5, `epoch ${epoch + 1} training loss`);
      assertClose(test, theirs[epoch][1], 1e-5, `epoch ${epoch + 1} test loss`);
      assertClose(test, tfjsHistory[epoch][1], 0.02, `epoch ${epoch + 1} test loss against tfjs`);
    });
    const [state, expected] = [await pool.getState(0), await local.getState(0)];
    assert.deepEqual([state.steps, state.epochs], [9 * EPOCHS, EPOCHS]);
    for (const [name, values] of Object.entries(expected.weights)) {
      const largest = Math.max(...values.map(Math.abs));
      const gap = Math.max(...values.map((value, i) => Math.abs(value - state.weights[name][i])));
      assert.ok(gap <= 1e-4 * largest, `${name}: weights ${gap} apart`);
    }
    // A state set in the pool reaches every worker: from the same state, the same next epoch.
    await pool.setState(0, expected);
    assertClose(
      (await pool.trainEpoch())[0],
      (await local.trainEpoch())[0],
      1e-5,
      "after setState",
    );
  } finally {
    await Promise.all([pool.dispose(), local.dispose(), tfjs.dispose()]);
  }
});

Deno.test("the exchange slices a batch among its workers, and an aborted exchange throws", () => {
  const buffer = exchangeBuffer(2, 4);
  const [first, second] = [0, 1].map((rank) => new GradientExchange(buffer, rank, 2));
  assert.deepEqual([first.slice(5), second.slice(5)], [[0, 2], [2, 5]]);
  // A batch of one row: the first worker has none of it.
  assert.deepEqual([first.slice(1), second.slice(1)], [[0, 0], [0, 1]]);
  abortExchange(buffer);
  assert.throws(
    () => first.sum(new Float32Array(4), 0),
    /^Error: another worker of the data-parallel step failed$/,
  );
});

Deno.test("a worker that fails in a data-parallel step stops train in one line naming it; the rerun resumes", async () => {
  const root = await Deno.makeTempDir();
  try {
    const flags = [
      "--epochs=3",
      "--limit=600",
      "--test-limit=100",
      "--batch-size=64",
      "--engine=wasm",
      "--workers=2",
    ];
    const whole = await runScript("scripts/train.ts", [...flags, `--out=${join(root, "whole")}`]);
    assert.equal(whole.code, 0, whole.stderr);
    const out = join(root, "failed");
    // Its worker 2 fails at step 3 of epoch 2; worker 1 waits for it at step 4's exchange.
    const failing = new URL("./_failing_pool.ts", import.meta.url).pathname;
    const failed = await runScript("scripts/train.ts", [...flags, `--out=${out}`], [
      `--preload=${failing}`,
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(
      lastLine(failed.stderr),
      "error: worker 2 of 2 failed (fault injected at step 3); it held d = 4",
    );
    assert.doesNotMatch(failed.stderr, /\n\s+at /, "no stack trace");
    // The checkpoint of the first epoch is there, and nothing half-written beside it.
    assert.deepEqual(await filesIn(out), ["trainings/d-004.checkpoint.safetensors"]);
    const rerun = await runScript("scripts/train.ts", [...flags, `--out=${out}`]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /resuming after epoch 1 from/);
    assert.deepEqual(
      await Deno.readFile(join(out, "model.safetensors")),
      await Deno.readFile(join(root, "whole", "model.safetensors")),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
