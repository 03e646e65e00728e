/**
 * A step's set of independent trainings — a search's trials, a sweep's sizes, the denoisers — kept as one
 * result per training in a folder: `<id>.json` (its settings and history) and `<id>.state.safetensors`
 * (its weights, Adam's moments, steps and epochs). A run trains, as one population on the chosen engine,
 * every training that has not yet reached the epochs asked for — new ones from their seed, finished ones
 * on from their saved state — with a checkpoint after each epoch, and writes each result atomically when
 * its training ends. So an interrupted step resumes where it was, a step asked for more epochs trains on,
 * and successive halving continues its survivors from their own state.
 *
 * Every kept result obeys the one resume rule (`checkpoint.ts`): other settings stop with one line that
 * names the setting and says `--fresh` starts over; more epochs than asked for are refused.
 *
 * @module
 */
import { UsageError } from "../cli.ts";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../files.ts";
import { decodeSafetensors, encodeSafetensors } from "../model/weights.ts";
import { checkSameSettings, stateTensors, tensorsState } from "./checkpoint.ts";
import { createTrainer, type EnginePlan } from "./engine.ts";
import { fit } from "./fit.ts";
import type { FitResult, ModelState, TrainingJob } from "./trainer.ts";

/** One training of a step. */
export interface Training {
  /** Names its files: letters, digits, `-` and `_` (e.g. `trial-07`, `d-04`, `noise`). */
  id: string;
  job: TrainingJob;
  /** Everything that decides its result besides the epochs (a JSON value). */
  settings: unknown;
}

/** What a training leaves in `<id>.json`. */
export interface TrainingRecord extends FitResult {
  id: string;
  settings: unknown;
  /** What trained its last epochs, e.g. `2 workers, tfjs wasm each`. */
  engine: string;
}

/** How {@link runTrainings} trains. */
export interface TrainingsOptions {
  /** The folder of the results, `<out>/trainings`. */
  folder: string;
  /** Epochs every training reaches. */
  epochs: number;
  engine: EnginePlan;
  batchSize: number;
  /** Prefix of the progress bars. */
  label: string;
  /** Which trainings this run trains, by index (a shard's share); default all. */
  owns?: (index: number) => boolean;
  /** Start over: the results of an earlier run in the folder are removed first. */
  fresh?: boolean;
  /**
   * What a kept result that has trained past `epochs` means: an error (`refuse`, the default: the step's
   * outputs would claim other epochs than asked for), or a training that is done (`keep`: successive
   * halving reads each rung's loss from its history).
   */
  pastEpochs?: "refuse" | "keep";
}

/** A training's id as its files name it: anything else is refused. */
const ID = /^[A-Za-z0-9_-]+$/;

/**
 * Trains those of `trainings` (that this run owns) which have not reached `options.epochs`, and returns
 * every training's record in order — undefined for one that is neither kept nor trained here.
 *
 * @example
 * ```ts ignore
 * const records = await runTrainings(trainings, { folder, epochs: 10, engine, batchSize: 256, label: "sweep" });
 * ```
 */
export async function runTrainings(
  trainings: readonly Training[],
  options: TrainingsOptions,
): Promise<(TrainingRecord | undefined)[]> {
  if (options.fresh) await Deno.remove(options.folder, { recursive: true }).catch(() => {});
  const past = options.pastEpochs === "keep" ? Infinity : options.epochs;
  const records = await readRecords(trainings, options.folder, past);
  // The trainings to train, grouped by the epochs they start from (one population each).
  const groups = new Map<number, number[]>();
  trainings.forEach((_, i) => {
    const record = records[i];
    const owned = options.owns?.(i) ?? true;
    if (!owned || record?.diverged || (record?.history.length ?? 0) >= options.epochs) return;
    const start = record?.history.length ?? 0;
    groups.set(start, [...groups.get(start) ?? [], i]);
  });
  for (const [start, members] of [...groups].sort(([a], [b]) => a - b)) {
    const trained = await trainGroup(members.map((i) => trainings[i]), {
      ...options,
      from: members.map((i) => records[i]),
      start,
    });
    members.forEach((i, k) => records[i] = trained[k]);
  }
  return records;
}

/** The state a training saved (weights, Adam's moments, steps, epochs), for its model or to train on. */
export async function readTrainingState(folder: string, id: string): Promise<ModelState> {
  const path = statePath(folder, id);
  const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
  return {
    ...tensorsState(tensors),
    steps: Number(metadata.steps),
    epochs: Number(metadata.epochs),
  };
}

/** The kept records of `trainings` in `folder`, each checked by the resume rule (at most `epochs`). */
async function readRecords(
  trainings: readonly Training[],
  folder: string,
  epochs: number,
): Promise<(TrainingRecord | undefined)[]> {
  const records = [];
  for (const { id, settings } of trainings) {
    if (!ID.test(id)) throw new RangeError(`a training's id must be a file name, got "${id}"`);
    const path = recordPath(folder, id);
    const record = await readJsonIfExists<TrainingRecord>(path);
    if (record) {
      checkSameSettings(record.settings, settings, path);
      if (record.history.length > epochs) {
        throw new UsageError(
          `${path} has trained ${record.history.length} epochs, past the ${epochs} asked for; ask ` +
            "for more epochs, or pass --fresh to start over",
        );
      }
    }
    records.push(record);
  }
  return records;
}

/**
 * Trains `members` together from epoch `start` (from their saved states where they have any) to the
 * epochs asked for, with a checkpoint of the population after each epoch; writes and returns their
 * records.
 */
async function trainGroup(
  members: readonly Training[],
  options: TrainingsOptions & { from: (TrainingRecord | undefined)[]; start: number },
): Promise<TrainingRecord[]> {
  const { folder, epochs, label } = options;
  const trainer = await createTrainer(options.engine, members.map(({ job }) => job), options);
  try {
    for (const [k, member] of members.entries()) {
      if (options.from[k]) await trainer.setState(k, await readTrainingState(folder, member.id));
    }
    const ids = members.map(({ id }) => id);
    const checkpoint = `${folder}/checkpoint-${await digest(ids.join(","))}.safetensors`;
    const results = await fit(trainer, {
      epochs,
      label: members.length === 1 ? `${label} ${members[0].job.name}` : label,
      from: options.from.map((record) => record ?? { history: [], diverged: false }),
      checkpoint: {
        path: checkpoint,
        settings: { trainings: members.map(({ id, settings }) => ({ id, settings })) },
      },
    });
    const records = [];
    for (const [k, member] of members.entries()) {
      const record = {
        id: member.id,
        settings: member.settings,
        engine: trainer.description,
        ...results[k],
      };
      // A diverged training keeps its record (it says so) but no state to train on or use.
      if (!record.diverged) await writeState(folder, member.id, await trainer.getState(k));
      await writeJsonAtomic(recordPath(folder, member.id), record);
      records.push(record);
    }
    await Deno.remove(checkpoint).catch(() => {});
    return records;
  } finally {
    await trainer.dispose();
  }
}

/** Saves a training's state as safetensors (see `stateTensors`), its steps and epochs as metadata. */
async function writeState(folder: string, id: string, state: ModelState): Promise<void> {
  const metadata = { steps: String(state.steps), epochs: String(state.epochs) };
  await writeFileAtomic(statePath(folder, id), encodeSafetensors(stateTensors(state), metadata));
}

function recordPath(folder: string, id: string): string {
  return `${folder}/${id}.json`;
}

function statePath(folder: string, id: string): string {
  return `${folder}/${id}.state.safetensors`;
}

/** A short hex digest of `text`, to name a population's checkpoint after its members. */
async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash).subarray(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
