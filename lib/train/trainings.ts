/**
 * A step's set of independent trainings — a search's trials, a sweep's sizes, the denoisers — kept as one
 * result per training in a folder: `<id>.json` (its settings and history) and `<id>.state.safetensors`
 * (its weights, Adam's moments, steps and epochs). A run trains, as one population on the chosen engine,
 * every training it owns (all, or a shard's share) that has not yet reached the epochs asked for — new
 * ones from their seed, finished ones on from their saved state — with a checkpoint of each training
 * after each epoch (`<id>.checkpoint.safetensors`: found by the training's id whichever run made it, a
 * shard or a whole run, resumed from, and removed once the training's result is written), and writes each
 * result atomically when its training ends (an earlier aelab's checkpoints, one per population, are
 * removed with a line). So an interrupted step resumes where it
 * was, a step asked for more epochs trains on, and successive halving continues its survivors from their
 * own state.
 *
 * Processes share the folder (the shards of a step, on one machine or many over a network file system):
 * each holds a lock on every training it trains (`<id>.lock`, see `takeLock`), and skips, with a line,
 * one that a live process holds — or, a run that waits for others (a whole run), waits for its result,
 * and takes it over and trains it if its holder dies. The step's outputs are then made from every result
 * there ({@link gatherTrainings}), by whichever run writes them.
 *
 * Every kept result obeys the one resume rule (`checkpoint.ts`): other settings stop with one line that
 * names the setting and says `--fresh` starts over; more epochs than asked for are refused.
 *
 * @module
 */
import { statfsSync } from "node:fs";
import { counted, UsageError } from "../cli.ts";
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from "../files/atomic.ts";
import {
  describeHolder,
  type LockHolder,
  releaseLock,
  removeDeadLock,
  takeLock,
} from "../files/lock.ts";
import { decodeSafetensors, encodeSafetensors } from "../model/weights.ts";
import {
  checkSameSettings,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  START_OVER,
  stateTensors,
  tensorsState,
  unreadableProgress,
} from "./checkpoint.ts";
import { createTrainer, type EnginePlan } from "./engine.ts";
import { fit } from "./fit.ts";
import type { EpochRecord, FitResult, ModelState, Trainer, TrainingJob } from "./trainer.ts";

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
  /**
   * What decided its numbers (the trainer's `numerics`, e.g. `tfjs wasm`): trainings of other numerics
   * differ in the last digits, so they are not merged together. None in records of earlier versions.
   */
  numerics?: string;
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
  /**
   * On a pool of aelab's wasm workers, train fewer trainings than workers data-parallel on all of them
   * (see `TrainerOptions`); default false, so that a training's numbers do not depend on the grouping.
   */
  dataParallel?: boolean;
  /** Which trainings this run trains, by index (a shard's share); default all. */
  owns?: (index: number) => boolean;
  /** Start over: the kept results of the trainings this run trains are removed first. */
  fresh?: boolean;
  /**
   * What a kept result that has trained past `epochs` means: an error (`refuse`, the default: the step's
   * outputs would claim other epochs than asked for), or a training that is done (`keep`: successive
   * halving reads each rung's loss from its history).
   */
  pastEpochs?: "refuse" | "keep";
  /**
   * Wait for the results of the trainings this run owns that live processes hold, taking over and
   * training any whose holder dies (a whole run), instead of leaving them to those processes.
   */
  wait?: boolean;
}

/** A training's id as its files name it: anything else is refused. */
const ID = /^[A-Za-z0-9_-]+$/;

/** How often a run waiting for other processes' trainings looks for their results. */
const POLL_MS = 1000;

