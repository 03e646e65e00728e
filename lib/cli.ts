/**
 * What every script shares: flag parsing with clear errors (exit code 2), `runMain` (one line and an exit
 * code for every error) and progress bars.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { finishWrites, removeTemporaryFiles } from "./files/atomic.ts";
import { FolderError, releaseFoldersAndLocks } from "./files/lock.ts";
import { watchParent } from "./parent.ts";

/** A mistake in what the user asked for: bad flags, missing inputs. Scripts exit with code 2 on it. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit code for a usage error. */
const USAGE_EXIT_CODE = 2;

/** The declaration of one flag: its type, default and one-line help. */
export interface FlagSpec {
  type: "string" | "number" | "boolean";
  default?: string | number | boolean;
  help: string;
}

/** The value of a parsed flag of type `T`. */
type FlagValue<T extends FlagSpec> = T["type"] extends "number" ? number
  : T["type"] extends "boolean" ? boolean
  : string;

/** The values of parsed flags, by name; a flag without a default may be undefined. */
export type FlagValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]: T[K] extends { default: string | number | boolean } ? FlagValue<T[K]>
    : FlagValue<T[K]> | undefined;
};

/**
 * Parses `args` against `specs`, the flags of the task `command`. Unknown flags, missing values and
 * non-numbers raise {@link UsageError}; `--help` prints {@link helpText} (`summary`, one line of what the
 * task does, then the flags with their defaults) and exits 0. A flag that takes a value takes the next
 * argument also when it starts with a dash, so that `--seed -1` is the number -1 (for the checks to
 * refuse), not a flag.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * const flags = parseFlags(["--epochs", "3"], "train", "trains one autoencoder", {
 *   epochs: { type: "number", default: 1, help: "passes over the data" },
 * });
 * console.log(flags.epochs); // 3
 * ```
 */
export function parseFlags<T extends Record<string, FlagSpec>>(
  args: string[],
  command: string,
  summary: string,
  specs: T,
): FlagValues<T> {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type === "boolean" ? "boolean" : "string" };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashedValues(args, options),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`${command}: ${describeParseError(error as Error, args)}`);
  }
  if (parsed.values.help) {
    console.log(helpText(command, summary, specs));
    Deno.exit(0);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = parsed.values[name];
    if (raw === undefined) values[name] = spec.default;
    else if (spec.type === "number") {
      const number = Number(raw);
      if (raw === "" || !Number.isFinite(number)) {
        throw new UsageError(`${command}: --${name} must be a number, got "${raw}"`);
      }
      values[name] = number;
    } else values[name] = raw;
  }
  return values as FlagValues<T>;
}

/** `args` with each `--flag -value` of a flag that takes a value joined into `--flag=-value`. */
function joinDashedValues(args: string[], options: Record<string, { type: string }>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    const next = args[i + 1];
    if (
      name && options[name]?.type === "string" && next?.startsWith("-") && !next.startsWith("--")
    ) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  return joined;
}

/**
 * A flag-parsing error as one line: a flag followed by another flag where its value should be
 * (`--epochs --out X`) is named with what followed it.
 */
function describeParseError(error: Error, args: string[]): string {
  const ambiguous = /^Option '(--[^ ']+)(?: <value>)?' argument is ambiguous/.exec(error.message);
  if (!ambiguous) return error.message.split("\n")[0];
  const next = args[args.indexOf(ambiguous[1]) + 1];
  return `${ambiguous[1]} needs a value, but the flag ${next} follows it`;
}

/** How to run the task `task`, as a user of this copy of aelab types it (by URL where it was run so). */
export function taskCommand(task: string): string {
  const script = new URL(`../scripts/${task}.ts`, import.meta.url);
  return script.protocol === "file:" ? `deno task ${task}` : `deno run -A ${script.href}`;
}

/**
 * What `--help` prints, generated from the declarations the parser uses: the usage line, `summary` (one
 * line of what the task does), then each flag with its help and its default.
 *
 * @example
 * ```ts
 * import { helpText } from "./cli.ts";
 * const specs = { epochs: { type: "number" as const, default: 1, help: "passes over the data" } };
 * console.log(helpText("train", "trains one autoencoder", specs));
 * // usage: deno task train [flags]
 * //
 * // trains one autoencoder
 * //
 * //   --epochs         passes over the data (default 1)
 * ```
 */
export function helpText(
  command: string,
  summary: string,
  specs: Record<string, FlagSpec>,
): string {
  const lines = Object.entries(specs).map(([name, spec]) => {
    const fallback = spec.default === undefined || spec.default === ""
      ? ""
      : ` (default ${spec.default})`;
    return `  --${name.padEnd(14)} ${spec.help}${fallback}`;
  });
  return [`usage: ${taskCommand(command)} [flags]`, "", summary, "", ...lines].join("\n");
}

/**
 * `count` and `noun`, the noun plural unless the count is 1: `1 epoch`, `2 epochs`.
 *
 * @example
 * ```ts
 * import { counted } from "./cli.ts";
 * console.log(counted(1, "epoch"), counted(3, "model")); // 1 epoch 3 models
 * ```
 */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Throws a {@link UsageError} with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new UsageError(message);
}

/** Exit codes of a run stopped by a signal: 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** The signals a run stops on. */
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** Child processes of this run ({@link spawnChild}), to which a stop signal is passed on. */
const children = new Set<Deno.ChildProcess>();

