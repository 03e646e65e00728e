/**
 * Files as aelab writes and reads them:
 *
 * - atomic writes: a temporary name beside the file, renamed when complete, so that an interrupted run
 *   never leaves a half-written file; temporary files are removed on every exit path ({@link cleanUpFiles})
 *   and those of a dead run by the next run in the folder;
 * - the results-folder lock: one run at a time in a folder, taken atomically (a lock file with the
 *   holder's pid and host), released on exit, taken over when its holder is gone;
 * - reads that tell a missing file from a broken one.
 *
 * It imports nothing, so that the models that save through it also bundle for a browser page.
 *
 * @module
 */

/** The lock file a run holds in its results folder. */
export const LOCK_FILE = ".aelab.lock";

/** Temporary files being written by this process, removed if it exits before renaming them. */
const temporaries = new Set<string>();

/** Lock files this process holds, released when it exits. */
const locks = new Set<string>();

/** Folders this process made for its results, removed when it exits leaving them empty. */
const madeFolders = new Set<string>();

/** A temporary file of a write: `<file>.<pid>.<random>.tmp`. */
const TEMPORARY = /\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Writes `data` to `path` atomically: to a temporary file beside it, then renamed over it, so a reader
 * never sees a half-written file and an interrupted run leaves none behind. Creates the folder if missing.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a/b.txt`, "complete or absent");
 * console.log(await Deno.readTextFile(`${dir}/a/b.txt`)); // complete or absent
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.mkdir(parentFolder(path), { recursive: true });
  temporaries.add(temporary);
  try {
    if (typeof data === "string") await Deno.writeTextFile(temporary, data);
    else await Deno.writeFile(temporary, data);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  } finally {
    temporaries.delete(temporary);
  }
}

/** Writes `value` as indented JSON to `path`, atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
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

/** Who holds a lock: the process and its machine, and since when. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

/** Why a folder cannot be used: it is held by another run, or cannot be made or written. */
export class FolderError extends Error {
  override name = "FolderError";
}

/**
 * Makes `folder` ready for a run's results before any work starts: it must be a folder that exists or can
 * be made and written; then takes its lock, and removes the temporary files a dead run left there. A
 * folder held by a live run, or one that cannot be used, is a {@link FolderError} that says why.
 *
 * @example
 * ```ts
 * import { cleanUpFiles, holdFolder } from "./files.ts";
 * const folder = `${await Deno.makeTempDir()}/results`;
 * await holdFolder(folder); // made, locked
 * cleanUpFiles(); // released
 * ```
 */
export async function holdFolder(folder: string): Promise<void> {
  if (folder.trim() === "") throw new FolderError("the results folder must be named, not empty");
  try {
    if (!(await exists(folder))) madeFolders.add(folder);
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.AlreadyExists
      ? "it is a file, not a folder"
      : describeFsError(error);
    throw new FolderError(`${folder} cannot be used as a results folder: ${reason}`);
  }
  const lock = `${folder}/${LOCK_FILE}`;
  while (!(await tryLock(lock))) {
    const holder = await readJsonIfExists<LockHolder>(lock).catch(() => undefined);
    if (holder && isAlive(holder)) {
      throw new FolderError(
        `${folder} is in use by process ${holder.pid} on ${holder.host} since ${holder.since}; ` +
          `wait for it to end, or use another folder (remove ${lock} if that run is gone)`,
      );
    }
    // Its holder is gone: take it over.
    await Deno.remove(lock).catch(() => {});
  }
  await removeStaleTemporaries(folder);
}

/**
 * Releases the locks this process holds, removes its unfinished temporary files, and the results folders it
 * made that hold nothing (a run that failed before writing a result), synchronously.
 */
export function cleanUpFiles(): void {
  for (const temporary of temporaries) {
    try {
      Deno.removeSync(temporary);
    } catch { /* already gone */ }
  }
  temporaries.clear();
  for (const lock of locks) {
    try {
      Deno.removeSync(lock);
    } catch { /* already gone */ }
  }
  locks.clear();
  for (const folder of madeFolders) {
    try {
      Deno.removeSync(folder); // only where empty
    } catch { /* it holds results */ }
  }
  madeFolders.clear();
}

/** Creates `lock` with this process as its holder, unless it exists; whether it did. */
async function tryLock(lock: string): Promise<boolean> {
  const holder: LockHolder = {
    pid: Deno.pid,
    host: Deno.hostname(),
    since: new Date().toISOString(),
  };
  try {
    const file = await Deno.open(lock, { write: true, createNew: true });
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
    } finally {
      file.close();
    }
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw new FolderError(`${parentFolder(lock)} cannot be written: ${describeFsError(error)}`);
  }
  locks.add(lock);
  return true;
}

/** Whether `holder` still runs: on this host, its pid; on another, assumed so (it cannot be asked). */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== Deno.hostname()) return true;
  if (holder.pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${holder.pid}`);
    return true;
  } catch {
    return Deno.build.os !== "linux";
  }
}

/** Removes the temporary files in `folder` (and one level below) whose writing process is gone. */
async function removeStaleTemporaries(folder: string): Promise<void> {
  const visit = async (dir: string, depth: number) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && depth > 0) await visit(path, depth - 1);
      const pid = Number(TEMPORARY.exec(entry.name)?.[1]);
      if (entry.isFile && pid && !isAlive({ pid, host: Deno.hostname(), since: "" })) {
        await Deno.remove(path).catch(() => {});
      }
    }
  };
  await visit(folder, 1);
}

/** The folder that holds `path` (`.` for a bare name). */
function parentFolder(path: string): string {
  const separators = Deno.build.os === "windows" ? /[\\/]/ : /\//;
  const parts = path.split(separators);
  if (parts.length === 1) return ".";
  return parts.slice(0, -1).join("/") || "/";
}

/** A file-system error as a short reason, e.g. `permission denied`. */
function describeFsError(error: unknown): string {
  const message = (error as Error).message;
  return message.split(":")[0].replace(/\s*\(os error \d+\)/, "").toLowerCase() || message;
}
