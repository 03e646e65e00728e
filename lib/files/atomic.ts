/**
 * Files as aelab writes and reads them:
 *
 * - atomic writes: a temporary name beside the file, renamed when complete, so that an interrupted run
 *   never leaves a half-written file; temporary files are removed on every exit path
 *   ({@link removeTemporaryFiles}) and those of a dead run by the next run in the folder; a run being
 *   stopped lets the writes (and the locks of `lock.ts`) under way end and starts no new one
 *   ({@link finishWrites});
 * - scratch folders, removed with their contents when the run ends;
 * - reads that tell a missing file from a broken one.
 *
 * It imports nothing, so that the models that save through it also bundle for a browser page.
 *
 * @module
 */

/** Temporary files being written by this process (here and by `lock.ts`), removed if it exits first. */
export const temporaries = new Set<string>();

/** Scratch folders of this process, removed with their contents when it exits. */
const scratchFolders = new Set<string>();

/** The writes and lock operations under way, which {@link finishWrites} waits for. */
const underWay = new Set<Promise<unknown>>();

/** Whether this process has stopped writing: it is being stopped. */
let writesFinished = false;

/**
 * Runs `operation`, one that leaves files (a write here, a lock of `lock.ts`), unless the run is being
 * stopped: then it is refused, naming `path`. {@link finishWrites} waits for those under way.
 */
export function whileRunning<T>(path: string, operation: () => Promise<T>): Promise<T> {
  if (writesFinished) {
    return Promise.reject(new Error(`${path} not written: the run is being stopped`));
  }
  const running = operation();
  underWay.add(running);
  const forget = () => underWay.delete(running);
  running.then(forget, forget);
  return running;
}

/** A temporary file of a write: `<file>.<pid>@<host>.<random>.tmp`. */
const TEMPORARY = /\.(\d+)@([A-Za-z0-9._-]+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Writes `data` to `path` atomically: to a temporary file beside it, then renamed over it, so a reader
 * never sees a half-written file and an interrupted run leaves none behind. Creates the folder if missing.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a/b.txt`, "complete or absent");
 * console.log(await Deno.readTextFile(`${dir}/a/b.txt`)); // complete or absent
 * ```
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  return whileRunning(path, () => writeThroughTemporary(path, data));
}

/** The write of {@link writeFileAtomic}; a failure is an error that names `path` and the reason. */
async function writeThroughTemporary(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = temporaryName(path);
  temporaries.add(temporary);
  try {
    await Deno.mkdir(parentFolder(path), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(temporary, data);
    else await Deno.writeFile(temporary, data);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new Error(`cannot write ${path}: ${describeFsError(error)}`, { cause: error });
  } finally {
    temporaries.delete(temporary);
  }
}

/**
 * Lets the writes and lock operations under way end (each write whole and renamed into place, or failed
 * and removed) and refuses new ones: what a run being stopped does before {@link removeTemporaryFiles}, so that
 * none is cut off between its temporary file and its rename, or takes a lock that nothing releases.
 */
export async function finishWrites(): Promise<void> {
  writesFinished = true;
  await Promise.allSettled([...underWay]);
}

/**
 * Makes a scratch folder (in the system's temporary folder, its name starting with `prefix`) that is
 * removed with everything in it when the run ends, however it ends ({@link removeTemporaryFiles}).
 *
 * @example
 * ```ts
 * import { makeScratchFolder, removeTemporaryFiles } from "./atomic.ts";
 * const scratch = await makeScratchFolder("example-");
 * await Deno.writeTextFile(`${scratch}/note.txt`, "gone at exit");
 * removeTemporaryFiles(); // removed
 * ```
 */
export async function makeScratchFolder(prefix: string): Promise<string> {
  const folder = await Deno.makeTempDir({ prefix });
  scratchFolders.add(folder);
  return folder;
}

/** Writes `value` as indented JSON to `path`, atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Whether a file or folder exists at `path`. */
export function exists(path: string): Promise<boolean> {
  return found(Deno.stat(path));
}

/**
 * Whether anything is at `path`, a symlink counted as itself (not followed: one to a missing path is
 * there).
 */
export function existsAsLink(path: string): Promise<boolean> {
  return found(Deno.lstat(path));
}

/** Whether the file-system entry that `info` looks up was found (a path not there is no error). */
async function found(info: Promise<Deno.FileInfo>): Promise<boolean> {
  try {
    await info;
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * The JSON value in the file at `path`, or `undefined` when there is no such file (nor can be: a path
 * through a file). A file that cannot be read or parsed is an error naming it.
 */
export async function readJsonIfExists<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    // A path through a file is a file that does not exist, too.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw new Error(`${path}: unreadable (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/**
 * Removes this process's unfinished temporary files and its scratch folders, synchronously: what every
 * exit does (before `lock.ts`'s `releaseFoldersAndLocks`).
 */
export function removeTemporaryFiles(): void {
  for (const temporary of temporaries) {
    try {
      Deno.removeSync(temporary);
    } catch { /* already gone */ }
  }
  temporaries.clear();
  for (const folder of scratchFolders) {
    try {
      Deno.removeSync(folder, { recursive: true });
    } catch { /* already gone */ }
  }
  scratchFolders.clear();
}

/** Whether process `pid` of this machine runs (on systems without /proc, assumed so). */
export function processRuns(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return Deno.build.os !== "linux";
  }
}

/** A temporary name beside `path`, naming this process and machine: `<path>.<pid>@<host>.<random>.tmp`. */
export function temporaryName(path: string): string {
  const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  return `${path}.${Deno.pid}@${host}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/**
 * Removes the temporary files in `folder` (and `depth` levels below) whose writing process is gone: those
 * of this machine's dead processes (another machine's cannot be asked, and may be a shard's, writing).
 */
export async function removeStaleTemporaries(folder: string, depth: number): Promise<void> {
  const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  const visit = async (dir: string, depth: number) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && depth > 0) await visit(path, depth - 1);
      const [, pid, writer] = TEMPORARY.exec(entry.name) ?? [];
      if (entry.isFile && writer === host && !processRuns(Number(pid))) {
        await Deno.remove(path).catch(() => {});
      }
    }
  };
  await visit(folder, depth);
}

/** The folder that holds `path` (`.` for a bare name). */
export function parentFolder(path: string): string {
  const separators = Deno.build.os === "windows" ? /[\\/]/ : /\//;
  const parts = path.split(separators);
  if (parts.length === 1) return ".";
  return parts.slice(0, -1).join("/") || "/";
}

/** A file-system error as a short reason, e.g. `permission denied`. */
export function describeFsError(error: unknown): string {
  const message = (error as Error).message;
  return message.split(":")[0].replace(/\s*\(os error \d+\)/, "").toLowerCase() || message;
}
