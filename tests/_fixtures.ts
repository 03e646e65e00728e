/**
 * Real MNIST subsets shared by the tests, loaded once per test process from the embedded npm data,
 * and small helpers the tests share.
 */
import assert from "node:assert/strict";
import { takeDigits } from "../lib/data/batches.ts";
import { loadMnist, type Mnist } from "../lib/data/mnist.ts";
import { UsageError } from "../lib/cli.ts";
import type { AutoencoderSpec } from "../lib/model/spec.ts";
import type { ModelState, Trainer, TrainingJob } from "../lib/train/trainer.ts";

let mnist: Promise<Mnist> | undefined;

/** The full MNIST dataset, loaded (quietly) on first use. */
export function testMnist(): Promise<Mnist> {
  mnist ??= loadMnist({ quiet: true });
  return mnist;
}

/** The first `limit` digits of the MNIST test set. */
export async function testDigits(limit: number) {
  return takeDigits((await testMnist()).test, limit);
}

/** The first `limit` digits of the MNIST training set. */
export async function trainDigits(limit: number) {
  return takeDigits((await testMnist()).train, limit);
}

/** A training job of an autoencoder. */
export type AutoencoderJob = TrainingJob & { model: AutoencoderSpec };

/** A job of the study's autoencoder (d = 4, no dropout, lr 1e-3, seed 1), `settings` over it. */
export function autoencoderJob(
  settings: Partial<Omit<TrainingJob, "model">> & Pick<TrainingJob, "train"> & {
    hidden?: number;
    dropout?: number;
  },
): AutoencoderJob {
  const { hidden = 4, dropout = 0, ...rest } = settings;
  return {
    name: `seed ${rest.seed ?? 1}`,
    model: { kind: "autoencoder", hidden, dropout },
    lr: 1e-3,
    l2: 0,
    seed: 1,
    ...rest,
  };
}

/** A job of the digit classifier (no dropout, lr 1e-3, seed 1), `settings` over it. */
export function classifierJob(
  settings: Partial<TrainingJob> & Pick<TrainingJob, "train">,
): TrainingJob {
  return {
    name: "classifier",
    model: { kind: "classifier", dropout: 0 },
    lr: 1e-3,
    l2: 0,
    seed: 1,
    ...settings,
  };
}

/** Runs `body` with a fresh temporary folder, removed afterwards. */
export async function inTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "aelab_test_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The largest absolute difference between two arrays of the same length. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Every model's state in `trainer`, in its order. */
export function trainerStates(trainer: Trainer): Promise<ModelState[]> {
  return Promise.all(trainer.jobs.map((_, i) => trainer.getState(i)));
}

/** Asserts that `action` throws a {@link UsageError} whose message matches each of `patterns`. */
export async function assertUsageError(
  action: Promise<unknown> | (() => unknown),
  ...patterns: RegExp[]
): Promise<void> {
  const matches = (error: Error) => {
    assert.ok(error instanceof UsageError, `${error.name}: ${error.message}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };
  if (action instanceof Promise) await assert.rejects(action, matches);
  else assert.throws(action, matches);
}
