/**
 * A model trained data-parallel by a pool of wasm workers (`workers.ts` with `exchange.ts`): each worker a
 * slice of every batch, their gradients summed in shared memory. It trains as the wasm engine in this
 * thread does up to the order of float sums, keeps the study's numbers, and a worker that fails mid-step
 * fails the step in one line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { setupBackend } from "../lib/tfjs.ts";
import {
  abortExchange,
  exchangeBuffer,
  exchangeLayout,
  GradientExchange,
} from "../lib/train/exchange.ts";
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
/** Images per step. */
const BATCH = 128;

/**
 * One model with dropout on 513 training digits in batches of 128 (four slices of 32 rows): the last
 * batch holds one image, so one of two workers has no rows of it.
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
    batchSize: BATCH,
    trainer: { engine: "wasm" },
    workers: 2,
    dataParallel: true,
  });
  const local = new WasmTrainer(kernels, jobs, { batchSize: BATCH });
  const tfjs = new TfjsTrainer(jobs, { batchSize: BATCH, backend });
  try {
    assert.equal(pool.description, `2 workers data-parallel, aelab wasm (${kernels.name}) each`);
    // Its sums run in another order than one thread's: a checkpoint of one does not resume on the other.
    assert.equal(pool.numerics, "wasm, data-parallel in slices of 32");
    const progress: number[] = [];
    const [ours, theirs, tfjsHistory] = [
      await history(pool, { onProgress: (done) => progress.push(done) }),
      await history(local),
      await history(tfjs),
    ];
    // The steps of one epoch of one model, not of each worker added up.
    assert.equal(progress.at(-1), 5);
    ours.forEach(([train, test], epoch) => {
      assertClose(train, theirs[epoch][0], 1e-5, `epoch ${epoch + 1} training loss`);
      assertClose(test, theirs[epoch][1], 1e-5, `epoch ${epoch + 1} test loss`);
      assertClose(test, tfjsHistory[epoch][1], 0.02, `epoch ${epoch + 1} test loss against tfjs`);
    });
    const [state, expected] = [await pool.getState(0), await local.getState(0)];
    assert.deepEqual([state.steps, state.epochs], [5 * EPOCHS, EPOCHS]);
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

Deno.test("the exchange cuts a batch into slices that each worker claims once, and an aborted exchange throws", () => {
  // Two slices per worker of a whole batch, of no fewer than 32 rows where the batch has them; the
  // last slice of a smaller batch holds fewer rows.
  assert.deepEqual(exchangeLayout(2, 64, 4), { workers: 2, sliceRows: 32, slices: 2, floats: 4 });
  const layout = exchangeLayout(2, 256, 4);
  assert.deepEqual(layout, { workers: 2, sliceRows: 64, slices: 4, floats: 4 });
  const buffer = exchangeBuffer(layout);
  const [first, second] = [0, 1].map((rank) => new GradientExchange(buffer, rank, layout));
  assert.deepEqual([0, 1, 2, 3].map((slice) => first.slice(slice, 250)), [
    [0, 64],
    [64, 128],
    [128, 192],
    [192, 250],
  ]);
  // Whoever asks first gets the next slice; once every slice is out, each worker gets -1.
  assert.deepEqual(
    [first, first, second, first, second, first].map((exchange) => exchange.claim(250)),
    [0, 1, 2, 3, -1, -1],
  );
  // A batch of one row is one slice.
  assert.equal(second.slices(1), 1);
  abortExchange(buffer);
  assert.throws(
    () => first.sum(new Float32Array(4), 250),
    /^Error: another worker of the data-parallel step failed$/,
  );
});

Deno.test("the summed gradients do not depend on which worker computed which slice", () => {
  // Float sums depend on their order: in slice order, ((1e8 + 1) - 1e8) + 1 is 1 in float32.
  const values = [1e8, 1, -1e8, 1];
  const layout = { workers: 1, sliceRows: 2, slices: 4, floats: 1 };
  const sums = [[0, 1, 2, 3], [3, 1, 0, 2]].map((order) => {
    const exchange = new GradientExchange(exchangeBuffer(layout), 0, layout);
    for (const slice of order) exchange.share(slice, Float32Array.of(values[slice]), slice);
    const gradients = new Float32Array(1);
    return [exchange.sum(gradients, 8), gradients[0]];
  });
  assert.deepEqual(sums, [[6, 1], [6, 1]]);
});

Deno.test("a worker that fails in a data-parallel step stops train in one line naming it; the rerun resumes", async () => {
  const root = await Deno.makeTempDir();
  try {
    const flags = [
      "--epochs=3",
      "--limit=600",
      "--test-limit=100",
      "--batch-size=128",
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
