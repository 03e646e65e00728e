/**
 * Whether the process that started this run is still there: a run started by another aelab process (a
 * study's step, a bench's row) or by `deno task` stops when that parent dies, even by SIGKILL, rather than
 * running on orphaned and holding its results folder.
 *
 * @module
 */

/** How often a run looks at its parent. */
const PARENT_POLL_MS = 250;

/**
 * Calls `gone` once (with the parent's pid) when the process that started this one ends, if that parent
 * is a Deno process (`deno task`, a study, a bench; the same executable as this one). A run started from a
 * shell is not watched, so that `nohup` keeps it running after the shell ends. Only on systems with
 * `/proc` (Linux); elsewhere nothing is watched. The watch keeps no run alive; the returned function ends
 * it.
 *
 * @example
 * ```ts
 * import { watchParent } from "./parent.ts";
 * const unwatch = watchParent((pid) => console.error(`process ${pid} has ended`));
 * unwatch();
 * ```
 */
export function watchParent(gone: (parent: number) => void): () => void {
  const parent = Deno.ppid;
  if (!startedByDeno(parent)) return () => {};
  const timer = setInterval(() => {
    // An orphan is adopted by pid 1 or by a subreaper: its parent pid changes.
    if (Deno.ppid === parent) return;
    clearInterval(timer);
    gone(parent);
  }, PARENT_POLL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** Whether the process `pid` runs the executable this process runs. */
function startedByDeno(pid: number): boolean {
  try {
    return Deno.realPathSync(`/proc/${pid}/exe`) === Deno.realPathSync(Deno.execPath());
  } catch {
    return false;
  }
}
