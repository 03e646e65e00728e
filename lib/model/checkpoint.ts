/**
 * Checkpoints of a training run: the weights (PyTorch names and layouts), Adam's moments, the steps and
 * epochs taken and the history so far, in one safetensors file written atomically after each epoch, so
 * that an interrupted run resumes exactly where it stopped.
 *
 * @module
 */
import type { EpochRecord } from "../fit.ts";
import type { Autoencoder } from "./autoencoder.ts";
import { loadSafetensors, saveSafetensors, type TensorData } from "./weights.ts";

/** The names Adam's moments are stored under, beside the weights. */
const MOMENTS = { first: "adam.first", second: "adam.second" } as const;

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
  const state = await model.getTrainingState();
  const weights = await model.getWeights();
  const tensors: Record<string, TensorData> = {};
  for (const [name, data] of Object.entries(weights)) {
    tensors[name] = { shape: [data.length], data };
  }
  tensors[MOMENTS.first] = { shape: [state.first.length], data: state.first };
  tensors[MOMENTS.second] = { shape: [state.second.length], data: state.second };
  await saveSafetensors(path, tensors, {
    settings: JSON.stringify(settings),
    history: JSON.stringify(history),
    steps: String(state.steps),
    epochs: String(state.epochs),
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
  let saved;
  try {
    saved = await loadSafetensors(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const { tensors, metadata } = saved;
  if (metadata.settings !== JSON.stringify(settings)) return undefined;
  const weights = Object.fromEntries(
    Object.entries(tensors)
      .filter(([name]) => !Object.values<string>(MOMENTS).includes(name))
      .map(([name, tensor]) => [name, tensor.data]),
  );
  model.setWeights(weights);
  model.setTrainingState({
    steps: Number(metadata.steps),
    epochs: Number(metadata.epochs),
    first: tensors[MOMENTS.first].data,
    second: tensors[MOMENTS.second].data,
  });
  return JSON.parse(metadata.history) as EpochRecord[];
}
