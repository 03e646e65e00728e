/**
 * A pool worker that runs slow: `lib/train/worker.ts` as it is, except that it sleeps 40 ms after every
 * training step — tfjs's or aelab's wasm engine's alike — as a worker on a core that a busy machine
 * shares. A pool runs it through `WorkerPoolOptions.workerModule`.
 */
import { TfjsTrainer } from "../lib/train/tfjs.ts";
import type { EpochOptions } from "../lib/train/trainer.ts";
import { WasmTrainer } from "../lib/train/wasm.ts";
import "../lib/train/worker.ts";

/** How long the worker sleeps after each step, in milliseconds. */
const SLEEP_MS = 40;

const asleep = new Int32Array(new SharedArrayBuffer(4));
for (const trainer of [TfjsTrainer, WasmTrainer]) {
  const trainEpoch = trainer.prototype.trainEpoch;
  trainer.prototype.trainEpoch = function (options: EpochOptions = {}): Promise<number[]> {
    return trainEpoch.call(this, {
      ...options,
      onProgress: (done, total) => {
        Atomics.wait(asleep, 0, 0, SLEEP_MS);
        options.onProgress?.(done, total);
      },
    });
  };
}
