import assert from "node:assert/strict";
import { join } from "node:path";
import { setupBackend } from "../lib/tfjs.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { datasetOf, type Trainer, type TrainingJob } from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import { type WorkerEngine, WorkerPool } from "../lib/train/workers.ts";
import { loadKernels } from "../lib/wasm/kernels.ts";
import { testDigits, trainDigits } from "./_fixtures.ts";
import { assertRefuses, lastLine, runScript } from "./_scripts.ts";

const { backend } = await setupBackend("wasm", { quiet: true });
/** Workers that run tfjs on wasm. */
const TFJS: WorkerEngine = { engine: "tfjs", backend: "wasm" };

/** Three models of different sizes, dropout and seeds, on 512 training and 200 test digits. */
async function population(): Promise<TrainingJob[]> {
  const train = datasetOf(await trainDigits(512));
  const test = datasetOf(await testDigits(200));
  return [[2, 0.2, 3], [4, 0, 4], [3, 0.1, 5]].map(([hidden, dropout, seed]) => ({
    name: `d = ${hidden}`,
    model: { kind: "autoencoder", hidden, dropout },
    lr: 3e-3,
    l2: 1e-4,
    seed,
    train,
    test,
  }));
}

/**
 * Trains `jobs` two epochs on 2 workers running `trainer` and on `local` in this thread, and asserts that
 * every loss, evaluation and state is the same to the byte; the pool describes itself as `description`.
 */
async function assertTrainsAsInThread(
  jobs: TrainingJob[],
  trainer: WorkerEngine,
  local: Trainer,
  description: string,
) {
  // Worker 1 holds d = 2 and d = 3 at first, worker 2 d = 4: populations other than the one here.
  const pool = await WorkerPool.create(jobs, { batchSize: 64, trainer, workers: 2 });
  try {
    assert.equal(pool.description, description);
    // the same numerics: a checkpoint of one resumes on the other
    assert.equal(pool.numerics, local.numerics);
    for (let epoch = 0; epoch < 2; epoch++) {
      const progress: number[] = [];
      const losses = await pool.trainEpoch({ onProgress: (done) => progress.push(done) });
      assert.deepEqual(losses, await local.trainEpoch());
      // Progress adds up the workers' steps to the whole epoch of all three models.
      assert.equal(progress.at(-1), 3 * 8);
    }
    assert.deepEqual(await pool.evaluate("test"), await local.evaluate("test"));
    for (let i = 0; i < jobs.length; i++) {
      assert.deepEqual(await pool.getState(i), await local.getState(i), `model ${i}`);
    }
  } finally {
    await Promise.all([pool.dispose(), local.dispose()]);
  }
}

Deno.test("models trained in tfjs workers end byte-identical to the same models trained in this thread", async () => {
  const jobs = await population();
  const local = new TfjsTrainer(jobs, { batchSize: 64, backend });
  await assertTrainsAsInThread(jobs, TFJS, local, "2 workers, tfjs wasm each");
});

Deno.test("models trained by workers on aelab's wasm kernels end byte-identical to the wasm engine in this thread", async () => {
  const kernels = await loadKernels();
  assert.ok(typeof kernels !== "string", String(kernels));
  const jobs = await population();
  const local = new WasmTrainer(kernels, jobs, { batchSize: 64 });
  await assertTrainsAsInThread(
    jobs,
    { engine: "wasm" },
    local,
    `2 workers, aelab wasm (${kernels.name}) each`,
  );
});

Deno.test("a slow worker's waiting models move to the other with their state, and end byte-identical", async () => {
  const kernels = await loadKernels();
  assert.ok(typeof kernels !== "string", String(kernels));
  const jobs = [...await population(), ...await population()].map((job, i) => ({
    ...job,
    name: `model ${i + 1}`,
    seed: i,
  }));
  const local = new WasmTrainer(kernels, jobs, { batchSize: 64 });
  // Worker 1 sleeps after each step: the first worker to start the models 1, 3 and 5, the second 2, 4, 6.
  const slow = new URL("./_slow_worker.ts", import.meta.url);
  const pool = await WorkerPool.create(jobs, {
    batchSize: 64,
    trainer: { engine: "wasm" },
    workers: 2,
    workerModule: (w) => w === 0 ? slow : undefined,
  });
  try {
    assert.deepEqual(pool.holders, [0, 1, 0, 1, 0, 1]);
    for (let epoch = 0; epoch < 2; epoch++) {
      assert.deepEqual(await pool.trainEpoch(), await local.trainEpoch());
      // The fast worker took the last models waiting for the slow one.
      const moved: number = pool.holders.filter((w, i) => w === 1 && i % 2 === 0).length;
      assert.ok(moved >= 1, `holders ${pool.holders}`);
    }
    assert.deepEqual(await pool.evaluate("test"), await local.evaluate("test"));
    for (let i = 0; i < jobs.length; i++) {
      assert.deepEqual(await pool.getState(i), await local.getState(i), `model ${i}`);
    }
  } finally {
    await Promise.all([pool.dispose(), local.dispose()]);
  }
});

