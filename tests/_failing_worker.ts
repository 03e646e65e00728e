/**
 * A pool worker that fails on cue: `lib/train/worker.ts` as it is, except that at step 3 of a model's
 * second epoch its training throws — tfjs's or aelab's wasm engine's alike — as a crashing WebAssembly
 * module would mid-epoch. A pool runs it through `WorkerPoolOptions.workerModule` (see `_failing_pool.ts`).
 */
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import type { EpochOptions } from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import "../lib/train/worker.ts";

/** The epoch (1, 2, …) of a model at which the worker fails, and the step of it. */
const FAILING_EPOCH = 2;
const FAILING_STEP = 3;

for (const trainer of [TfjsTrainer, WasmTrainer]) {
  const trainEpoch = trainer.prototype.trainEpoch;
  trainer.prototype.trainEpoch = async function (options: EpochOptions = {}): Promise<number[]> {
    const first = Math.max(0, options.active?.indexOf(true) ?? 0);
    const epoch = (await this.getState(first)).epochs + 1;
    return await trainEpoch.call(this, {
      ...options,
      onProgress: (done, total) => {
        if (epoch === FAILING_EPOCH && done === FAILING_STEP) {
          throw new Error(`fault injected at step ${done}`);
        }
        options.onProgress?.(done, total);
      },
    });
  };
}
