/** Runs the experiment scripts as a user would, and serves the repository over loopback HTTP. */
import assert from "node:assert/strict";
import { extname, join, normalize } from "node:path";

/** What a script run printed and how it ended. */
export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` (a path in the repository or a URL) with `deno run -A` and the Deno flags `denoFlags`,
 * with MNIST from the test cache and the environment variables `env` added.
 */
export async function runScript(
  script: string,
  args: string[],
  denoFlags: string[] = [],
  env: Record<string, string> = {},
): Promise<ScriptRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...denoFlags, script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * A run of `script` with `args` into `folder` of a temporary results root, made at the first call and
 * shared by the later ones of the test process; the root is removed when the process unloads.
 */
export function runOnce(
  script: string,
  args: string[],
  folder: string,
): () => Promise<{ out: string; run: ScriptRun }> {
  let result: Promise<{ out: string; run: ScriptRun }> | undefined;
  return () =>
    result ??= (async () => {
      const root = await Deno.makeTempDir();
      addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
      const out = join(root, folder);
      return { out, run: await runScript(script, [...args, `--out=${out}`]) };
    })();
}

/** A loopback HTTP server of a folder's files; `await using` shuts it down. */
export function serveDirectory(root: string): { url: string } & AsyncDisposable {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = normalize(decodeURIComponent(new URL(request.url).pathname));
    if (path.includes("..")) return new Response("forbidden", { status: 403 });
    try {
      const body = await Deno.readFile(join(root, path));
      const type = extname(path) === ".ts" ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/**
 * A small trained model for the scripts that need one: `deno task train` run once per test process on 2,000
 * images for 3 epochs into a temporary folder (small batches, so that it gets past the flat mean digit and
 * its output depends on its input: test loss about 0.06); returns the weights' path.
 */
export function tinyTrainedModel(): Promise<string> {
  return tinyModel ??= trainOnce("train", "model.safetensors", [
    "--epochs=3",
    "--limit=2000",
    "--test-limit=200",
    "--batch-size=32",
    "--lr=0.003",
    "--dropout=0",
  ]);
}

let tinyModel: Promise<string> | undefined;

/**
 * A small trained digit classifier for the scripts that read digits: `deno task classify` run once per test
 * process on 2,000 images for 1 epoch into a temporary folder (about 85% accurate); returns the weights'
 * path.
 */
export function tinyClassifier(): Promise<string> {
  return tinyClassifierPath ??= trainOnce("classify", "classifier.safetensors", [
    "--epochs=1",
    "--limit=2000",
    "--test-limit=200",
    "--batch-size=32",
    "--lr=0.002",
  ]);
}

let tinyClassifierPath: Promise<string> | undefined;

/** Runs `scripts/<script>.ts` with `args` into a temporary folder, removed at exit; the path of its `file`. */
async function trainOnce(script: string, file: string, args: string[]): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: `aelab-${script}-` });
  globalThis.addEventListener("unload", () => Deno.removeSync(out, { recursive: true }));
  const run = await runScript(`scripts/${script}.ts`, [...args, `--out=${out}`]);
  if (run.code !== 0) throw new Error(`${script} for the tests failed:\n${run.stderr}`);
  return join(out, file);
}

/** The side in pixels of a digit grid of `cells` cells: 28 pixels scaled 3 times, 2 pixels apart and around. */
export const gridSide = (cells: number): number => 2 + cells * (3 * 28 + 2);

/** The line a failed run ends with: its one error message. */
export const lastLine = (stderr: string): string => stderr.trim().split("\n").at(-1) ?? "";

/**
 * Asserts that `script`, given no trained model, says in one line to train one, exits 2 and writes
 * nothing.
 */
export async function assertAsksForTrainedModel(script: string): Promise<void> {
  const root = await Deno.makeTempDir();
  const run = await runScript(script, [`--model=${root}/none.safetensors`, `--out=${root}/out`]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(
    lastLine(run.stderr),
    `error: no trained model at ${root}/none.safetensors: run \`deno task train\` first (or pass --model)`,
  );
  assert.deepEqual([...Deno.readDirSync(root)], []);
  await Deno.remove(root, { recursive: true });
}

/**
 * Asserts that `script` run with `args` (and a fresh `--out`, and the environment variables `env`) exits
 * 2 with one error line matching `message`, and writes nothing.
 */
