/**
 * What every experiment script starts with: the flags they share (seed, backend, data folder, output
 * folder, limits), their checks, and the set-up they lead to — a tfjs backend, MNIST with a seeded
 * train/validation split, and the result folder.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { check, describeError, type FlagSpec, taskCommand, UsageError } from "./cli.ts";
import { splitTrainValidation, takeDigits } from "./data/batches.ts";
import { IMAGE_PIXELS } from "./data/geometry.ts";
import { type Digits, loadMnist, type Mnist, mnistDataDir } from "./data/mnist.ts";
import { holdFolder, prepareFolder } from "./files/lock.ts";
import { Autoencoder } from "./model/autoencoder.ts";
import { Classifier } from "./model/classifier_model.ts";
import { type BestParams, loadBestParams } from "./search_space.ts";
import { BACKEND_CHOICES, type BackendChoice, type BackendSetup, setupBackend } from "./tfjs.ts";
import {
  chooseEngine,
  ENGINE_CHOICES,
  type EngineChoice,
  type EnginePlan,
} from "./train/engine.ts";
import { type Dataset, datasetOf } from "./train/trainer.ts";

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
    "data-dir": dataDirFlag(),
    out: { type: "string", default: join(RESULTS_ROOT, experiment), help: "result folder" },
  } satisfies Record<string, FlagSpec>;
}

/**
 * The flag `--data-dir`, its help naming the folder used without it (which differs for a copy of aelab
 * run by URL).
 */
export function dataDirFlag(): FlagSpec & { type: "string"; default: string } {
  let fallback;
  try {
    fallback = mnistDataDir();
  } catch (error) {
    fallback = describeError(error);
  }
  return { type: "string", default: "", help: `MNIST cache folder (default ${fallback})` };
}

