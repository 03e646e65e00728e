/**
 * Files as aelab writes and reads them:
 *
 * - atomic writes: a temporary name beside the file, renamed when complete, so that an interrupted run
 *   never leaves a half-written file; temporary files are removed on every exit path ({@link cleanUpFiles})
 *   and those of a dead run by the next run in the folder; a run being stopped lets the writes and locks
 *   under way end and starts no new one ({@link finishWrites});
 * - scratch folders, removed with their contents when the run ends;
 * - locks: the results-folder lock (one run at a time in a folder) and a shard's lock on each training
 *   it trains — a lock file with the holder's pid and host, taken atomically in a way a network file
 *   system keeps (no `flock`), released on exit, taken over when its holder is gone;
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

/** Lock files this process holds, with what it wrote in each, released when it exits. */
const locks = new Map<string, string>();

/** Folders this process made for its results (and above them), removed when it exits leaving them empty. */
const madeFolders = new Set<string>();

/** Scratch folders of this process, removed with their contents when it exits. */
const scratchFolders = new Set<string>();

/** The writes and lock operations under way, which {@link finishWrites} waits for. */
const underWay = new Set<Promise<unknown>>();

/** Whether this process has stopped writing: it is being stopped. */
let writesFinished = false;

/**
 * Runs `operation`, one of this module's that leaves files (a write, a lock), unless the run is being
 * stopped: then it is refused, naming `path`. {@link finishWrites} waits for those under way.
 */
function whileRunning<T>(path: string, operation: () => Promise<T>): Promise<T> {
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

/** How often a held lock is touched, so that a run on another machine can tell it from a dead one. */
const HEARTBEAT_MS = 30_000;

/** A lock of another machine untouched for this long was left by a dead holder. */
export const STALE_LOCK_MS = 5 * 60_000;

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
 * and removed) and refuses new ones: what a run being stopped does before {@link cleanUpFiles}, so that
 * none is cut off between its temporary file and its rename, or takes a lock that nothing releases.
 */
export async function finishWrites(): Promise<void> {
  writesFinished = true;
  await Promise.allSettled([...underWay]);
}

/**
 * Makes a scratch folder (in the system's temporary folder, its name starting with `prefix`) that is
 * removed with everything in it when the run ends, however it ends ({@link cleanUpFiles}).
 *
 * @example
 * ```ts
 * import { cleanUpFiles, makeScratchFolder } from "./files.ts";
 * const scratch = await makeScratchFolder("example-");
 * await Deno.writeTextFile(`${scratch}/note.txt`, "gone at exit");
 * cleanUpFiles(); // removed
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
 * be made, and can be written. One that cannot is a {@link FolderError} that says why. Shards of a step
 * share their folder this way; a run that writes a step's outputs also holds it ({@link holdFolder}).
 */
export async function prepareFolder(folder: string): Promise<void> {
  if (folder.trim() === "") throw new FolderError("the results folder must be named, not empty");
  try {
    for (let missing = folder; !(await exists(missing)); missing = parentFolder(missing)) {
      madeFolders.add(missing); // the deepest first, as they are removed
    }
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.AlreadyExists
      ? "it is a file, not a folder"
      : describeFsError(error);
    throw new FolderError(`${folder} cannot be used as a results folder: ${reason}`);
  }
  const probe = temporaryName(`${folder}/.aelab`);
  temporaries.add(probe);
  try {
    await whileRunning(folder, async () => {
      await Deno.writeTextFile(probe, "");
      await Deno.remove(probe);
    });
  } catch (error) {
    throw new FolderError(`${folder} cannot be written: ${describeFsError(error)}`);
  } finally {
    temporaries.delete(probe);
  }
}

/**
 * {@link prepareFolder}, then takes the folder's lock ({@link takeLock}) and removes the temporary files
 * a dead run left there (and in the results root above it, where REPORT.md is regenerated). A folder held
 * by a live run is a {@link FolderError} naming it.
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
  await prepareFolder(folder);
  const lock = `${folder}/${LOCK_FILE}`;
  const holder = await takeLock(lock);
  if (holder) {
    throw new FolderError(
      `${folder} is in use by ${describeHolder(holder)}; wait for it to end, or use another ` +
        `folder (remove ${lock} if that run is gone)`,
    );
  }
  await removeStaleTemporaries(folder, 1);
  // The results root above, where the run regenerates REPORT.md.
  await removeStaleTemporaries(parentFolder(folder), 0).catch(() => {});
}

/**
 * Takes the lock file `lock` for this process unless a live process holds it: returns undefined once it
 * is this process's (also when it was already), else the live holder. Safe on a network file system,
 * without `flock`: the holder's record is written whole under a temporary name and published as `lock`
 * by a hard link, which fails where the name exists (an exclusive create that readers never see half
 * written); a dead holder's lock is renamed aside, which one process alone can do, checked to be the
 * one judged dead, and removed. A held lock is touched every 30 s: its holder is dead when, on this
 * machine, its process is gone, and on another machine, it has gone untouched for 5 minutes (machines
 * whose clocks agree within that).
 *
 * @example
 * ```ts
 * import { releaseLock, takeLock } from "./files.ts";
 * const lock = `${await Deno.makeTempDir()}/trial-001.lock`;
 * console.log(await takeLock(lock)); // undefined: taken
 * await releaseLock(lock);
 * ```
 */
export function takeLock(lock: string): Promise<LockHolder | undefined> {
  return whileRunning(lock, () => takeLockNow(lock));
}

