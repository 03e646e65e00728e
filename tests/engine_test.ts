/**
 * The engines behind the one `Trainer` interface, on real MNIST digits: the fused WebGPU engine
 * (Mesa's software adapter here, so the subsets are tiny) trains a population as tfjs does, hands
 * its weights and Adam's state over in PyTorch's layout, and trains a denoiser; the worker pool
 * trains to tfjs's bytes; `chooseEngine` picks by the machine and refuses what cannot be had;
 * `createTrainer` falls back to the CPU where auto chose a GPU that cannot hold the population.
 */
import assert from "node:assert/strict";
import { corrupt, digitPixels } from "../lib/corrupt.ts";
import { requestAdapter } from "../lib/gpu/adapter.ts";
import { DeviceLimitError } from "../lib/gpu/device.ts";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import type { ModelSpec } from "../lib/model/spec.ts";
import { meanLoss } from "../lib/predict.ts";
import { type BackendSetup, setupBackend } from "../lib/tfjs.ts";
import {
  chooseEngine,
  createTrainer,
  type Engine,
  type EngineChoice,
  type EnginePlan,
} from "../lib/train/engine.ts";
import { fit } from "../lib/train/fit.ts";
import { FusedTrainer } from "../lib/train/fused.ts";
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import { type Dataset, datasetOf, type FitResult, type TrainingJob } from "../lib/train/trainer.ts";
import { WorkerPool } from "../lib/train/workers.ts";
import {
  assertUsageError,
  autoencoderJob,
  testDigits,
  trainDigits,
  trainerStates as states,
} from "./_fixtures.ts";

const wasm = await setupBackend("wasm", { quiet: true });
const BATCH = 32;
const digits = await trainDigits(256);
const train = datasetOf(digits);
const validation = datasetOf(await testDigits(64));
/**
 * Two models that differ in latent size, learning rate, L2 and seed; no dropout, whose masks the
 * engines draw apart.
 */
const jobs = [
  autoencoderJob({ train, validation, hidden: 3, lr: 3e-3, l2: 1e-4, seed: 5 }),
  autoencoderJob({ train, validation, hidden: 5, seed: 8 }),
];

