/**
 * Shards: a step's independent trainings (a search's trials, a sweep's sizes, the denoisers) split among
 * processes that a cluster's scheduler starts — a SLURM job array, a Kubernetes Indexed Job — each
 * writing one result per training into a shared results folder, then merged into the step's outputs.
 *
 * A run of a step is one of three: whole (trains everything, writes the step's outputs), a shard (trains
 * its share, writes none of the outputs) or a merge (trains nothing, writes the outputs from the results
 * there — what a whole run writes, byte for byte). Shard i of n (1 ≤ i ≤ n) owns the i-th of every n
 * trainings of each set a step trains together (a halving search's rung): a fixed share, the same on
 * every run, each training trained as a whole run trains it.
 *
 * Which shard a run is comes from `--shard i/n`, else from the scheduler's environment:
 * `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT` (a job array of consecutive
 * ids), else `JOB_COMPLETION_INDEX` of {@link SHARD_COUNT_VARIABLE} (a Kubernetes Indexed Job, which does
 * not tell its pods the count: its manifest sets it to the Job's `completions`).
 *
 * @module
 */
import { check, type FlagSpec, UsageError } from "./cli.ts";

/** Shard `index` of `count`, counted from 1. */
export interface Shard {
  index: number;
  count: number;
}

/** What a run of a step does: all of it, a shard's share of the trainings, or the merge. */
export type StepRun =
  | { kind: "whole" }
  | { kind: "shard"; shard: Shard }
  | { kind: "merge"; wait: boolean };

/**
 * The variable a Kubernetes Indexed Job's manifest sets to its `completions`, so that a pod knows the
 * count its `JOB_COMPLETION_INDEX` is one of.
 */
export const SHARD_COUNT_VARIABLE = "AELAB_SHARD_COUNT";

/** The flags of a step that shards: `--shard`, `--merge` and `--wait`. */
export function shardFlags() {
  return {
    shard: {
      type: "string",
      help: "train only shard i of n of the trainings, i/n (default: the scheduler's array index)",
    },
    merge: {
      type: "boolean",
      default: false,
      help:
        "train nothing: write the step's outputs from the trainings' results (after the shards)",
    },
    wait: {
      type: "boolean",
      default: false,
      help: "with --merge: wait for trainings still missing instead of stopping",
    },
  } satisfies Record<string, FlagSpec>;
}

/**
 * Parses `i/n` with integers 1 ≤ i ≤ n; anything else is a {@link UsageError} naming `what`.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shards.ts";
 * console.log(parseShard("2/3")); // { index: 2, count: 3 }
 * ```
 */
export function parseShard(text: string, what = "--shard"): Shard {
  const [index, count] = (/^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text) ?? []).slice(1).map(Number);
  check(
    count >= 1 && index >= 1 && index <= count,
    `${what} must be i/n, shard i of n with 1 ≤ i ≤ n, got "${text}"`,
  );
  return { index, count };
}

/**
 * The shard a scheduler's environment (`env`, a variable's value by name) says this process is, with the
 * variables it came from; undefined outside a job array or Indexed Job. An index out of range, or an
 * Indexed Job without {@link SHARD_COUNT_VARIABLE}, is a {@link UsageError}.
 *
 * @example
 * ```ts
 * import { shardOfEnvironment } from "./shards.ts";
 * const env = { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "4" };
 * console.log(shardOfEnvironment((name) => env[name as keyof typeof env])?.shard); // { index: 4, count: 4 }
 * ```
 */
export function shardOfEnvironment(
  env: (name: string) => string | undefined,
): { shard: Shard; source: string } | undefined {
  const slurm = env("SLURM_ARRAY_TASK_ID");
  if (slurm !== undefined) {
    const count = env("SLURM_ARRAY_TASK_COUNT");
    check(count !== undefined, "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT");
    const first = env("SLURM_ARRAY_TASK_MIN") ?? "0";
    return shardOfIndex(
      { name: "SLURM_ARRAY_TASK_ID", value: slurm },
      { name: "SLURM_ARRAY_TASK_COUNT", value: count },
      first,
      "give sbatch --array consecutive ids",
    );
  }
  const indexed = env("JOB_COMPLETION_INDEX");
  if (indexed !== undefined) {
    const count = env(SHARD_COUNT_VARIABLE);
    check(
      count !== undefined,
      `JOB_COMPLETION_INDEX is set but not ${SHARD_COUNT_VARIABLE}: set it to the Job's ` +
        "completions in its manifest, or pass --shard i/n",
    );
    return shardOfIndex(
      { name: "JOB_COMPLETION_INDEX", value: indexed },
      { name: SHARD_COUNT_VARIABLE, value: count },
      "0",
      `set ${SHARD_COUNT_VARIABLE} to the Job's completions`,
    );
  }
  return undefined;
}

