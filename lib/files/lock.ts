/**
 * Locks as aelab takes them: the results-folder lock (one run at a time in a folder, the folder made
 * ready first) and a shard's lock on each training it trains — a lock file naming the holder (its pid,
 * start and machine), taken atomically in a way a network file system keeps (no `flock`), touched while
 * held, released on exit ({@link releaseFoldersAndLocks}), taken over when its holder is gone.
 *
 * It imports only `atomic.ts`, whose temporary files and writes under way its locks share.
 *
 * @module
 */
import {
  describeFsError,
  existsAsLink,
  parentFolder,
  processRuns,
  removeStaleTemporaries,
  temporaries,
  temporaryName,
  whileRunning,
  writeFileAtomic,
} from "./atomic.ts";

/** The lock file a run holds in its results folder. */
const LOCK_FILE = ".aelab.lock";

/** Lock files this process holds, with what it wrote in each, released when it exits. */
const locks = new Map<string, string>();

/** Folders this process made for its results (and above them), removed when it exits leaving them empty. */
const madeFolders = new Set<string>();

/** How often a held lock is touched, so that a run on another machine can tell it from a dead one. */
const HEARTBEAT_MS = 30_000;

/** A lock untouched for this long was left by a dead holder, on whatever machine. */
export const STALE_LOCK_MS = 5 * 60_000;

/** Who holds a lock: the process and its machine, and since when. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  /** The machine's boot (Linux's boot id): a holder of an earlier boot is gone. */
  boot?: string;
  /**
   * When the process started, in clock ticks since boot (Linux): a process of that pid that started at
   * another time is another process, the holder gone.
   */
  start?: number;
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
    // A symlink to a missing path is there: no folder this run made, nor removes.
    for (let missing = folder; !(await existsAsLink(missing)); missing = parentFolder(missing)) {
      madeFolders.add(missing); // the deepest first, as they are removed
    }
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    throw new FolderError(
      `${folder} cannot be used as a results folder: ${await describeUnusable(folder, error)}`,
    );
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
 * Why `folder` cannot be made, from the error that refused it: a symlink loop in its place or on its
 * path, a symlink to a missing path (named with its target) in its place or a folder's above it, a file
 * in its place, or the system's reason.
 */
async function describeUnusable(folder: string, error: unknown): Promise<string> {
  if (error instanceof Deno.errors.FilesystemLoop) {
    const info = await Deno.lstat(folder).catch(() => undefined);
    return info?.isSymlink ? "it is a symlink loop" : "its path runs through a symlink loop";
  }
  if (!(error instanceof Deno.errors.AlreadyExists)) return describeFsError(error);
  for (let path = folder;; path = parentFolder(path)) {
    const info = await Deno.lstat(path).catch(() => undefined);
    const named = path === folder ? "it" : path;
    if (info?.isSymlink) {
      const target = await Deno.stat(path).then(() => undefined, (problem) => problem);
      if (target instanceof Deno.errors.FilesystemLoop) return `${named} is a symlink loop`;
      if (target instanceof Deno.errors.NotFound) {
        return `${named} is a symlink to missing ${await Deno.readLink(path)}`;
      }
    }
    if (info || parentFolder(path) === path) return "it is a file, not a folder";
  }
}

/**
 * {@link prepareFolder}, then takes the folder's lock ({@link takeLock}) and removes the temporary files
 * a dead run left there (and in the results root above it, where REPORT.md is regenerated). A folder held
 * by a live run is a {@link FolderError} naming it.
 *
 * @example
 * ```ts
 * import { holdFolder, releaseFoldersAndLocks } from "./lock.ts";
 * const folder = `${await Deno.makeTempDir()}/results`;
 * await holdFolder(folder); // made, locked
 * releaseFoldersAndLocks(); // released
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
 * written). A dead holder's lock is replaced, by a rename, under a claim on its take-over — a lock file
 * beside it, taken the same way — that one process alone holds, and only while it still holds the dead
 * holder's record: so of processes taking it over at once one alone gets it, however they interleave.
 *
 * A held lock is touched every 30 s. Its holder is dead when it has gone untouched for 5 minutes (on any
 * machine, whose clocks agree within that) or, on this machine, when its process is gone: its pid runs
 * no more, or runs another process (one that started at another time, or in another boot).
 *
 * @example
 * ```ts
 * import { releaseLock, takeLock } from "./lock.ts";
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
  const text = JSON.stringify(thisHolder()) + "\n";
  const holder = await takeFile(lock, text);
  if (holder) return holder;
  locks.set(lock, text);
  if (!heartbeat) {
    heartbeat = setInterval(touchLocks, HEARTBEAT_MS);
    Deno.unrefTimer(heartbeat);
  }
  return undefined;
}

/**
 * Makes the lock file `lock` hold `text`, this process's record, unless a live holder has it: returns
 * undefined once it does, else the live holder (of `lock`, or of the claim on taking it over).
 */