function assertClose(actual: number, expected: number, relative: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${what}: ${actual} vs ${expected}`,
  );
}

/** Asserts that each epoch's training and validation loss is within 1e-3 of `expected`'s. */
function assertSameTraining(actual: FitResult[], expected: FitResult[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach(({ history }, i) => {
    assert.equal(history.length, expected[i].history.length);
    history.forEach((record, e) => {
      const reference = expected[i].history[e];
      assertClose(record.trainLoss, reference.trainLoss, 1e-3, `model ${i} epoch ${e + 1} train`);
      assertClose(
        record.validationLoss!,
        reference.validationLoss!,
        1e-3,
        `model ${i} epoch ${e + 1} validation`,
      );
    });
  });
}

/** `epochs` epochs of `population` on tfjs in this thread and fused: their results. */
async function onBothEngines(population: TrainingJob[], epochs: number) {
  const tfjs = new TfjsTrainer(population, { batchSize: BATCH, backend: wasm.backend });
  const fused = await FusedTrainer.create(population, { batchSize: BATCH });
  const expected = await fit(tfjs, { epochs, label: "tfjs" });
  const actual = await fit(fused, { epochs, label: "fused" });
  await tfjs.dispose();
  return { expected, actual, fused };
}

Deno.test("the fused engine trains a population as tfjs does, and its weights give its loss on tfjs", async () => {
  const { expected, actual, fused } = await onBothEngines(jobs, 2);
  try {
    assertSameTraining(actual, expected);
    assert.equal(fused.numerics, "fused");
    assert.match(fused.description, /^fused WebGPU on /);
    for (const [i, job] of jobs.entries()) {
      const state = await fused.getState(i);
      assert.deepEqual([state.steps, state.epochs], [16, 2]);
      // the weights in PyTorch's layout, as a tfjs model, give the loss the fused engine measured
      const model = Autoencoder.fromWeights(job.model, state.weights);
      const loss = await meanLoss(model, validation.inputs);
      model.dispose();
      assertClose(loss, actual[i].history[1].validationLoss!, 1e-5, `tfjs loss of model ${i}`);
    }
  } finally {
    await fused.dispose();
  }
});

Deno.test("Adam's state moves between engines in PyTorch's layout, and training goes on from it", async () => {
  const tfjs = new TfjsTrainer(jobs, { batchSize: BATCH, backend: wasm.backend });
  const fused = await FusedTrainer.create(jobs, { batchSize: BATCH });
  const back = new TfjsTrainer(jobs, { batchSize: BATCH, backend: wasm.backend });
  try {
    await tfjs.trainEpoch();
    for (const [i, state] of (await states(tfjs)).entries()) await fused.setState(i, state);
    // the weights set reach the engine: it measures the loss tfjs does
    const [before, reference] = [
      await fused.evaluate("validation"),
      await tfjs.evaluate("validation"),
    ];
    before.forEach((loss, i) =>
      assertClose(loss!, reference[i]!, 1e-5, `model ${i} after setState`)
    );

    await Promise.all([tfjs.trainEpoch(), fused.trainEpoch()]);
    const [actual, expected] = [await states(fused), await states(tfjs)];
    for (const [i, state] of actual.entries()) {
      assert.deepEqual([state.steps, state.epochs], [16, 2]);
      assert.deepEqual([expected[i].steps, expected[i].epochs], [16, 2]);
      for (const key of ["first", "second"] as const) {
        for (const [name, values] of Object.entries(expected[i].moments[key])) {
          const scale = values.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
          const error = state.moments[key][name].reduce(
            (max, v, p) => Math.max(max, Math.abs(v - values[p])),
            0,
          );
          assert.ok(scale > 0, `${name}: ${key} moments are all 0`);
          assert.ok(
            error <= 1e-4 * scale,
            `${name}: ${key} moments differ by ${error} of ${scale}`,
          );
        }
      }
      // and back: tfjs takes the fused engine's state exactly
      await back.setState(i, state);
      assert.deepEqual(await back.getState(i), state);
    }
  } finally {
    await Promise.all([tfjs, fused, back].map((trainer) => trainer.dispose()));
  }
});

Deno.test("the fused engine trains a denoiser on (corrupted, clean) pairs as tfjs does", async () => {
  // noisy inputs as floats on the 256 levels a byte holds, as the fused engine stores them
  const noisy = corrupt(digitPixels(digits), { kind: "noise", std: 0.3 }, 2).map((v) =>
    Math.round(v * 255) / 255
  );
  const pairs: Dataset = { inputs: noisy, targets: digits.images, count: digits.count };
  // beside a plain model, which trains on other data: the fused engine holds them apart
  const { expected, actual, fused } = await onBothEngines([
    autoencoderJob({ train: pairs, validation: pairs, hidden: 3, lr: 3e-3, seed: 5 }),
    jobs[1],
  ], 2);
  await fused.dispose();
  assertSameTraining(actual, expected);
  // trained towards the clean targets: the second epoch's loss is below the first's
  const [first, second] = actual[0].history;
  assert.ok(second.trainLoss < first.trainLoss, `${first.trainLoss} → ${second.trainLoss}`);
});

Deno.test("the worker pool trains a population to the bytes tfjs in this thread does", async () => {
  const withDropout = jobs.map((job) => ({ ...job, model: { ...job.model, dropout: 0.2 } }));
  const plan = await chooseEngine("workers", { backend: wasm, workers: 2, quiet: true });
  const pool = await createTrainer(plan, withDropout, { batchSize: BATCH });
  const tfjs = new TfjsTrainer(withDropout, { batchSize: BATCH, backend: wasm.backend });
  try {
    assert.ok(pool instanceof WorkerPool);
    assert.equal(pool.description, "2 workers, tfjs wasm each");
    // the same numerics: a checkpoint of one resumes on the other
    assert.equal(pool.numerics, tfjs.numerics);
    assert.deepEqual(await pool.trainEpoch(), await tfjs.trainEpoch());
    assert.deepEqual(await pool.evaluate("validation"), await tfjs.evaluate("validation"));
    assert.deepEqual(await states(pool), await states(tfjs));
  } finally {
    await Promise.all([pool.dispose(), tfjs.dispose()]);
  }
});

/** A hardware GPU, the software adapter Mesa offers here, and none. */
const HARDWARE = "NVIDIA H200";
const SOFTWARE = "llvmpipe (LLVM 15.0.6, 256 bits)";
const CPU: BackendSetup = { backend: "cpu", adapter: "JavaScript" };
/** tfjs on a GPU: a backend no worker runs (no GPU is needed to choose an engine for it). */
const WEBGPU: BackendSetup = { backend: "webgpu", adapter: "x" };

/** Runs `body`, collecting what it prints to standard error. */
async function printed<T>(body: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const lines: string[] = [];
  const print = console.error;
  console.error = (...data: unknown[]) => lines.push(data.join(" "));
  try {
    return { value: await body(), lines };
  } finally {
    console.error = print;
  }
}

/**
 * Runs `body` as on a machine of `cores` cores whose WebGPU offers an adapter named `adapter`
 * (null: none) that nothing can run on, collecting what it prints to standard error.
 */
async function onMachine<T>(
  machine: { cores: number; adapter: string | null },
  body: () => Promise<T>,
): Promise<{ value: T; lines: string[] }> {
  const adapter = machine.adapter === null ? null : {
    info: { description: machine.adapter, vendor: "", architecture: "", device: "" },
  };
  Object.defineProperty(navigator, "hardwareConcurrency", {
    value: machine.cores,
    configurable: true,
  });
  Object.defineProperty(navigator.gpu, "requestAdapter", {
    value: () => Promise.resolve(adapter),
    configurable: true,
  });
  try {
    return await printed(body);
  } finally {
    delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
    delete (navigator.gpu as { requestAdapter?: unknown }).requestAdapter;
  }
}

/** A machine, and what is asked of `chooseEngine` on it. */
interface Choice {
  choice: EngineChoice;
  backend: BackendSetup;
  workers?: number;
  cores: number;
  adapter: string | null;
}

/** What `chooseEngine` answers on the machine of `choice`, and the lines it prints. */
function choose({ choice, backend, workers, ...machine }: Choice, quiet = false) {
  return onMachine(machine, () => chooseEngine(choice, { backend, workers, quiet }));
}

Deno.test("auto takes fused on a hardware adapter only, else wasm (a pool of it on several cores), else workers where they run and help, else tfjs", async () => {
  const cases: [Choice, Engine, RegExp][] = [
    [
      { choice: "auto", backend: wasm, cores: 2, adapter: HARDWARE },
      "fused",
      /on the GPU NVIDIA H200/,
    ],
    [{ choice: "auto", backend: WEBGPU, cores: 2, adapter: HARDWARE }, "fused", /on the GPU/],
    [
      { choice: "auto", backend: wasm, cores: 2, adapter: SOFTWARE },
      "wasm",
      /aelab's WebAssembly kernels .* on a pool of up to 2 workers.*\(2 cores, only the software adapter llvmpipe/,
    ],
    [
      { choice: "auto", backend: CPU, cores: 4, adapter: null },
      "workers",
      /tfjs cpu workers.*\(4 cores, no GPU\)/,
    ],
    [
      { choice: "auto", backend: wasm, cores: 1, adapter: SOFTWARE },
      "wasm",
      /aelab's WebAssembly kernels \((relaxed )?SIMD\) in this thread \(one core, only the software adapter/,
    ],
    [
      { choice: "auto", backend: CPU, cores: 1, adapter: null },
      "tfjs",
      /tfjs cpu in this thread \(one core, no GPU\)$/,
    ],
    [
      { choice: "wasm", backend: wasm, cores: 2, adapter: HARDWARE },
      "wasm",
      /aelab's WebAssembly kernels \((relaxed )?SIMD\) in this thread$/,
    ],
    [
      { choice: "auto", backend: wasm, workers: 3, cores: 1, adapter: null },
      "wasm",
      /aelab's WebAssembly kernels .* on a pool of 3 workers.*\(--workers, no GPU\)/,
    ],
    [
      { choice: "wasm", backend: CPU, workers: 2, cores: 1, adapter: null },
      "wasm",
      /aelab's WebAssembly kernels .* on a pool of 2 workers, one per model at most \(--workers\)$/,
    ],
    [
      { choice: "auto", backend: CPU, workers: 2, cores: 1, adapter: null },
      "workers",
      /a pool of 2 tfjs cpu workers.*\(--workers, no GPU\)/,
    ],
    [
      { choice: "auto", backend: WEBGPU, cores: 8, adapter: SOFTWARE },
      "tfjs",
      /tfjs webgpu in this thread \(the webgpu backend\)/,
    ],
    [{ choice: "tfjs", backend: wasm, cores: 2, adapter: HARDWARE }, "tfjs", /in this thread/],
    [
      { choice: "fused", backend: wasm, cores: 2, adapter: SOFTWARE },
      "fused",
      /fused WebGPU on llvmpipe.* \(software\)/,
    ],
    [
      { choice: "workers", backend: wasm, cores: 1, adapter: HARDWARE },
      "workers",
      /\(one per core of 1\)/,
    ],
    [
      { choice: "workers", backend: CPU, workers: 3, cores: 2, adapter: null },
      "workers",
      /a pool of 3 tfjs cpu workers/,
    ],
  ];
  for (const [asked, engine, reason] of cases) {
    const what = JSON.stringify(asked);
    const { value: plan, lines } = await choose(asked);
    assert.equal(plan.engine, engine, what);
    assert.equal(plan.auto, asked.choice === "auto", what);
    // aelab's wasm engine asked for trains in this thread unless --workers says otherwise
    const threads = asked.choice === "wasm" ? 1 : asked.cores;
    assert.equal(plan.workers, asked.workers ?? threads, what);
    assert.equal(plan.backend, asked.backend, what);
    // the choice and its reason, in one line
    assert.equal(lines.length, 1, what);
    assert.match(lines[0], new RegExp(`^engine: ${engine} — `), what);
    assert.match(lines[0], reason, what);
  }
  const quiet = await choose(cases[0][0], true);
  assert.equal(quiet.value.engine, "fused");
  assert.deepEqual(quiet.lines, []);
});

Deno.test("an engine that is unknown or cannot be had here, or --workers beside tfjs or fused, is a usage error", async () => {
  const refusals: [Choice, RegExp][] = [
    [
      { choice: "turbo" as EngineChoice, backend: wasm, cores: 2, adapter: HARDWARE },
      /^unknown engine "turbo": choose one of auto, workers, fused, wasm, tfjs$/,
    ],
    [
      { choice: "tfjs", backend: wasm, workers: 2, cores: 2, adapter: HARDWARE },
      /^--workers sizes the worker pool; it does not go with --engine tfjs$/,
    ],
    [
      { choice: "fused", backend: wasm, workers: 2, cores: 2, adapter: HARDWARE },
      /^--workers sizes the worker pool; it does not go with --engine fused$/,
    ],
    [
      { choice: "workers", backend: WEBGPU, cores: 2, adapter: HARDWARE },
      /^the worker pool runs tfjs on wasm or cpu, not webgpu; use --backend wasm, or --engine tfjs/,
    ],
    [
      { choice: "fused", backend: wasm, cores: 2, adapter: null },
      /^engine fused unavailable: this runtime offers no WebGPU adapter$/,
    ],
  ];
  for (const [asked, message] of refusals) await assertUsageError(choose(asked), message);
});

Deno.test("a population the GPU cannot hold trains on tfjs under auto, and is an error under --engine fused", async () => {
  const gpu = await requestAdapter();
  assert.ok(gpu, "this test needs a WebGPU adapter (Mesa's llvmpipe will do)");
  // a batch whose first layer's outputs exceed the largest buffer the adapter binds
  const batchSize = Math.ceil(gpu.adapter.limits.maxStorageBufferBindingSize / (1568 * 4)) + 1;
  const asked = await chooseEngine("fused", { backend: wasm, quiet: true });
  const auto: EnginePlan = { ...asked, auto: true };
  const { value: trainer, lines } = await printed(() =>
    createTrainer(auto, [jobs[0]], { batchSize })
  );
  assert.ok(trainer instanceof TfjsTrainer, trainer.description);
  assert.equal(trainer.batchSize, batchSize);
  // One line says why and what trains instead.
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0],
    /^engine: the population does not fit the GPU \(.*maxStorageBufferBindingSize.*\); tfjs wasm in this thread trains instead$/,
  );
  await trainer.dispose();
  await assert.rejects(createTrainer(asked, [jobs[0]], { batchSize }), DeviceLimitError);

  // one that fits trains fused, whether auto chose the engine or not
  for (const plan of [auto, asked]) {
    const fits = await createTrainer(plan, jobs, { batchSize: BATCH });
    assert.ok(fits instanceof FusedTrainer);
    await fits.dispose();
  }
  // a model the fused engine does not train: the CPU under auto, an error when fused was asked for
  const other = {
    ...jobs[0],
    name: "a classifier",
    model: { ...jobs[0].model, kind: "classifier" } as unknown as ModelSpec,
  };
  const { value: cpu } = await printed(() => createTrainer(auto, [other], { batchSize: BATCH }));
  assert.ok(cpu instanceof TfjsTrainer);
  await cpu.dispose();
  await assertUsageError(
    createTrainer(asked, [other], { batchSize: BATCH }),
    /^the fused engine trains autoencoders only, not a classifier$/,
  );
  // the plans of the CPU build their own trainers
  const tfjs = await createTrainer(
    await chooseEngine("tfjs", { backend: wasm, quiet: true }),
    jobs,
    { batchSize: BATCH },
  );
  assert.ok(tfjs instanceof TfjsTrainer);
  await tfjs.dispose();
});
