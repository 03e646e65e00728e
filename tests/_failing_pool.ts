/**
 * Preloaded into a script run (`deno run --preload tests/_failing_pool.ts …`): every worker pool the script
 * starts runs its second worker as `_failing_worker.ts`, which fails mid-epoch, so that a test sees what a
 * user sees when a worker dies.
 */
import { WorkerPool } from "../lib/train/workers.ts";

const failing = new URL("./_failing_worker.ts", import.meta.url);
const create = WorkerPool.create;
WorkerPool.create = (jobs, options) =>
  create.call(WorkerPool, jobs, {
    ...options,
    workerModule: (w) => w === 1 ? failing : undefined,
  });
