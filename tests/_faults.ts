/**
 * Fault injection: runs the scripts as a hostile or clumsy user would — bad flags, bad results folders,
 * bad model files, signals at any moment — and checks what every run says and leaves behind: its exit
 * code, one `error:` line and no stack trace, no temporary file, and every file it wrote whole and valid.
 */
import assert from "node:assert/strict";
import { extname, join } from "node:path";
import { decodeGif } from "../lib/figures/gif.ts";
import { decodePng } from "../lib/figures/png.ts";
import { decodeSafetensors } from "../lib/model/weights.ts";
import { filesIn } from "./_scripts.ts";

/** The scripts, each a task of `deno.json`. */
export const SCRIPTS = [
  "train",
  "search",
  "sweep",
  "classify",
  "corrupt",
  "denoise",
  "morph",
  "study",
  "bench",
] as const;

/** One of {@link SCRIPTS}. */
export type Script = typeof SCRIPTS[number];

/** The scripts that take a trained model (`--model`) and the digit classifier (`--classifier`). */
export const TAKES_MODEL: readonly Script[] = ["corrupt", "denoise", "morph"];

/** How a run ended and what it printed on standard error. */
export interface Outcome {
  code: number;
  /** The signal that ended it, where one did (a SIGKILL). */
  signal: Deno.Signal | null;
  stderr: string;
}

/**
 * A signal sent to a run `afterMs` milliseconds after it printed a line that matches `from` (its MNIST
 * loaded: once it has set up and begins to work); none if the run ends first.
 */
export interface Stop {
  signal: "SIGINT" | "SIGTERM" | "SIGKILL";
  afterMs: number;
  from: RegExp;
}

/** Where and how {@link startScript} and {@link runScriptIn} run a script. */
export interface RunOptions {
  /** The working folder: a run that writes where it was not asked to is caught there. */
  cwd: string;
  /** Environment variables added to this process's. */
  env?: Record<string, string>;
  /** Flags of `deno run` besides `-A`. */
  denoFlags?: string[];
  /** Killed with SIGKILL after this long (default 3 minutes): a run that should have stopped at once. */
  timeoutMs?: number;
}

/** A run under way: its process, and what it has printed and will print. */
export interface Started {
  child: Deno.ChildProcess;
  /** Resolves once its standard error matches `pattern`; rejects if it ends first. */
  printed(pattern: RegExp): Promise<void>;
  /** How it ended (its standard error read to the end, or for a second beyond where its own child
   * processes hold it open). */
  ended: Promise<Outcome>;
}

/** Starts the script `script` of this repository with `args` (from any working folder). */
export function startScript(script: Script, args: string[], options: RunOptions): Started {
  const path = new URL(`../scripts/${script}.ts`, import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...options.denoFlags ?? [], path, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const deadline = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* it has ended */ }
  }, options.timeoutMs ?? 180_000);
  let stderr = "";
  const watchers: { pattern: RegExp; resolve: () => void; reject: (error: Error) => void }[] = [];
  const check = (done: boolean) => {
    for (const watcher of [...watchers]) {
      if (watcher.pattern.test(stderr)) watcher.resolve();
      else if (done) {
        watcher.reject(new Error(`${script} ended before printing ${watcher.pattern}`));
      } else continue;
      watchers.splice(watchers.indexOf(watcher), 1);
    }
  };
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      check(false);
    }
  })();
  const ended = (async () => {
    const status = await child.status;
    clearTimeout(deadline);
    let waited: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([reading, new Promise((resolve) => waited = setTimeout(resolve, 1000))]);
    clearTimeout(waited);
    check(true);
    return { code: status.code, signal: status.signal, stderr };
  })();
  const printed = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      watchers.push({ pattern, resolve, reject });
      check(false);
    });
  return { child, printed, ended };
}

/**
 * Runs the script `script` with `args` to its end; with `stop`, sends `stop.signal` `stop.afterMs`
 * milliseconds after it printed a line matching `stop.from` (none if it ends first).
 */
export async function runScriptIn(
  script: Script,
  args: string[],
  options: RunOptions & { stop?: Stop },
): Promise<Outcome> {
  const run = startScript(script, args, options);
  const stop = options.stop;
  if (stop) {
    run.printed(stop.from).then(() => {
      const timer = setTimeout(() => {
        try {
          run.child.kill(stop.signal);
        } catch { /* it has ended */ }
      }, stop.afterMs);
      run.ended.then(() => clearTimeout(timer));
    }, () => {});
  }
  return await run.ended;
}

/** The lines of `stderr` that report an error. */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => /^error\b/i.test(line.trim()));
}

/** Asserts that `stderr` holds no stack trace (nor Deno's report of an uncaught error). */
export function assertNoStackTrace(stderr: string): void {
  const traces = stderr.split("\n").filter((line) =>
    /^\s+at .*(:\d+:\d+\)?|<anonymous>\)?)$/.test(line) || /Stack backtrace|Uncaught/.test(line)
  );
  assert.deepEqual(traces, [], `a stack trace on standard error:\n${stderr}`);
}

/**
 * Asserts that `outcome` exited with `code`, printed exactly one `error:` line, as its last line, that
 * matches `message`, and no stack trace.
 */
