/**
 * Checkpoints of a training run, written atomically after each epoch so that an interrupted run resumes
 * exactly where it stopped: one safetensors file with the weights and Adam's moments (PyTorch names and
 * layouts), the steps and epochs taken, the history so far and the run's settings (a resume needs the
 * same). A single model's tensors keep their names (`adam.first.<name>` and `adam.second.<name>` for the
 * moments); a population's are prefixed with `model.<i>.`.
 *
 * @module
 */
import type { EpochRecord, FitResult } from "../fit.ts";
import type { Population } from "../gpu/population.ts";
import type { AdamMoments, Weights } from "./architecture.ts";
import type { Autoencoder } from "./autoencoder.ts";
import { loadSafetensors, saveSafetensors, type TensorData } from "./weights.ts";

/** The prefix of each part's tensor names: the weights keep theirs, Adam's moments are marked. */
const PART_PREFIX = { weights: "", first: "adam.first.", second: "adam.second." } as const;

/** What a checkpoint holds of one model. */
interface ModelState {
  weights: Weights;
  moments: AdamMoments;
}

/** Tensors of one model's weights and moments, their names prefixed with `prefix`. */
function stateTensors(prefix: string, state: ModelState): Record<string, TensorData> {
  const tensors: Record<string, TensorData> = {};
  const parts = { weights: state.weights, ...state.moments };
  for (const part of ["weights", "first", "second"] as const) {
    for (const [name, data] of Object.entries(parts[part])) {
      tensors[prefix + PART_PREFIX[part] + name] = { shape: [data.length], data };
    }
  }
  return tensors;
}

/** One model's weights and moments out of a checkpoint's tensors, their names prefixed with `prefix`. */
function readState(tensors: Record<string, TensorData>, prefix: string): ModelState {
  const state: ModelState = { weights: {}, moments: { first: {}, second: {} } };
  for (const [key, { data }] of Object.entries(tensors)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    const moment = (["first", "second"] as const).find((part) =>
      name.startsWith(PART_PREFIX[part])
    );
    if (moment) state.moments[moment][name.slice(PART_PREFIX[moment].length)] = data;
    else state.weights[name] = data;
  }
  return state;
}

/** The checkpoint at `path` when it exists and was saved with `settings`, else `undefined`. */
async function loadMatching(path: string, settings: unknown) {
  try {
    const saved = await loadSafetensors(path);
    return saved.metadata.settings === JSON.stringify(settings) ? saved : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Saves `model`'s weights and training state with the run's `settings` (any JSON value that must match
 * for a resume) and `history`.
 */
export async function saveCheckpoint(
  path: string,
  model: Autoencoder,
  settings: unknown,
  history: EpochRecord[],
): Promise<void> {
  const { steps, epochs, moments } = await model.getTrainingState();
  await saveSafetensors(path, stateTensors("", { weights: await model.getWeights(), moments }), {
    settings: JSON.stringify(settings),
    history: JSON.stringify(history),
    steps: String(steps),
    epochs: String(epochs),
  });
}

/**
 * Restores the checkpoint at `path` into `model` when it exists and was saved with the same `settings`;
 * returns its history, or `undefined` (nothing restored) otherwise.
 */
export async function resumeCheckpoint(
  path: string,
  model: Autoencoder,
  settings: unknown,
): Promise<EpochRecord[] | undefined> {
  const saved = await loadMatching(path, settings);
  if (!saved) return undefined;
  const { weights, moments } = readState(saved.tensors, "");
  model.setWeights(weights);
  model.setTrainingState({
    steps: Number(saved.metadata.steps),
    epochs: Number(saved.metadata.epochs),
    moments,
  });
  return JSON.parse(saved.metadata.history);
}

/** Saves every model of `population` (weights and moments), its progress and `results`, with `settings`. */
export async function savePopulationCheckpoint(
  path: string,
  population: Population,
  settings: unknown,
  results: FitResult[],
): Promise<void> {
  const tensors: Record<string, TensorData> = {};
  for (let i = 0; i < population.models.length; i++) {
    const state = {
      weights: await population.getWeights(i),
      moments: await population.getMoments(i),
    };
    Object.assign(tensors, stateTensors(`model.${i}.`, state));
  }
  await saveSafetensors(path, tensors, {
    settings: JSON.stringify(settings),
    results: JSON.stringify(results),
    steps: String(population.steps),
    epochs: String(population.epochs),
  });
}

/**
 * Restores the population checkpoint at `path` into `population` when it exists and was saved with the
 * same `settings`; returns its results, or `undefined` (nothing restored) otherwise.
 */
export async function resumePopulationCheckpoint(
  path: string,
  population: Population,
  settings: unknown,
): Promise<FitResult[] | undefined> {
  const saved = await loadMatching(path, settings);
  if (!saved) return undefined;
  for (let i = 0; i < population.models.length; i++) {
    const { weights, moments } = readState(saved.tensors, `model.${i}.`);
    population.setWeights(i, weights);
    population.setMoments(i, moments);
  }
  population.setProgress({
    steps: Number(saved.metadata.steps),
    epochs: Number(saved.metadata.epochs),
  });
  return JSON.parse(saved.metadata.results);
}