/**
 * Trains those of `trainings` that this run owns and that have not reached `options.epochs`, except any
 * a live process holds (skipped with a line; with `options.wait`, waited for, and trained here once its
 * holder dies); returns every training's record in order — undefined for one that is neither kept nor
 * trained here.
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
  const { folder, epochs } = options;
  await removeEarlierCheckpoints(folder, options.label);
  const past = options.pastEpochs === "keep" ? Infinity : epochs;
  const owned = trainings.map((_, i) => options.owns?.(i) ?? true);
  const placed: Placed[] = trainings.map((training) => ({ ...options, training }));
  // Kept results: those of the trainings this run starts over do not count.
  const records: (TrainingRecord | undefined)[] = [];
  for (const [i, training] of trainings.entries()) {
    records.push(options.fresh && owned[i] ? undefined : await readRecord(training, folder, past));
  }
  let left = [...trainings.keys()].filter((i) => owned[i] && !isDone(records[i], epochs));
  await removeDeadLocks(trainings.filter((_, i) => owned[i] && !left.includes(i)), folder);
  const said = new Set<string>();
  while (true) {
    const held = await holdTrainings(left, trainings, folder, said);
    const trained = await trainHeld(held.map((i) => placed[i]), options);
    held.forEach((i, k) => records[i] = trained[k]);
    left = left.filter((i) => !held.includes(i));
    if (left.length === 0 || !options.wait) return records;
    // Other processes train these: wait for their results, taking over any whose holder dies.
    sayWaiting(missingList(left.map((i) => trainings[i].id), trainings.length), said);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    for (const i of left) records[i] = await readRecord(trainings[i], folder, past);
    await removeDeadLocks(
      left.filter((i) => isDone(records[i], epochs)).map((i) => trainings[i]),
      folder,
    );
    left = left.filter((i) => !isDone(records[i], epochs));
  }
}

/** A step's trainings, and how far and where it trains them: what {@link trainTogether} takes. */
export interface TrainingSet extends Pick<TrainingsOptions, "folder" | "epochs" | "batchSize"> {
  trainings: readonly Training[];
  /** Names the step in progress lines, e.g. `sweep`. */
  label: string;
}

/**
 * Trains the trainings of several steps — each set kept in its own folder, to its own epochs, by the
 * rules of {@link runTrainings} — as one population: those furthest behind train together, each set's
 * dropping out as it reaches its epochs, so that no worker waits for another step. A training a live
 * process holds is skipped with a line, and left to it. What the step's own run then finds is a result
 * of each training, as if it had trained it.
 *
 * @example
 * ```ts ignore
 * await trainTogether([trainSet, sweepSet, denoiseSet], { engine });
 * ```
 */
export async function trainTogether(
  sets: readonly TrainingSet[],
  options: { engine: EnginePlan; fresh?: boolean },
): Promise<void> {
  const held: Placed[] = [];
  for (const set of sets) {
    const { trainings, folder, epochs } = set;
    await removeEarlierCheckpoints(folder, set.label);
    const left: number[] = [];
    for (const [i, training] of trainings.entries()) {
      const record = options.fresh ? undefined : await readRecord(training, folder, epochs);
      if (!isDone(record, epochs)) left.push(i);
    }
    await removeDeadLocks(trainings.filter((_, i) => !left.includes(i)), folder);
    const taken = await holdTrainings(left, trainings, folder, new Set());
    held.push(
      ...taken.map((i) => ({
        folder,
        epochs,
        batchSize: set.batchSize,
        label: set.label,
        training: trainings[i],
      })),
    );
  }
  await trainHeld(held, options);
}

/** A training with what its step asks of it: where its files are, how far and how it trains. */
interface Placed extends Omit<TrainingSet, "trainings"> {
  training: Training;
}

/** How {@link trainHeld} trains. */
type HeldOptions = Pick<TrainingsOptions, "engine" | "dataParallel" | "fresh" | "pastEpochs">;

/**
 * Trains the trainings `held` that this process holds, on from their kept results or checkpoints, to the
 * epochs each asks for: those furthest behind (and of one batch size) as one population, to the fewest
 * epochs one of them asks for, then on with the rest; writes each one's result as it ends, releases
 * them and returns their records in order.
 */