export function assertOneLineError(outcome: Outcome, code: number, message: RegExp): void {
  const { stderr } = outcome;
  assert.equal(outcome.code, code, `exit code ${outcome.code}, expected ${code}:\n${stderr}`);
  assert.deepEqual(errorLines(stderr).length, 1, `not one error line:\n${stderr}`);
  const last = stderr.trimEnd().split("\n").at(-1)!;
  assert.match(last, /^error: /, `the error is not the last line:\n${stderr}`);
  assert.match(last, message);
  assertNoStackTrace(stderr);
}

/**
 * What `folder` holds, by path relative to it: each file's size and SHA-256, each folder as `folder`, each
 * symlink as its target — to tell that a run wrote, changed or made nothing there (and to say briefly
 * what it did).
 */
export async function snapshot(folder: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const visit = async (dir: string, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${prefix}${entry.name}`;
      if (entry.isDirectory) {
        entries.set(`${path}/`, "folder");
        await visit(join(dir, entry.name), `${path}/`);
      } else if (entry.isSymlink) {
        entries.set(path, `symlink to ${await Deno.readLink(join(dir, entry.name))}`);
      } else {
        const bytes = await Deno.readFile(join(dir, entry.name));
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        const hex = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0"));
        entries.set(path, `${bytes.length} bytes, ${hex.join("")}`);
      }
    }
  };
  await visit(folder, "");
  return new Map([...entries].sort(([a], [b]) => a.localeCompare(b)));
}

/** The temporary files of atomic writes (`<file>.<pid>.<hex>.tmp`) under `folder`. */
export async function temporaryFiles(folder: string): Promise<string[]> {
  return (await filesIn(folder)).filter((path) => path.endsWith(".tmp"));
}

/** The locks under `folder`: of results folders (`.aelab.lock`) and of trainings (`<id>.lock`). */
export async function lockFiles(folder: string): Promise<string[]> {
  return (await filesIn(folder)).filter((path) => path.endsWith(".lock"));
}

/**
 * Asserts that every file under `folder` is whole and valid for its kind — JSON parses, safetensors
 * decode (checkpoints and training states included), PNGs and GIFs decode, SVGs end, CSVs are
 * rectangular, reports are non-empty text, locks name their holder — skipping temporary files; a file of
 * any other kind fails.
 */
export async function assertFilesValid(folder: string): Promise<void> {
  for (const path of await filesIn(folder)) {
    if (path.endsWith(".tmp")) continue;
    const full = join(folder, path);
    try {
      await assertValidFile(full);
    } catch (error) {
      throw new assert.AssertionError({ message: `${full}: ${(error as Error).message}` });
    }
  }
}

async function assertValidFile(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  const text = () => new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  if (path.endsWith(".lock")) {
    const holder = JSON.parse(text());
    assert.ok(Number.isInteger(holder.pid) && typeof holder.host === "string");
    return;
  }
  switch (extname(path)) {
    case ".json":
      JSON.parse(text());
      return;
    case ".safetensors": {
      const { tensors } = decodeSafetensors(bytes, path);
      assert.ok(Object.keys(tensors).length > 0, "no tensors");
      return;
    }
    case ".png": {
      const png = decodePng(bytes);
      assert.ok(png.width > 0 && png.height > 0 && png.frames.length > 0);
      return;
    }
    case ".gif": {
      const gif = decodeGif(bytes);
      assert.ok(gif.width > 0 && gif.frames.length > 0);
      return;
    }
    case ".svg":
      assert.match(text().trim(), /^<svg[\s\S]*<\/svg>$/);
      return;
    case ".csv": {
      // Fields per row, commas inside quotes not counted.
      const fields = (line: string) => line.replace(/"[^"]*"/g, "").split(",").length;
      const widths = new Set(text().trim().split("\n").map(fields));
      assert.equal(widths.size, 1, "rows of different lengths");
      return;
    }
    case ".md":
      assert.ok(text().trim().length > 0, "empty");
      return;
    default:
      assert.fail("a file of a kind no script writes");
  }
}

/** The processes whose command line names `folder`, this one aside. */
export async function processesIn(folder: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.includes(folder)) pids.push(pid);
  }
  return pids;
}

/** Waits until each of `pids` has ended (a zombie, dead with its parent not yet told, has ended). */
export async function waitUntilEnded(pids: number[]): Promise<void> {
  for (const pid of pids) {
    while (await Deno.stat(`/proc/${pid}`).then(() => true, () => false)) {
      const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
      if (/^State:\s+Z/m.test(status)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Ends every process whose command line names `folder` (a step or row left running by a killed study or
 * bench), with SIGKILL, and waits until they are gone.
 */
export async function killProcessesIn(folder: string): Promise<void> {
  const pids = await processesIn(folder);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await waitUntilEnded(pids);
}

/**
 * Runs `task` for each of `items` with at most `limit` at a time; resolves when all have settled, then
 * rejects with the first failure, if any.
 */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  const queue = [...items];
  const failures: unknown[] = [];
  const lane = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await task(item).catch((error) => failures.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failures.length > 0) throw failures[0];
}