async function takeFile(lock: string, text: string): Promise<LockHolder | undefined> {
  while (!(await publish(lock, text))) {
    const found = await readLock(lock);
    if (!found) continue; // released in between
    if (isAlive(found)) return found.holder;
    const taken = await replaceDead(lock, found.text, text);
    if (taken !== false) return taken === true ? undefined : taken;
  }
  return undefined;
}

/**
 * Replaces the lock file `lock`, found holding `dead` (a dead holder's record), by `text`, holding the
 * claim on its take-over (`<name>.takeover.lock`, itself taken by {@link takeFile}) meanwhile: so one
 * process alone replaces it, and only while it still holds `dead` — never a record published since.
 * Returns whether `lock` is now this process's, or the live holder of the claim.
 */
async function replaceDead(
  lock: string,
  dead: string,
  text: string,
): Promise<boolean | LockHolder> {
  const claim = `${lock.replace(/\.lock$/, "")}.takeover.lock`;
  const claimant = await takeFile(claim, text);
  if (claimant) return claimant;
  try {
    if (await readText(lock) !== dead) return false; // taken over, or released, meanwhile
    await writeFileAtomic(lock, text);
    return await readText(lock) === text;
  } finally {
    await releaseFile(claim, text);
  }
}

/** Releases a lock this process took with {@link takeLock} (if it still holds it). */
export async function releaseLock(lock: string): Promise<void> {
  const text = locks.get(lock);
  if (text === undefined) return;
  locks.delete(lock);
  if (locks.size === 0) stopHeartbeat();
  await releaseFile(lock, text);
}

/**
 * Removes the lock file `lock` where a dead holder left it — a run killed after the work it held was done,
 * before it released it — as one taking it over would ({@link takeLock}); leaves a live holder's lock,
 * and this process's own.
 */
export async function removeDeadLock(lock: string): Promise<void> {
  if (locks.has(lock) || !(await existsAsLink(lock))) return;
  if (!(await takeLock(lock))) await releaseLock(lock);
}

/** Removes the lock file `lock` if it holds `text` (this process's record). */
async function releaseFile(lock: string, text: string): Promise<void> {
  if (await readText(lock) === text) await Deno.remove(lock).catch(() => {});
}

/** A lock's holder as words: `process 123 on host-a since 2025-…`. */
export function describeHolder(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} since ${holder.since}`;
}

/**
 * Releases the locks this process holds and removes the results folders it made that hold nothing (a run
 * that failed before writing a result), synchronously: what every exit does, after `atomic.ts`'s
 * `removeTemporaryFiles`.
 */
export function releaseFoldersAndLocks(): void {
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

/**
 * The lock file at `lock`, or undefined where there is none. Read before its time is asked, so that a
 * lock replaced in between shows a time no older than its text's.
 */
async function readLock(lock: string): Promise<FoundLock | undefined> {
  try {
    const text = await Deno.readTextFile(lock);
    const info = await Deno.stat(lock);
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

/** The text of the file at `path`, or undefined where it cannot be read (it is gone). */
function readText(path: string): Promise<string | undefined> {
  return Deno.readTextFile(path).catch(() => undefined);
}

/** Whether the holder of a lock as found still runs (see {@link takeLock}). */
function isAlive(found: FoundLock): found is FoundLock & { holder: LockHolder } {
  const { holder, touched } = found;
  if (!holder || Date.now() - touched >= STALE_LOCK_MS) return false;
  if (holder.host !== Deno.hostname()) return true;
  if (holder.boot !== undefined && holder.boot !== bootAndStart().boot) return false;
  // A record without its start (an older aelab's): its pid alone, other than this process's (which
  // holds no such lock: a restarted container's earlier process), until it goes stale.
  if (holder.start === undefined) return holder.pid !== Deno.pid && processRuns(holder.pid);
  return processStart(holder.pid) === holder.start;
}

/** This process as a lock names it, now. */
function thisHolder(): LockHolder {
  return {
    pid: Deno.pid,
    host: Deno.hostname(),
    since: new Date().toISOString(),
    ...bootAndStart(),
  };
}

/** This machine's boot and this process's start (where the system tells them), read once. */
function bootAndStart(): Pick<LockHolder, "boot" | "start"> {
  thisProcess ??= { boot: bootId(), start: processStart(Deno.pid) };
  return thisProcess;
}

/** What {@link bootAndStart} read. */
let thisProcess: Pick<LockHolder, "boot" | "start"> | undefined;

/** This machine's boot id (Linux), undefined where the system has none. */
function bootId(): string | undefined {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return undefined;
  }
}

/**
 * When process `pid` of this machine started, in clock ticks since boot: field 22 of `/proc/<pid>/stat`
 * (counted after the command's name, which may hold spaces and parentheses); undefined where no such
 * process runs, or the system has no `/proc`.
 */
function processStart(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    return Number.isInteger(start) ? start : undefined;
  } catch {
    return undefined;
  }
}
