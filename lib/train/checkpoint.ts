/**
 * Checkpoints and the one resume rule. A checkpoint holds one training after an epoch — its model's
 * weights and Adam's moments (PyTorch names and layouts, prefixed `model.0.`, the moments further
 * `adam.first.` and `adam.second.`), its steps and epochs, its history — with its settings, in one
 * safetensors file written atomically.
 *
 * The rule, for every script and every kind of saved progress: the same settings resume where the saved
 * progress ends and train on to the epochs now asked for; other settings stop with one line that names the
 * setting that differs and says that `--fresh` starts over; progress already past the epochs asked for
 * says so in one line. Never a silent restart, never a result that claims other epochs than it trained.
 *
 * @module
 */
import { UsageError } from "../cli.ts";
import type { AdamMoments, Weights } from "../model/architecture.ts";
import { decodeSafetensors, encodeSafetensors, type TensorData } from "../model/weights.ts";
import { writeFileAtomic } from "../files/atomic.ts";
import type { FitResult, ModelState } from "./trainer.ts";

/** Where a run keeps its checkpoint, the settings a resume must share, and whether to start over. */
export interface CheckpointOptions {
  path: string;
  /** Everything that decides the trained weights besides the epochs (a JSON value). */
  settings: unknown;
  /** Start over: ignore a checkpoint left by an earlier run. */
  fresh?: boolean;
}

/** The prefix of each part's tensor names: the weights keep theirs, Adam's moments are marked. */
const PART_PREFIX = { weights: "", first: "adam.first.", second: "adam.second." } as const;

/**
 * The first setting in which `saved` and `now` differ, as `name: saved → now` (a dotted path into nested
 * settings), or undefined when they are the same.
 *
 * @example
 * ```ts
 * import { settingsDifference } from "./checkpoint.ts";
 * console.log(settingsDifference({ lr: 1e-3, batch: 64 }, { lr: 3e-3, batch: 64 })); // "lr: 0.001 → 0.003"
 * ```
 */
export function settingsDifference(saved: unknown, now: unknown, path = ""): string | undefined {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null;
  if (isObject(saved) && isObject(now) && Array.isArray(saved) === Array.isArray(now)) {
    if (Array.isArray(saved) && Array.isArray(now) && saved.length !== now.length) {
      return `${path || "settings"}: ${saved.length} entries → ${now.length}`;
    }
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
    if (!Array.isArray(saved)) keys.sort();
    for (const key of keys) {
      const inner = Array.isArray(saved) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      const difference = settingsDifference(saved[key], now[key], inner);
      if (difference) return difference;
    }
    return undefined;
  }
  const [a, b] = [saved, now].map((value) => JSON.stringify(value) ?? "none");
  return a === b ? undefined : `${path || "settings"}: ${a} → ${b}`;
}

/** What a run that trains advises for saved progress it cannot use: start over. */
export const START_OVER = "pass --fresh to start over";

/**
 * Throws a {@link UsageError} unless `saved` (the settings `what` was made with) equals `now`: one line that
 * names the first setting that differs and says what to do (`remedy`; by default that `--fresh` starts
 * over).
 */
export function checkSameSettings(
  saved: unknown,
  now: unknown,
  what: string,
  remedy = `${START_OVER}, or --out elsewhere`,
): void {
  const difference = settingsDifference(saved, now);
  if (difference) {
    throw new UsageError(`${what} was made with other settings (${difference}); ${remedy}`);
  }
}

/**
 * A model's weights and Adam's moments as safetensors tensors, their names prefixed with `prefix`: the
 * weights keep their PyTorch names, the moments are marked `adam.first.` and `adam.second.`.
 */
export function stateTensors(
  state: { weights: Weights; moments: AdamMoments },
  prefix = "",
): Record<string, TensorData> {
  const tensors: Record<string, TensorData> = {};
  const parts = { weights: state.weights, ...state.moments };
  for (const part of ["weights", "first", "second"] as const) {
    for (const [name, data] of Object.entries(parts[part])) {
      tensors[`${prefix}${PART_PREFIX[part]}${name}`] = { shape: [data.length], data };
    }
  }
  return tensors;
}

