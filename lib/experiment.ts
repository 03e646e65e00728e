/**
 * What every experiment script starts with: the flags they share (seed, backend, data folder, output
 * folder, limits), their checks, and the set-up they lead to — a tfjs backend, MNIST with a seeded
 * train/validation split, and the result folder.
 *
 * @module
 */
import { join } from "node:path";
import { check, ensureDir, type FlagSpec, UsageError } from "./cli.ts";
import { splitTrainValidation, takeDigits } from "./data/batches.ts";
import { type Digits, loadMnist } from "./data/mnist.ts";
import { BACKEND_CHOICES, type BackendChoice, type BackendSetup, setupBackend } from "./gpu.ts";

/** The root of all results, `results/` in the working directory unless a script's `--out` says else. */
export const RESULTS_ROOT = "results";

/** Training images held out for validation (never the test set). */
export const VALIDATION_SIZE = 10_000;

/** Flags every experiment takes; `out` defaults to `results/<experiment>`. */
export function commonFlags(experiment: string) {
  return {
    seed: { type: "number", default: 0, help: "seed of weights, shuffles, splits and corruptions" },
    backend: {
      type: "string",
      default: "auto",
      help: `tfjs backend: ${BACKEND_CHOICES.join(", ")}`,
    },
    limit: {
      type: "number",
      default: 0,
      help: "train on only the first N training images (0: all)",
    },
    "test-limit": {
      type: "number",
      default: 0,
      help: "evaluate on only the first N test images (0: all 10,000)",
    },
    "data-dir": { type: "string", default: "", help: "MNIST cache folder (default data/mnist)" },
    out: { type: "string", default: join(RESULTS_ROOT, experiment), help: "result folder" },
  } satisfies Record<string, FlagSpec>;
}

/** The values of {@link commonFlags}. */
export interface CommonFlagValues {
  seed: number;
  backend: string;
  limit: number;
  "test-limit": number;
  "data-dir": string;
  out: string;
}

/** Throws a usage error unless the flag `--name`'s `value` is an integer ≥ `min`. */
export function checkInteger(name: string, value: number, min: number): void {
  check(
    Number.isInteger(value) && value >= min,
    `--${name} must be an integer ≥ ${min}, got ${value}`,
  );
}

/** Throws a usage error unless the flag `--name`'s `value` lies in [min, max) ([min, max] when `closed`). */
export function checkRange(
  name: string,
  value: number,
  min: number,
  max: number,
  closed = false,
): void {
  const inside = value >= min && (closed ? value <= max : value < max);
  check(inside, `--${name} must lie in [${min}, ${max}${closed ? "]" : ")"}, got ${value}`);
}

/** Throws a usage error unless the flag `--name`'s `value` is a number > 0. */
export function checkPositive(name: string, value: number): void {
  check(value > 0, `--${name} must be > 0, got ${value}`);
}

/** MNIST as an experiment uses it: training and validation split off the 60k, the test set apart. */
export interface ExperimentData {
  train: Digits;
  validation: Digits;
  test: Digits;
}

/** What {@link setupExperiment} hands a script. */
export interface Experiment {
  data: ExperimentData;
  backend: BackendSetup;
  out: string;
}

/**
 * Checks the common flags, sets up the backend, loads MNIST (split with the seed, cut to the limits) and
 * creates the result folder. Bad values are usage errors (exit code 2).
 */
export async function setupExperiment(flags: CommonFlagValues): Promise<Experiment> {
  checkInteger("seed", flags.seed, 0);
  checkInteger("limit", flags.limit, 0);
  checkInteger("test-limit", flags["test-limit"], 0);
  check(
    (BACKEND_CHOICES as readonly string[]).includes(flags.backend),
    `--backend must be one of ${BACKEND_CHOICES.join(", ")}, got "${flags.backend}"`,
  );
  const dataDir = flags["data-dir"] || undefined;
  if (dataDir) await checkDataDir(dataDir);
  const backend = await setupBackend(flags.backend as BackendChoice);
  const mnist = await loadMnist({ dataDir });
  const limitedTrain = flags.limit > 0
    ? takeDigits(mnist.train, flags.limit + VALIDATION_SIZE)
    : mnist.train;
  const validationSize = Math.min(VALIDATION_SIZE, Math.floor(limitedTrain.count / 6));
  const split = splitTrainValidation(limitedTrain, { validationSize, seed: flags.seed });
  const train = flags.limit > 0 ? takeDigits(split.train, flags.limit) : split.train;
  const test = flags["test-limit"] > 0 ? takeDigits(mnist.test, flags["test-limit"]) : mnist.test;
  const out = await ensureDir(flags.out);
  return { data: { train, validation: split.validation, test }, backend, out };
}

async function checkDataDir(dataDir: string): Promise<void> {
  let info;
  try {
    info = await Deno.stat(dataDir);
  } catch (error) {
    throw new UsageError(`--data-dir ${dataDir}: ${(error as Error).message.split(":")[0]}`);
  }
  check(info.isDirectory, `--data-dir ${dataDir} is not a folder`);
  try {
    for await (const _ of Deno.readDir(dataDir)) break;
  } catch (error) {
    throw new UsageError(`--data-dir ${dataDir} is not readable: ${(error as Error).message}`);
  }
}