/** Flags of every experiment that trains: what trains, and the size of the worker pool. */
export function engineFlags() {
  return {
    engine: {
      type: "string",
      default: "auto",
      help: `what trains and reads digits: ${
        ENGINE_CHOICES.join(", ")
      } (auto: fused on a hardware GPU, else aelab's wasm kernels on every core, else tfjs)`,
    },
    workers: {
      type: "number",
      help:
        "workers of the pool, each training its share of the models (or reading its share of the " +
        "digits) on one core (default: one per core)",
    },
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

/**
 * The largest seed: the generators' state (`createRng` of `random.ts`) holds 32 bits, so a larger seed
 * would give exactly the run of a smaller one.
 */
export const MAX_SEED = 2 ** 32 - 1;

/** Throws a usage error unless `--seed`'s `value` is an integer the generators hold distinctly. */
export function checkSeed(value: number): void {
  check(
    Number.isInteger(value) && value >= 0 && value <= MAX_SEED,
    `--seed must be an integer in 0…${MAX_SEED} (the generators hold 32 bits), got ${value}`,
  );
}

/** Throws a usage error unless `--hidden`'s `value` is a latent size: 1 … the pixels of a digit. */
export function checkHidden(value: number): void {
  checkInteger("hidden", value, 1);
  check(
    value <= IMAGE_PIXELS,
    `--hidden must be at most ${IMAGE_PIXELS} (the pixels of a digit), got ${value}`,
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

/** Throws a usage error unless the flag `--name`'s `value` is one of `choices`. */
export function checkChoice(name: string, value: string, choices: readonly string[]): void {
  check(choices.includes(value), `--${name} must be one of ${choices.join(", ")}, got "${value}"`);
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

/**
 * The splits of `data` as datasets (sharing their memory), and how many images each holds (what a
 * training's settings record).
 */
export function experimentDatasets(data: ExperimentData): {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  images: { train: number; validation: number; test: number };
} {
  const [train, validation, test] = [data.train, data.validation, data.test].map(datasetOf);
  const images = { train: train.count, validation: validation.count, test: test.count };
  return { train, validation, test, images };
}

/** What {@link setupExperiment} hands a script. */
export interface Experiment {
  data: ExperimentData;
  backend: BackendSetup;
  out: string;
  /** MNIST whole, for data of other limits (another step's, see {@link setupTrainings}). */
  mnist: Mnist;
}

/** What {@link setupTraining} hands a script that trains. */
export interface TrainingExperiment extends Experiment {
  /** The engine that trains, chosen from `--engine` and `--workers`. */
  engine: EnginePlan;
}

/** The flags of a step that trains, as {@link setupTraining} takes them. */
export type TrainingFlagValues = CommonFlagValues & { engine: string; workers?: number };

/**
 * {@link setupExperiment} for a script that trains: also checks `--engine` and `--workers` first and
 * chooses the engine once the backend is set up. A shard of a step (`share`) shares the results folder
 * with the other shards: it holds each training it trains rather than the folder.
 */
export async function setupTraining(
  flags: TrainingFlagValues,
  options: { share?: boolean } = {},
): Promise<TrainingExperiment> {
  checkChoice("engine", flags.engine, ENGINE_CHOICES);
  if (flags.workers !== undefined) checkInteger("workers", flags.workers, 1);
  return await setupExperiment(flags, async (backend) => ({
    engine: await chooseEngine(flags.engine as EngineChoice, { backend, workers: flags.workers }),
  }), options);
}

/**
 * {@link setupTraining} for several steps that train together (`deno task together`): one backend and
 * engine — their `--engine`, `--workers`, `--backend` and `--data-dir` must agree, else a usage error
 * names the flag — MNIST loaded once, each step's folder held, and each step's data cut by its own seed
 * and limits; in the order of `steps`.
 */
export async function setupTrainings(
  steps: readonly TrainingFlagValues[],
): Promise<{ engine: EnginePlan; data: ExperimentData[] }> {
  for (const name of ["engine", "workers", "backend", "data-dir"] as const) {
    const values = [...new Set(steps.map((flags) => flags[name]))];
    check(
      values.length === 1,
      `the steps trained together must agree in --${name}; got ${values.join(" and ")}`,
    );
  }
  const [first, ...others] = steps;
  for (const flags of others) checkCommonFlags(flags);
  const { engine, data, mnist } = await setupTraining(first);
  const all = [data];
  for (const flags of others) {
    await holdFolder(flags.out);
    all.push(experimentData(mnist, flags));
  }
  return { engine, data: all };
}

/**
 * Checks the common flags, sets up the backend, makes and locks the results folder and loads MNIST (split
 * with the seed, cut to the limits) — all before any work, so that a run that cannot write its results
 * says so before it computes anything. Bad values are usage errors (exit code 2). `more` adds what a
 * script needs once the backend is up (the engine), before the folder is taken; `share` makes the folder
 * without holding it (a shard's, see {@link setupTraining}).
 */
export async function setupExperiment<T extends object = Record<never, never>>(
  flags: CommonFlagValues,
  more?: (backend: BackendSetup) => Promise<T>,
  options: { share?: boolean } = {},
): Promise<Experiment & T> {
  checkCommonFlags(flags);
  const dataDir = flags["data-dir"] || undefined;
  if (dataDir) await checkDataDir(dataDir);
  const backend = await setupBackend(flags.backend as BackendChoice).catch((error) => {
    throw new UsageError(describeError(error));
  });
  const extra = more ? await more(backend) : {} as T;
  await (options.share ? prepareFolder : holdFolder)(flags.out);
  const mnist = await loadMnist({ dataDir });
  return { data: experimentData(mnist, flags), backend, out: flags.out, mnist, ...extra };
}

/** Checks the values of {@link commonFlags} but the data folder; a bad one is a usage error. */
function checkCommonFlags(flags: CommonFlagValues): void {
  checkSeed(flags.seed);
  checkInteger("limit", flags.limit, 0);
  checkInteger("test-limit", flags["test-limit"], 0);
  checkChoice("backend", flags.backend, BACKEND_CHOICES);
}

/**
 * MNIST as an experiment of seed `seed` uses it: {@link VALIDATION_SIZE} training images held out for
 * validation by a split of that seed (a sixth of them where `limit` leaves fewer), the training images cut
 * to `limit` and the test images to `test-limit` (0: all).
 */
export function experimentData(
  mnist: Mnist,
  flags: Pick<CommonFlagValues, "seed" | "limit" | "test-limit">,
): ExperimentData {
  const limitedTrain = flags.limit > 0
    ? takeDigits(mnist.train, flags.limit + VALIDATION_SIZE)
    : mnist.train;
  const validationSize = Math.min(VALIDATION_SIZE, Math.floor(limitedTrain.count / 6));
  const split = splitTrainValidation(limitedTrain, { validationSize, seed: flags.seed });
  const train = flags.limit > 0 ? takeDigits(split.train, flags.limit) : split.train;
  const test = flags["test-limit"] > 0 ? takeDigits(mnist.test, flags["test-limit"]) : mnist.test;
  return { train, validation: split.validation, test };
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

/** Where `deno task train` leaves the trained model that later experiments reuse. */
export const TRAINED_MODEL = join(RESULTS_ROOT, "train", "model.safetensors");

/** Where `deno task classify` leaves the digit classifier that scores the digits' identity. */
export const TRAINED_CLASSIFIER = join(RESULTS_ROOT, "classify", "classifier.safetensors");

/**
 * Loads the trained model at `path` for an experiment that needs one: a missing file is a usage error that
 * says how to train one first; a file that is no such model (another kind, other shapes, values that are
 * not finite) is a usage error naming it and what is wrong.
 */
export function loadTrainedModel(path: string): Promise<Autoencoder> {
  return loadModel(
    path,
    { what: "trained model", task: "train", flag: "--model" },
    Autoencoder.load,
  );
}

/**
 * Loads the digit classifier at `path` for an experiment that scores identity, as
 * {@link loadTrainedModel} loads an autoencoder (an autoencoder's file is refused, saying so).
 */
export function loadClassifier(path: string): Promise<Classifier> {
  return loadModel(
    path,
    { what: "trained classifier", task: "classify", flag: "--classifier" },
    Classifier.load,
  );
}

async function loadModel<T>(
  path: string,
  made: { what: string; task: string; flag: string },
  load: (path: string) => Promise<T>,
): Promise<T> {
  let info;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new UsageError(
      `no ${made.what} at ${path}: run \`${taskCommand(made.task)}\` first (or pass ${made.flag})`,
    );
  }
  check(
    info.isFile,
    `${made.flag} ${path} is a folder, not a ${made.what}: pass its .safetensors file`,
  );
  try {
    return await load(path);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}`);
  }
}

/** Flags of a script that trains: epochs (default `epochs`), batch size, and lr, L2 and dropout. */
export function trainingFlags(epochs: number) {
  return {
    epochs: { type: "number", default: epochs, help: "passes over the training images" },
    "batch-size": { type: "number", default: 256, help: "images per step" },
    lr: { type: "number", help: "Adam's learning rate (default: best parameters)" },
    l2: { type: "number", help: "L2 weight decay (default: best parameters)" },
    dropout: { type: "number", help: "dropout probability (default: best parameters)" },
  } satisfies Record<string, FlagSpec>;
}

/** What a script trains with: {@link trainingFlags} checked, the parameters not given filled in. */
export interface TrainingParams extends BestParams {
  epochs: number;
  batchSize: number;
  /** Where the parameters not given as flags came from (none: "flags"). */
  source: string;
}

/**
 * Checks the values of {@link trainingFlags} and fills in lr, L2 and dropout not given from the best
 * parameters ({@link loadBestParams}) of the results root the script writes into (the folder above
 * `out`). Bad values are usage errors (exit code 2).
 */
export async function trainingParams(flags: {
  epochs: number;
  "batch-size": number;
  lr?: number;
  l2?: number;
  dropout?: number;
  out: string;
}): Promise<TrainingParams> {
  checkInteger("epochs", flags.epochs, 1);
  checkInteger("batch-size", flags["batch-size"], 1);
  const best = await loadBestParams(dirname(flags.out));
  const lr = flags.lr ?? best.params.lr;
  const l2 = flags.l2 ?? best.params.l2;
  const dropout = flags.dropout ?? best.params.dropout;
  const given = [flags.lr, flags.l2, flags.dropout].every((value) => value !== undefined);
  checkPositive("lr", lr);
  checkRange("l2", l2, 0, Infinity);
  checkRange("dropout", dropout, 0, 1);
  return {
    epochs: flags.epochs,
    batchSize: flags["batch-size"],
    lr,
    l2,
    dropout,
    source: given ? "flags" : best.source,
  };
}