/** The inverse of {@link stateTensors}: one model's weights and moments, from names under `prefix`. */
export function tensorsState(
  tensors: Record<string, TensorData>,
  prefix = "",
): { weights: Weights; moments: AdamMoments } {
  const state = { weights: {} as Weights, moments: { first: {}, second: {} } as AdamMoments };
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

/** One training's checkpoint: its state after `epochs` epochs, and its history so far. */
export interface TrainingCheckpoint {
  state: ModelState;
  result: FitResult;
  epochs: number;
}

/** Saves one training's checkpoint at `path` with `settings`. */
export async function saveTrainingCheckpoint(
  path: string,
  settings: unknown,
  { state, result, epochs }: TrainingCheckpoint,
): Promise<void> {
  await writeCheckpoint(path, [state], { settings, results: [result], epochs });
}

/**
 * The checkpoint of one training at `options.path` by the resume rule, for a run asking for `epochs`
 * epochs; undefined where there is none (or `fresh`). A checkpoint of other settings or past `epochs` is
 * a {@link UsageError}; one that cannot be read is an error that says `--fresh` starts over.
 */
export async function loadTrainingCheckpoint(
  options: CheckpointOptions,
  epochs: number,
): Promise<TrainingCheckpoint | undefined> {
  const saved = await loadCheckpoint(options, epochs);
  if (!saved) return undefined;
  if (saved.states.length !== 1) {
    throw unreadableProgress(
      `the checkpoint ${options.path}`,
      options.path,
      new Error(`${saved.states.length} models, not one training's`),
    );
  }
  return { state: saved.states[0], result: saved.results[0], epochs: saved.epochs };
}

/**
 * Writes the states of models after `saved.epochs` epochs, with their results and settings (one
 * training's: one model, as `model.0.`).
 */
async function writeCheckpoint(
  path: string,
  states: readonly ModelState[],
  saved: { settings: unknown; results: FitResult[]; epochs: number },
): Promise<void> {
  const tensors: Record<string, TensorData> = {};
  for (const [i, state] of states.entries()) {
    Object.assign(tensors, stateTensors(state, `model.${i}.`));
  }
  await writeFileAtomic(
    path,
    encodeSafetensors(tensors, {
      settings: JSON.stringify(saved.settings),
      results: JSON.stringify(saved.results),
      epochs: String(saved.epochs),
      progress: JSON.stringify(states.map(({ steps, epochs }) => ({ steps, epochs }))),
    }),
  );
}

/** The checkpoint at `options.path`, checked by the resume rule; undefined where there is none (or `fresh`). */
async function loadCheckpoint(options: CheckpointOptions, epochs: number) {
  if (options.fresh) return undefined;
  let bytes;
  try {
    bytes = await Deno.readFile(options.path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const saved = readCheckpoint(bytes, options.path);
  checkSameSettings(saved.settings, options.settings, `the checkpoint ${options.path}`);
  if (saved.epochs > epochs) {
    throw new UsageError(
      `the checkpoint ${options.path} has trained ${saved.epochs} epochs, past the ${epochs} asked ` +
        "for; ask for more epochs, or pass --fresh to start over",
    );
  }
  return saved;
}

/**
 * The error for saved progress (`what`, the file at `path`) that cannot be read or used, `error` saying
 * why: one line that names it and says what to do (`remedy`; by default that `--fresh` starts over).
 *
 * @example
 * ```ts
 * import { unreadableProgress } from "./checkpoint.ts";
 * const error = unreadableProgress("trainings/d-004.json", "trainings/d-004.json", new Error("not JSON"));
 * console.log(error.message); // trainings/d-004.json is unreadable (not JSON); pass --fresh to start over
 * ```
 */
export function unreadableProgress(
  what: string,
  path: string,
  error: unknown,
  remedy = START_OVER,
): Error {
  const reason = (error instanceof Error ? error.message : String(error))
    .replaceAll(`${path}: `, "")
    .replace(/\s*\n\s*/g, " ");
  return new Error(`${what} is unreadable (${reason}); ${remedy}`);
}

/** A checkpoint's contents, checked; anything unreadable is an error naming `path` and `--fresh`. */
function readCheckpoint(bytes: Uint8Array, path: string) {
  try {
    const { tensors, metadata } = decodeSafetensors(bytes, path);
    const progress: { steps: number; epochs: number }[] = JSON.parse(metadata.progress);
    const states: ModelState[] = progress.map((counts, i) => ({
      ...tensorsState(tensors, `model.${i}.`),
      ...counts,
    }));
    return {
      settings: JSON.parse(metadata.settings) as unknown,
      results: JSON.parse(metadata.results) as FitResult[],
      epochs: Number(metadata.epochs),
      states,
    };
  } catch (error) {
    throw unreadableProgress(`the checkpoint ${path}`, path, error);
  }
}