async function trainHeld(
  held: readonly Placed[],
  options: HeldOptions,
): Promise<(TrainingRecord | undefined)[]> {
  const records: (TrainingRecord | undefined)[] = [];
  // The states of the trainings that go on from their checkpoints (or from an earlier group), by index.
  const resumed = new Map<number, ModelState>();
  try {
    // Once held, a training's result is read again: another process may have finished it meanwhile;
    // then its checkpoint, where one is ahead of its result.
    for (const [k, { training, folder, epochs, label }] of held.entries()) {
      const { id, settings } = training;
      const past = options.pastEpochs === "keep" ? Infinity : epochs;
      if (options.fresh) await removeResult(folder, id);
      records.push(options.fresh ? undefined : await readRecord(training, folder, past));
      const path = checkpointPath(folder, id);
      const saved = await loadTrainingCheckpoint({ path, settings, fresh: options.fresh }, past);
      if (saved && saved.epochs > (records[k]?.history.length ?? 0)) {
        console.error(`${label}: resuming after epoch ${saved.epochs} from ${path}`);
        records[k] = { id, settings, engine: "", ...saved.result };
        resumed.set(k, saved.state);
      } else await removeFile(path); // behind its result, or to start over
    }
    // One resumed at the epochs asked for trains none, and writes its result.
    let left = [...held.keys()].filter((k) =>
      resumed.has(k) || !isDone(records[k], held[k].epochs)
    );
    while (left.length > 0) {
      const startOf = (k: number) => records[k]?.history.length ?? 0;
      const first = left.reduce((a, b) => (startOf(b) < startOf(a) ? b : a));
      const members = left.filter((k) =>
        startOf(k) === startOf(first) && held[k].batchSize === held[first].batchSize
      );
      const until = Math.min(...members.map((k) => held[k].epochs));
      const trained = await trainGroup(members.map((k) => held[k]), {
        ...options,
        from: members.map((k) => records[k]),
        states: members.map((k) => resumed.get(k)),
        until,
      });
      members.forEach((k, m) => {
        records[k] = trained[m].record;
        const state = trained[m].state;
        if (state) resumed.set(k, state);
        else resumed.delete(k);
      });
      left = left.filter((k) => resumed.has(k));
    }
  } catch (error) {
    for (const { training, folder } of held) await releaseLock(lockPath(folder, training.id));
    // A run that failed before any result leaves no empty folder behind.
    for (const folder of new Set(held.map((placed) => placed.folder))) {
      await Deno.remove(folder).catch(() => {});
    }
    throw error;
  }
  for (const { training, folder } of held) await releaseLock(lockPath(folder, training.id));
  return records;
}

/**
 * The ids of those of `trainings` that this run owns (`owns`, as in {@link TrainingsOptions}) and whose
 * record (`records`, as {@link runTrainings} returned them) is not done at `epochs`: those other live
 * processes held, and this run skipped.
 */
export function unfinishedTrainings(
  trainings: readonly Training[],
  records: readonly (TrainingRecord | undefined)[],
  epochs: number,
  owns: (index: number) => boolean = () => true,
): string[] {
  return trainings.filter((_, i) => owns(i) && !isDone(records[i], epochs)).map(({ id }) => id);
}

/** How {@link gatherTrainings} reads the results. */
export interface GatherOptions {
  /** The folder of the results, `<out>/trainings`. */
  folder: string;
  /** Epochs every training must have reached (or diverged before). */
  epochs: number;
  /** As in {@link TrainingsOptions}: whether a result past `epochs` is refused or counts as done. */
  pastEpochs?: "refuse" | "keep";
  /** Wait for the results not there yet (other processes train them), instead of stopping. */
  wait: boolean;
  /**
   * Whether the run is a merge, which trains nothing: what it cannot use is redone by rerunning the
   * shard that trains it, not by `--fresh` (which a merge refuses).
   */
  merge?: boolean;
}

/** What a merge advises for a kept result it cannot read. */
const RERUN_SHARD = "rerun the shard that trains it with --fresh, then merge again";

/**
 * Every training's record at `options.epochs` (or diverged before), read from the folder, each checked
 * by the resume rule, its state read whole, and all of the same numerics — so that a run that writes
 * the step's outputs from them has read and checked every input before it writes anything. Where some
 * are missing, it stops with one line listing them — or, with `wait`, says once which it waits for and
 * reads again each second until they are all there. Once all are there, it removes the locks that dead
 * runs left on them.
 *
 * @example
 * ```ts ignore
 * const records = await gatherTrainings(trainings, { folder, epochs: 10, wait: false });
 * ```
 */