/** The signal that is stopping this run, once one has come. */
let stopping: StopSignal | undefined;

/**
 * The signal that is stopping this run (inside {@link runMain}), or undefined: what a script asks when a
 * step it waited for has ended, to tell an interrupted step from a failed one.
 */
export function stopSignal(): StopSignal | undefined {
  return stopping;
}

/**
 * Starts `command` as a child process of this run: when SIGINT or SIGTERM stops the run, the signal is
 * passed on to the child and the run waits for it to end before it cleans up and exits. Refused once the
 * run is stopping.
 *
 * @example
 * ```ts
 * import { spawnChild } from "./cli.ts";
 * const child = spawnChild(new Deno.Command(Deno.execPath(), { args: ["--version"], stdout: "null" }));
 * console.log((await child.status).code); // 0
 * ```
 */
export function spawnChild(command: Deno.Command): Deno.ChildProcess {
  if (stopping) throw new Error(`no process started: the run is being stopped by ${stopping}`);
  const child = command.spawn();
  children.add(child);
  const forget = () => children.delete(child);
  child.status.then(forget, forget);
  return child;
}

/**
 * Runs a script's `main` so that every way it can end is one line and an exit code: a {@link UsageError}
 * (or a results folder that cannot be used) prints `error: …` and exits 2; any other error prints its
 * first line and exits 1 (the stack trace only with `AELAB_DEBUG=1`). SIGINT and SIGTERM stop it with
 * exit code 130 and 143: the signal is passed on to its child processes ({@link spawnChild}) and they are
 * waited for, the writes under way end and no new one starts, and however `main` then ends, the run ends
 * as stopped, saying that a rerun resumes from what was saved (unless `options.resumes` is false: a
 * script that keeps no progress, such as the explorer). A run started by another Deno process (`deno task`, a study's step) stops as on SIGTERM
 * when that parent dies ({@link watchParent}), so that no orphan runs on. On every one of these paths,
 * the run's temporary files are removed and its results-folder lock released, so nothing half-written
 * stays behind.
 */
export async function runMain(
  main: () => Promise<void>,
  options: { resumes?: boolean } = {},
): Promise<void> {
  const resumes = options.resumes ?? true;
  let stopped: Promise<void> | undefined;
  const stop = (signal: StopSignal) =>
    stopped ??= (async () => {
      stopping = signal;
      for (const child of children) {
        try {
          child.kill(signal);
        } catch { /* it has already ended */ }
      }
      await Promise.allSettled([...children].map((child) => child.status));
      await finishWrites();
      leaveNothingBehind();
      console.error(
        `stopped by ${signal}${
          resumes ? "; what was saved before stays, and a rerun resumes from it" : ""
        }`,
      );
      Deno.exit(SIGNAL_EXIT_CODES[signal]);
    })();
  const listeners = (Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]).map((signal) => {
    const listener = () => void stop(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  const unwatch = watchParent((parent) => {
    console.error(`the process that started this run (${parent}) has ended: stopping`);
    void stop("SIGTERM");
  });
  let code = 0;
  try {
    await main();
  } catch (error) {
    if (!stopped) {
      code = error instanceof UsageError || error instanceof FolderError ? USAGE_EXIT_CODE : 1;
      console.error(`error: ${describeError(error)}`);
      if (Deno.env.get("AELAB_DEBUG") === "1" && error instanceof Error) console.error(error.stack);
    }
  }
  // A run being stopped ends as stopped, whatever its main did meanwhile.
  if (stopped) await stopped;
  leaveNothingBehind();
  unwatch();
  for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  if (code !== 0) Deno.exit(code);
}

/**
 * Removes the run's temporary files and scratch folders, releases its locks and removes the results
 * folders it made that hold nothing: what every way a run ends does.
 */
function leaveNothingBehind(): void {
  removeTemporaryFiles();
  releaseFoldersAndLocks();
}

/** An error as one line: its message's first line, or the value as text. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}

/** A one-line progress bar on standard error, redrawn in place on a terminal. */
export class ProgressBar {
  #label: string;
  /** Steps in all: the bar is full at this many. */
  total: number;
  #started = performance.now();
  #interactive = Deno.stderr.isTerminal();
  #lastDrawn = 0;

  /** A bar for `total` steps, prefixed with `label`. */
  constructor(label: string, total: number) {
    this.#label = label;
    this.total = total;
  }

  /** Seconds since the bar was created. */
  get elapsedSeconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Draws the bar at `done` steps, with `status` after it (throttled to 10 per second on a terminal). */
  update(done: number, status = ""): void {
    const now = performance.now();
    if (!this.#interactive || (now - this.#lastDrawn < 100 && done < this.total)) return;
    this.#lastDrawn = now;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${this.#line(done, status)}\x1b[K`));
  }

  /**
   * Ends the bar with a final line that stays, also when standard error is not a terminal (there through
   * `console.error`, which a notebook's kernel shows under the cell).
   */
  finish(status = ""): void {
    const line = this.#line(this.total, status);
    if (!this.#interactive) return console.error(line);
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}\x1b[K\n`));
  }

  #line(done: number, status: string): string {
    const width = 24;
    const filled = this.total > 0
      ? Math.round((width * Math.min(done, this.total)) / this.total)
      : width;
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    return `${this.#label} ${bar} ${done}/${this.total} ${
      this.elapsedSeconds.toFixed(1)
    }s ${status}`.trimEnd();
  }
}