Deno.test("a state set in a worker is taken up there, and models left out stay as they were", async () => {
  const jobs = await population();
  const pool = await WorkerPool.create(jobs, { batchSize: 64, trainer: TFJS, workers: 3 });
  const local = new TfjsTrainer(jobs, { batchSize: 64, backend });
  try {
    await local.trainEpoch();
    for (let i = 0; i < jobs.length; i++) await pool.setState(i, await local.getState(i));
    const active = [true, false, true];
    const [ours, theirs] = [await pool.trainEpoch({ active }), await local.trainEpoch({ active })];
    assert.deepEqual(ours, theirs);
    assert.ok(Number.isNaN(ours[1]));
    assert.deepEqual(await pool.getState(1), await local.getState(1));
    assert.equal((await pool.getState(1)).epochs, 1);
  } finally {
    await Promise.all([pool.dispose(), local.dispose()]);
  }
});

Deno.test("more workers than models start only as many as there are models", async () => {
  const [job] = await population();
  const pool = await WorkerPool.create([job], { batchSize: 64, trainer: TFJS, workers: 8 });
  assert.equal(pool.description, "1 worker, tfjs wasm each");
  await pool.dispose();
  await assert.rejects(pool.trainEpoch(), /disposed/);
});

/** A sweep of 4 sizes on 2 workers: worker 2 holds d = 2 and d = 4 at first. */
const sweep = [
  "--sizes=1-4",
  "--epochs=3",
  "--limit=600",
  "--test-limit=100",
  "--batch-size=64",
  "--engine=workers",
  "--workers=2",
];

Deno.test("a worker that fails mid-epoch stops the run with one line naming its models; the rerun resumes", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = await runScript("scripts/sweep.ts", [...sweep, `--out=${join(root, "whole")}`]);
    assert.equal(whole.code, 0, whole.stderr);
    const out = join(root, "failed");
    // Its worker 2 fails at step 3 of epoch 2.
    const failing = new URL("./_failing_pool.ts", import.meta.url).pathname;
    const failed = await runScript("scripts/sweep.ts", [...sweep, `--out=${out}`], [
      `--preload=${failing}`,
    ]);
    assert.equal(failed.code, 1, failed.stderr);
    // It held d = 2 and d = 4 at first; the other worker may have taken one of its models meanwhile.
    assert.match(
      lastLine(failed.stderr),
      /^error: worker 2 of 2 failed \(fault injected at step 3\); it held d = [1-4](, d = [1-4])*$/,
    );
    assert.doesNotMatch(failed.stderr, /\n\s+at /, "no stack trace");
    // Each size's checkpoint of the first epoch is there, and nothing else of the sweep's results.
    const left = [...Deno.readDirSync(join(out, "trainings"))].map((entry) => entry.name).sort();
    assert.deepEqual(left, [1, 2, 3, 4].map((d) => `d-00${d}.checkpoint.safetensors`));
    const rerun = await runScript("scripts/sweep.ts", [...sweep, `--out=${out}`]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /resuming after epoch 1 from/);
    for (const hidden of [1, 2, 3, 4]) {
      const file = `model-d${hidden}.safetensors`;
      assert.deepEqual(
        await Deno.readFile(join(out, file)),
        await Deno.readFile(join(root, "whole", file)),
        file,
      );
    }
    const losses = async (folder: string) =>
      JSON.parse(await Deno.readTextFile(join(folder, "sweep.json"))).sizes.map(
        (size: { epochs: { trainLoss: number; testLoss: number }[] }) =>
          size.epochs.map(({ trainLoss, testLoss }) => [trainLoss, testLoss]),
      );
    assert.deepEqual(await losses(out), await losses(join(root, "whole")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

for (
  const [flags, message] of [
    [["--workers=0"], /--workers must be an integer ≥ 1, got 0/],
    [["--workers=-2"], /--workers must be an integer ≥ 1, got -2/],
    [["--workers=1.5"], /--workers must be an integer ≥ 1, got 1.5/],
    [
      ["--workers=2", "--engine=tfjs"],
      /--workers sizes the worker pool; it does not go with --engine tfjs/,
    ],
  ] as const
) {
  Deno.test(`train refuses ${flags.join(" ")} with one line and exit code 2`, () =>
    assertRefuses("scripts/train.ts", [...flags], message));
}