export async function gatherTrainings(
  trainings: readonly Training[],
  options: GatherOptions,
): Promise<TrainingRecord[]> {
  const { folder, epochs } = options;
  const past = options.pastEpochs === "keep" ? Infinity : epochs;
  const remedy = options.merge ? RERUN_SHARD : START_OVER;
  const said = new Set<string>();
  while (true) {
    const records: (TrainingRecord | undefined)[] = [];
    for (const training of trainings) {
      records.push(await readRecord(training, folder, past, remedy));
    }
    const missing = trainings.filter((_, i) => !isDone(records[i], epochs)).map(({ id }) => id);
    if (missing.length === 0) {
      checkSameNumerics(records as TrainingRecord[], folder);
      for (const record of records as TrainingRecord[]) {
        if (!record.diverged) await readTrainingState(folder, record.id, remedy);
      }
      await removeDeadLocks(trainings, folder);
      return records as TrainingRecord[];
    }
    const list = missingList(missing, trainings.length);
    if (!options.wait) {
      throw new Error(
        `${list} have no result at ${
          counted(epochs, "epoch")
        } in ${folder}: run the shards that train ` +
          "them, then merge again",
      );
    }
    sayWaiting(list, said);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Throws a {@link UsageError} naming each side where `records` were trained on other numerics (shards
 * run with other `--engine` or `--backend`): their losses differ in the last digits from one process's.
 */
function checkSameNumerics(records: readonly TrainingRecord[], folder: string): void {
  const byNumerics = new Map<string, string[]>();
  for (const { id, numerics } of records) {
    if (numerics !== undefined) byNumerics.set(numerics, [...byNumerics.get(numerics) ?? [], id]);
  }
  if (byNumerics.size <= 1) return;
  const sides = [...byNumerics].map(([numerics, ids]) => `${ids.join(", ")} by ${numerics}`);
  throw new UsageError(
    `the trainings in ${folder} were trained on different engines (${sides.join("; ")}), whose ` +
      "numbers differ in the last digits: rerun the shards of one side with --fresh and the other " +
      "side's --engine and --backend, then merge again",
  );
}

/**
 * A training's history as a step's outputs show it: each epoch's losses, without the seconds it took —
 * which differ from run to run, and between a step's shards and a whole run.
 */
export function lossHistory(
  history: readonly EpochRecord[],
): Omit<EpochRecord, "seconds" | "samplesPerSecond">[] {
  return history.map(({ epoch, trainLoss, validationLoss, testLoss }) => ({
    epoch,
    trainLoss,
    validationLoss,
    testLoss,
  }));
}

/**
 * The state a training saved (weights, Adam's moments, steps, epochs), for its model or to train on; one
 * that cannot be read is an error that names the file and says that `--fresh` starts over.
 */
export async function readTrainingState(
  folder: string,
  id: string,
  remedy = START_OVER,
): Promise<ModelState> {
  const path = statePath(folder, id);
  try {
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path), path);
    const [steps, epochs] = [metadata.steps, metadata.epochs].map(Number);
    if (!Number.isInteger(steps) || !Number.isInteger(epochs)) {
      throw new Error("no steps and epochs in its metadata");
    }
    return { ...tensorsState(tensors), steps, epochs };
  } catch (error) {
    throw unreadableProgress(path, path, error, remedy);
  }
}

/** Whether a training's record shows it done at `epochs`: trained that far, or diverged before. */
function isDone(record: TrainingRecord | undefined, epochs: number): boolean {
  return record !== undefined && (record.diverged || record.history.length >= epochs);
}

/**
 * The kept record of `training` in `folder`, checked by the resume rule (at most `epochs`); what cannot
 * be used is an error that says what to do (`remedy`).
 */
async function readRecord(
  { id, settings }: Training,
  folder: string,
  epochs: number,
  remedy = START_OVER,
): Promise<TrainingRecord | undefined> {
  if (!ID.test(id)) throw new RangeError(`a training's id must be a file name, got "${id}"`);
  const path = recordPath(folder, id);
  const record = await readJsonIfExists<TrainingRecord>(path).catch((error) => {
    throw unreadableProgress(path, path, error, remedy);
  });
  if (record && !Array.isArray(record.history)) {
    throw unreadableProgress(path, path, new Error("no history"), remedy);
  }
  if (record) {
    checkSameSettings(
      record.settings,
      settings,
      path,
      remedy === START_OVER ? undefined : "merge with the flags its shards were given",
    );
    if (record.history.length > epochs) {
      throw new UsageError(
        `${path} has trained ${record.history.length} epochs, past the ${epochs} asked for; ask ` +
          `for more epochs, or ${remedy}`,
      );
    }
  }
  return record;
}