/**
 * What this run of a step does, from its flags (`--shard`, `--merge`, `--wait`) and, without `--shard`
 * or `--merge`, the scheduler's environment; a shard says which in one line. Conflicting flags are a
 * {@link UsageError}.
 */
export function stepRun(
  flags: { shard?: string; merge: boolean; wait: boolean; fresh?: boolean },
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): StepRun {
  check(!flags.wait || flags.merge, "--wait goes with --merge: a merge may wait for the shards");
  if (flags.merge) {
    check(flags.shard === undefined, "--merge trains nothing, so it takes no --shard");
    check(!flags.fresh, "--merge trains nothing, so it cannot start over (--fresh)");
    return { kind: "merge", wait: flags.wait };
  }
  const found = flags.shard === undefined
    ? shardOfEnvironment(env)
    : { shard: parseShard(flags.shard), source: "--shard" };
  if (!found) return { kind: "whole" };
  const { index, count } = found.shard;
  console.error(
    `shard ${index}/${count} (${found.source}): trains the ${ordinal(index)} of every ${count} ` +
      "trainings",
  );
  return { kind: "shard", shard: found.shard };
}

/**
 * Whether `run` trains the training at `position` of a set it trains together: a whole run all of them,
 * a shard the i-th of every n, a merge none.
 *
 * @example
 * ```ts
 * import { owns } from "./shards.ts";
 * const run = { kind: "shard", shard: { index: 2, count: 3 } } as const;
 * console.log([0, 1, 2, 3, 4].filter(owns(run))); // [ 1, 4 ]
 * ```
 */
export function owns(run: StepRun): (position: number) => boolean {
  switch (run.kind) {
    case "whole":
      return () => true;
    case "shard":
      return (position) => position % run.shard.count === run.shard.index - 1;
    case "merge":
      return () => false;
  }
}

/**
 * Whether a run that writes the step's outputs waits for results that other processes are training: a
 * whole run does (those it found held by another live process, taken over if that process dies), a
 * merge only with `--wait`.
 */
export function waitsForOthers(run: StepRun): boolean {
  return run.kind === "whole" || (run.kind === "merge" && run.wait);
}

/**
 * Says in one line that `shard` has trained its share, into `folder`, and what comes next — or, where
 * other live processes still train some of its share (`elsewhere`, their ids: this run skipped them),
 * that the share is not all there yet.
 */
export function reportShardDone(
  { index, count }: Shard,
  folder: string,
  elsewhere: string[] = [],
): void {
  if (elsewhere.length > 0) {
    console.error(
      `shard ${index}/${count} stopped short of its share: other processes still train ` +
        `${elsewhere.join(", ")} into ${folder}/; merge with --merge --wait to wait for them`,
    );
    return;
  }
  console.error(
    `shard ${index}/${count} done: its trainings' results are in ${folder}/; merge with --merge ` +
      "once every shard is done",
  );
}

/**
 * The shard of a scheduler's `index` among `count` ids from `first` on, with the variables it came
 * from; out of range, a {@link UsageError} with `hint`.
 */
function shardOfIndex(
  index: { name: string; value: string },
  count: { name: string; value: string },
  first: string,
  hint: string,
): { shard: Shard; source: string } {
  const [i, n, min] = [index.value, count.value, first].map((text) =>
    /^\s*\d+\s*$/.test(text) ? Number(text) : NaN
  );
  const source = `${index.name}=${index.value} of ${count.name}=${count.value}`;
  if (!(n >= 1 && i - min >= 0 && i - min < n)) {
    throw new UsageError(
      `${source} is out of range: ${n >= 1 ? `the ids are ${min}…${min + n - 1}` : "no shards"}; ` +
        `${hint}, or pass --shard i/n`,
    );
  }
  return { shard: { index: i - min + 1, count: n }, source };
}

/** 1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, … 21st. */
function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th";
  return `${n}${suffix}`;
}