/** {@link takeLock}'s work. */
async function takeLockNow(lock: string): Promise<LockHolder | undefined> {
  if (locks.has(lock)) return undefined;
  const holder: LockHolder = {
    pid: Deno.pid,
    host: Deno.hostname(),
    since: new Date().toISOString(),
  };
  const text = JSON.stringify(holder) + "\n";
  while (!(await publish(lock, text))) {
    const found = await readLock(lock);
    if (!found) continue; // released in between
    if (isAlive(found)) return found.holder;
    await retire(lock, found.text);
  }
  locks.set(lock, text);
  if (!heartbeat) {
    heartbeat = setInterval(touchLocks, HEARTBEAT_MS);
    Deno.unrefTimer(heartbeat);
  }
  return undefined;
}

/** Releases a lock this process took with {@link takeLock} (if it still holds it). */
export async function releaseLock(lock: string): Promise<void> {
  const text = locks.get(lock);
  if (text === undefined) return;
  locks.delete(lock);
  if (locks.size === 0) stopHeartbeat();
  if (await Deno.readTextFile(lock).catch(() => undefined) === text) {
    await Deno.remove(lock).catch(() => {});
  }
}

/** A lock's holder as words: `process 123 on host-a since 2025-…`. */
export function describeHolder(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} since ${holder.since}`;
}

/**
 * Releases the locks this process holds, removes its unfinished temporary files, its scratch folders, and
 * the results folders it made that hold nothing (a run that failed before writing a result),
 * synchronously.
 */
export function cleanUpFiles(): void {
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
  for (const [lock, text] of locks) {
    try {
      if (Deno.readTextFileSync(lock) === text) Deno.removeSync(lock);
    } catch { /* already gone */ }
  }
  locks.clear();
  stopHeartbeat();
  for (const folder of madeFolders) {
    try {
      Deno.removeSync(folder); // only where empty
    } catch { /* it holds results */ }
  }
  madeFolders.clear();
}

/** The timer that touches the locks this process holds. */
let heartbeat: ReturnType<typeof setInterval> | undefined;

/** Touches every lock this process holds: the sign, for other machines, that its holder lives. */
function touchLocks(): void {
  const now = new Date();
  for (const lock of locks.keys()) Deno.utime(lock, now, now).catch(() => {});
}

function stopHeartbeat(): void {
  clearInterval(heartbeat);
  heartbeat = undefined;
}

/** Publishes `text` as the lock file `lock` unless it exists; whether it did. */
async function publish(lock: string, text: string): Promise<boolean> {
  const temporary = temporaryName(lock);
  temporaries.add(temporary);
  try {
    await Deno.mkdir(parentFolder(lock), { recursive: true });
    await Deno.writeTextFile(temporary, text);
    await Deno.link(temporary, lock);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw new FolderError(`${parentFolder(lock)} cannot be written: ${describeFsError(error)}`);
  } finally {
    await Deno.remove(temporary).catch(() => {});
    temporaries.delete(temporary);
  }
}

/** A lock file as found: its text, its holder (undefined where unreadable) and when it was touched. */
interface FoundLock {
  text: string;
  holder?: LockHolder;
  touched: number;
}

/** The lock file at `lock`, or undefined where there is none. */
async function readLock(lock: string): Promise<FoundLock | undefined> {
  try {
    const [text, info] = await Promise.all([Deno.readTextFile(lock), Deno.stat(lock)]);
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(text);
    } catch { /* not a lock of aelab's: nobody's */ }
    return { text, holder, touched: info.mtime?.getTime() ?? 0 };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new FolderError(`${lock} cannot be read: ${describeFsError(error)}`);
  }
}

/**
 * Removes the lock at `lock` left by a dead holder (whose file held `text`): renamed aside first, so
 * that of several processes taking it over at once one alone removes it; a live holder's lock taken in
 * between is put back.
 */
async function retire(lock: string, text: string): Promise<void> {
  const aside = temporaryName(lock);
  temporaries.add(aside);
  try {
    if (await Deno.readTextFile(lock) !== text) return; // taken over already
    await Deno.rename(lock, aside);
    if (await Deno.readTextFile(aside) !== text) await Deno.link(aside, lock).catch(() => {});
  } catch {
    /* another process took it over first */
  } finally {
    await Deno.remove(aside).catch(() => {});
    temporaries.delete(aside);
  }
}

/** Whether the holder of a lock as found still runs (see {@link takeLock}). */
function isAlive(found: FoundLock): found is FoundLock & { holder: LockHolder } {
  const { holder, touched } = found;
  if (!holder) return false;
  if (holder.host !== Deno.hostname()) return Date.now() - touched < STALE_LOCK_MS;
  // This pid on this machine: an earlier process (a restarted container), as this one holds no such lock.
  return holder.pid !== Deno.pid && processRuns(holder.pid);
}

/** Whether process `pid` of this machine runs (on systems without /proc, assumed so). */
function processRuns(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return Deno.build.os !== "linux";
  }
}

/** A temporary name beside `path`, naming this process and machine: `<path>.<pid>@<host>.<random>.tmp`. */
function temporaryName(path: string): string {
  const host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  return `${path}.${Deno.pid}@${host}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/**
 * Removes the temporary files in `folder` (and `depth` levels below) whose writing process is gone: those
 * of this machine's dead processes (another machine's cannot be asked, and may be a shard's, writing).
 */
async function removeStaleTemporaries(folder: string, depth: number): Promise<void> {
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