/**
 * Takes the lock of each of `trainings` of `indices` in `folder`; returns the indices of those this
 * process now holds, and says in one line per holder which ones live processes hold (and this run
 * skips), unless `said` already has that line.
 */
async function holdTrainings(
  indices: readonly number[],
  trainings: readonly Training[],
  folder: string,
  said: Set<string>,
): Promise<number[]> {
  const held: number[] = [];
  const skipped = new Map<string, { holder: LockHolder; ids: string[] }>();
  for (const i of indices) {
    const { id } = trainings[i];
    const holder = await takeLock(lockPath(folder, id));
    if (!holder) held.push(i);
    else {
      // One process holds each of its trainings' locks since another moment: it is one holder.
      const key = `${holder.pid}@${holder.host}`;
      skipped.set(key, { holder, ids: [...skipped.get(key)?.ids ?? [], id] });
    }
  }
  for (const { holder, ids } of skipped.values()) {
    say(`skipping ${ids.join(", ")}: held by ${describeHolder(holder)}`, said);
  }
  return held;
}

/**
 * Removes the locks that dead runs left on `trainings` in `folder`, which are done: a run killed after a
 * training's result was written, before it released the training.
 */
async function removeDeadLocks(trainings: readonly Training[], folder: string): Promise<void> {
  for (const { id } of trainings) await removeDeadLock(lockPath(folder, id));
}

/** `2 of 5 trainings (d-002, d-004)`: the trainings of `ids` among `count`. */
function missingList(ids: readonly string[], count: number): string {
  return `${ids.length} of ${count} trainings (${ids.join(", ")})`;
}

/** Says that this run waits for the trainings of `list` ({@link missingList}), unless `said` has it. */
function sayWaiting(list: string, said: Set<string>): void {
  say(`waiting for ${list}, trained by other processes`, said);
}

/** Says `line` (on stderr) unless `said` has it; adds it there. */
function say(line: string, said: Set<string>): void {
  if (!said.has(line)) console.error(line);
  said.add(line);
}

/** Removes a training's kept result (its record, state and checkpoint), to train it from its seed. */
async function removeResult(folder: string, id: string): Promise<void> {
  for (const path of [recordPath(folder, id), statePath(folder, id), checkpointPath(folder, id)]) {
    await removeFile(path);
  }
}

/** The checkpoints an earlier aelab kept, one per population: `checkpoint-<hash>.safetensors`. */
const EARLIER_CHECKPOINT = /^checkpoint-[0-9a-f]+\.safetensors$/;

/**
 * Removes the checkpoints an earlier aelab kept in `folder`, one per population ({@link
 * EARLIER_CHECKPOINT}), saying so in one line where there were any: nothing resumes from them since each
 * training keeps its own ({@link checkpointPath}).
 */
async function removeEarlierCheckpoints(folder: string, label: string): Promise<void> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isFile && EARLIER_CHECKPOINT.test(entry.name)) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // not made yet
    throw error;
  }
  if (names.length === 0) return;
  for (const name of names) await removeFile(`${folder}/${name}`);
  console.error(
    `${label}: removed ${counted(names.length, "checkpoint")} of an earlier aelab from ${folder} ` +
      `(${names.sort().join(", ")}): each training keeps its own checkpoint now`,
  );
}

/** Removes the file at `path`, if there is one. */
async function removeFile(path: string): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * Trains `members` together from the epoch their records `from` reached (from their `states`, else their
 * saved states where they have any) to epoch `until`, with a checkpoint of each after each epoch; writes
 * the result of each that is then done (at its epochs, or diverged) and removes its checkpoint, and
 * returns each one's record — with its state, for one that trains on.
 */
