/**
 * What every script shares: flag parsing with clear errors (exit code 2), progress bars, result folders and
 * atomic writes (a temporary name, renamed when complete, so an interrupted run leaves no half-written file).
 *
 * @module
 */
import { dirname } from "node:path";
import { parseArgs } from "node:util";

/** A mistake in what the user asked for: bad flags, missing inputs. Scripts exit with code 2 on it. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit code for a usage error. */
export const USAGE_EXIT_CODE = 2;

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
 * Parses `args` against `specs`. Unknown flags, missing values and non-numbers raise {@link UsageError};
 * `--help` prints the flags and exits 0.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./cli.ts";
 * const flags = parseFlags(["--epochs", "3"], {
 *   epochs: { type: "number", default: 1, help: "passes over the data" },
 * }, "train");
 * console.log(flags.epochs); // 3
 * ```
 */
export function parseFlags<T extends Record<string, FlagSpec>>(
  args: string[],
  specs: T,
  command: string,
): FlagValues<T> {
  const options: Record<string, { type: "string" | "boolean" }> = { help: { type: "boolean" } };
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type === "boolean" ? "boolean" : "string" };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split("\n")[0]}`);
  }
  if (parsed.values.help) {
    console.log(helpText(specs, command));
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

function helpText(specs: Record<string, FlagSpec>, command: string): string {
  const lines = Object.entries(specs).map(([name, spec]) => {
    const fallback = spec.default === undefined || spec.default === ""
      ? ""
      : ` (default ${spec.default})`;
    return `  --${name.padEnd(14)} ${spec.help}${fallback}`;
  });
  return [`usage: deno task ${command} [flags]`, ...lines].join("\n");
}

/** Throws a {@link UsageError} with `message` unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new UsageError(message);
}

/**
 * Runs a script's `main`: a {@link UsageError} prints one line and exits 2, any other error prints its
 * message and exits 1.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      Deno.exit(USAGE_EXIT_CODE);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    Deno.exit(1);
  }
}

/**
 * Writes `data` to `path` atomically: to a temporary file beside it, then renamed over it, so a reader
 * never sees a half-written file and an interrupted run leaves none behind. Creates the folder if missing.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.mkdir(dirname(path), { recursive: true });
  try {
    if (typeof data === "string") await Deno.writeTextFile(temporary, data);
    else await Deno.writeFile(temporary, data);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** Writes `value` as indented JSON to `path`, atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** A one-line progress bar on standard error, redrawn in place on a terminal. */
export class ProgressBar {
  #label: string;
  #total: number;
  #started = performance.now();
  #interactive = Deno.stderr.isTerminal();
  #lastDrawn = 0;

  /** A bar for `total` steps, prefixed with `label`. */
  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }

  /** Seconds since the bar was created. */
  get elapsedSeconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Draws the bar at `done` steps, with `status` after it (throttled to 10 per second on a terminal). */
  update(done: number, status = ""): void {
    const now = performance.now();
    if (!this.#interactive || (now - this.#lastDrawn < 100 && done < this.#total)) return;
    this.#lastDrawn = now;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${this.#line(done, status)}\x1b[K`));
  }

  /** Ends the bar with a final line that stays, also when standard error is not a terminal. */
  finish(status = ""): void {
    const line = this.#line(this.#total, status);
    Deno.stderr.writeSync(
      new TextEncoder().encode(this.#interactive ? `\r${line}\x1b[K\n` : `${line}\n`),
    );
  }

  #line(done: number, status: string): string {
    const width = 24;
    const filled = this.#total > 0
      ? Math.round((width * Math.min(done, this.#total)) / this.#total)
      : width;
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    return `${this.#label} ${bar} ${done}/${this.#total} ${
      this.elapsedSeconds.toFixed(1)
    }s ${status}`.trimEnd();
  }
}

/** Whether a file or folder exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * The JSON value in the file at `path`, or `undefined` when there is no such file. A file that cannot be
 * read or parsed is an error naming it.
 */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${path}: unreadable (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
}