export async function assertRefuses(
  script: string,
  args: string[],
  message: RegExp,
  env: Record<string, string> = {},
): Promise<void> {
  const root = await Deno.makeTempDir();
  const run = await runScript(script, [...args, `--out=${root}/out`], [], env);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr.split("\n").filter((line) => line.startsWith("error")).length, 1);
  assert.match(lastLine(run.stderr), /^error: /);
  assert.match(lastLine(run.stderr), message);
  assert.deepEqual([...Deno.readDirSync(root)], []);
  await Deno.remove(root, { recursive: true });
}

/**
 * Asserts that the merge `merged` into `out` stopped (exit 1) at the truncated state file `state`, saying
 * to rerun the shard that trains it (not `--fresh`, which a merge refuses), and wrote nothing beside the
 * trainings.
 */
export async function assertMergeRerunsShard(
  merged: ScriptRun,
  out: string,
  state: string,
): Promise<void> {
  assert.equal(merged.code, 1, merged.stderr);
  assert.match(
    lastLine(merged.stderr),
    new RegExp(
      `^error: ${RegExp.escape(state)} is unreadable \\(.+\\); rerun the shard that trains it ` +
        "with --fresh, then merge again$",
    ),
  );
  assert.deepEqual((await filesIn(out)).filter((path) => !path.startsWith("trainings/")), []);
}

/**
 * Runs `script` with `args` and kills it with SIGKILL as soon as `poll` (called every 20 ms) gives a value,
 * which it returns; fails when the script ends before that.
 */
export async function killWhen<T>(
  script: string,
  args: string[],
  poll: () => Promise<T | undefined>,
): Promise<T> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  let value: T | undefined;
  while (!exited && value === undefined) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await poll();
    if (value !== undefined) child.kill("SIGKILL");
  }
  const output = await child.output();
  assert.equal(
    output.signal,
    "SIGKILL",
    `${script} ended before it could be killed:\n${new TextDecoder().decode(output.stderr)}`,
  );
  return value!;
}

/**
 * For a resume test: runs `script` with `flags` to the end into `root/whole`, then again into
 * `root/killed`, killed as soon as a file whose path in it matches `checkpoint` appears there (a
 * checkpoint). Returns the two folders.
 */
export async function runWholeAndKilled(
  script: string,
  flags: string[],
  root: string,
  checkpoint: RegExp,
): Promise<{ whole: string; killed: string }> {
  const [whole, killed] = [join(root, "whole"), join(root, "killed")];
  const run = await runScript(script, [...flags, `--out=${whole}`]);
  assert.equal(run.code, 0, run.stderr);
  await killWhen(
    script,
    [...flags, `--out=${killed}`],
    async () => (await filesIn(killed)).some((path) => checkpoint.test(path)) || undefined,
  );
  return { whole, killed };
}

/** The paths of the files in `folder` and its subfolders, relative to it; none where it is missing. */
export async function filesIn(folder: string): Promise<string[]> {
  const paths: string[] = [];
  const visit = async (dir: string, prefix: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await visit(join(dir, entry.name), `${prefix}${entry.name}/`);
      else paths.push(`${prefix}${entry.name}`);
    }
  };
  await visit(folder, "").catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  return paths.sort();
}

/**
 * Asserts that the step folder `sharded` holds what `whole` holds: the same files, byte for byte — the
 * step's outputs and each training's state — but each training's record, whose settings and losses are
 * the same and whose seconds and engine describe the process that trained it.
 */
export async function assertSameResults(whole: string, sharded: string): Promise<void> {
  const files = await filesIn(whole);
  assert.deepEqual(await filesIn(sharded), files, "no lock, checkpoint or temporary file stays");
  const losses = async (path: string) => {
    const { engine: _, history, ...record } = JSON.parse(await Deno.readTextFile(path));
    const epochs = history.map(({ seconds: _, samplesPerSecond: __, ...epoch }: object & {
      seconds: number;
      samplesPerSecond: number;
    }) => epoch);
    return { ...record, history: epochs };
  };
  for (const path of files) {
    const [a, b] = [join(whole, path), join(sharded, path)];
    if (/^trainings\/[^/]+\.json$/.test(path)) assert.deepEqual(await losses(b), await losses(a));
    else assert.deepEqual(await Deno.readFile(b), await Deno.readFile(a), path);
  }
}