async function trainGroup(
  members: readonly Placed[],
  options: HeldOptions & {
    from: (TrainingRecord | undefined)[];
    states: (ModelState | undefined)[];
    until: number;
  },
): Promise<{ record: TrainingRecord; state?: ModelState }[]> {
  const { until } = options;
  const batchSize = members[0].batchSize;
  const trainer = await createTrainer(options.engine, members.map((m) => m.training.job), {
    batchSize,
    dataParallel: options.dataParallel,
  });
  try {
    for (const [k, { training, folder }] of members.entries()) {
      const path = options.states[k]
        ? checkpointPath(folder, training.id)
        : statePath(folder, training.id);
      const state = options.states[k] ??
        (options.from[k] ? await readTrainingState(folder, training.id) : undefined);
      if (!state) continue;
      await trainer.setState(k, state).catch((error) => {
        throw unreadableProgress(path, path, error);
      });
    }
    await checkFreeSpace(members, trainer);
    const labels = [...new Set(members.map((m) => m.label))].join(" + ");
    const results = await fit(trainer, {
      epochs: until,
      label: members.length === 1 ? `${labels} ${members[0].training.job.name}` : labels,
      from: options.from.map((record) => record ?? { history: [], diverged: false }),
      afterEpoch: async (epoch, results) => {
        for (const [k, { training, folder }] of members.entries()) {
          const state = await trainer.getState(k);
          await saveTrainingCheckpoint(checkpointPath(folder, training.id), training.settings, {
            state,
            result: results[k],
            epochs: epoch,
          });
        }
      },
    });
    const trained = [];
    for (const [k, { training, folder, epochs }] of members.entries()) {
      const { id, settings } = training;
      const record = {
        id,
        settings,
        engine: trainer.description,
        numerics: trainer.numerics,
        ...results[k],
      };
      if (!isDone(record, epochs)) {
        trained.push({ record, state: await trainer.getState(k) });
        continue;
      }
      // A diverged training keeps its record (it says so) but no state to train on or use.
      if (!record.diverged) await writeState(folder, id, await trainer.getState(k));
      await writeJsonAtomic(recordPath(folder, id), record);
      await removeFile(checkpointPath(folder, id));
      trained.push({ record });
    }
    return trained;
  } finally {
    await trainer.dispose();
  }
}

/**
 * Throws an error naming a folder unless its disk has room for what training `members` on `trainer`
 * writes there: a checkpoint of each after every epoch, written beside the one it replaces, then its
 * result — twice their states' bytes. So that a full disk stops a run before its first epoch, not when
 * the epoch's checkpoint is written.
 */
async function checkFreeSpace(members: readonly Placed[], trainer: Trainer): Promise<void> {
  const needed = new Map<string, number>();
  for (const [k, { folder }] of members.entries()) {
    const { weights, moments } = await trainer.getState(k);
    let bytes = 0;
    for (const part of [weights, moments.first, moments.second]) {
      for (const data of Object.values(part)) bytes += data.byteLength;
    }
    needed.set(folder, (needed.get(folder) ?? 0) + 2 * bytes);
  }
  for (const [folder, bytes] of needed) {
    const count = members.filter((m) => m.folder === folder).length;
    let free;
    try {
      const { bavail, bsize } = statfsSync(folder);
      free = bavail * bsize;
    } catch {
      continue; // a file system that does not say: the writes will tell
    }
    if (free < bytes) {
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      throw new Error(
        `${folder}: ${mb(free)} free on its disk, and ${counted(count, "training")} need about ` +
          `${
            mb(bytes)
          } there for their checkpoints and results; free some space, or pass --out on ` +
          "another disk",
      );
    }
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

function lockPath(folder: string, id: string): string {
  return `${folder}/${id}.lock`;
}

/**
 * The checkpoint a training keeps in `folder` while it trains, named after its id whichever run trains
 * it: `<id>.checkpoint.safetensors`.
 *
 * @example
 * ```ts
 * import { checkpointPath } from "./trainings.ts";
 * console.log(checkpointPath("trainings", "d-002")); // trainings/d-002.checkpoint.safetensors
 * ```
 */
export function checkpointPath(folder: string, id: string): string {
  return `${folder}/${id}.checkpoint.safetensors`;
}
