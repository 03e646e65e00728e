/**
 * One worker of the pool (`workers.ts`): builds the trainer it is told — a {@link TfjsTrainer} on the
 * backend it names (wasm, single-threaded, in this worker's own thread) or a {@link WasmTrainer} on
 * aelab's kernels, on its own or as one of a data-parallel pool — of the population's models on the
 * datasets it was handed (shared memory, not copies), and answers the pool's requests — train models a
 * whole epoch (from the states they move in with) and send back their states, evaluate, get or set a
 * model's state — one at a time, each with its request number.
 *
 * @module
 */
import { setupBackend } from "../tfjs.ts";
import { loadKernels } from "../wasm/kernels.ts";
import { GradientExchange } from "./exchange.ts";
import { TfjsTrainer } from "./tfjs.ts";
import type { Trainer } from "./trainer.ts";
import { WasmTrainer } from "./wasm.ts";
import type { PoolReply, PoolRequest, TrainedEpoch } from "./workers.ts";

/** How often the worker reports progress within an epoch, in milliseconds. */
const PROGRESS_INTERVAL_MS = 200;

const scope = self as unknown as {
  postMessage(message: PoolReply): void;
  onmessage: ((event: MessageEvent<PoolRequest>) => void) | null;
};

let trainer: Trainer | undefined;
let queue: Promise<void> = Promise.resolve();

scope.onmessage = ({ data: request }) => {
  queue = queue.then(() => answer(request));
};

// An error nothing caught ends the worker with one message to the pool, not a stack trace on the console.
self.addEventListener("error", (event) => {
  event.preventDefault();
  scope.postMessage({ id: -1, type: "failed", message: (event as ErrorEvent).message });
  self.close();
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  scope.postMessage({
    id: -1,
    type: "failed",
    message: String(event.reason?.message ?? event.reason),
  });
  self.close();
});

async function answer(request: PoolRequest): Promise<void> {
  const { id } = request;
  try {
    if (request.type === "init") {
      trainer = await createTrainer(request);
      scope.postMessage({ id, type: "done" });
      return;
    }
    if (!trainer) throw new Error("the worker was asked to work before it was set up");
    if (request.type === "train") {
      const { models, states } = request;
      for (const [k, state] of states.entries()) {
        if (state) await trainer.setState(models[k], state);
      }
      let reported = 0;
      const losses = await trainer.trainEpoch({
        active: trainer.jobs.map((_, i) => models.includes(i)),
        steps: request.steps,
        onProgress: (done, total) => {
          const now = performance.now();
          if (now - reported < PROGRESS_INTERVAL_MS && done < total) return;
          reported = now;
          scope.postMessage({ id, type: "progress", done });
        },
      });
      const trained: TrainedEpoch = { losses: models.map((i) => losses[i]), states: [] };
      for (const i of models) trained.states.push(await trainer.getState(i));
      scope.postMessage({ id, type: "done", value: trained });
    } else if (request.type === "evaluate") {
      scope.postMessage({
        id,
        type: "done",
        value: await trainer.evaluate(request.split, request.active),
      });
    } else if (request.type === "getState") {
      scope.postMessage({ id, type: "done", value: await trainer.getState(request.index) });
    } else {
      await trainer.setState(request.index, request.state);
      scope.postMessage({ id, type: "done" });
    }
  } catch (error) {
    scope.postMessage({ id, type: "failed", message: (error as Error).message });
  }
}

/** The trainer an `init` request asks for. */
async function createTrainer(request: PoolRequest & { type: "init" }): Promise<Trainer> {
  if (request.trainer.engine === "tfjs") {
    await setupBackend(request.trainer.backend, { quiet: true });
    const { batchSize, trainer: { backend } } = request;
    return new TfjsTrainer(request.jobs, { batchSize, backend });
  }
  const kernels = await loadKernels();
  if (typeof kernels === "string") throw new Error(kernels);
  const { batchSize, exchange } = request;
  return new WasmTrainer(kernels, request.jobs, {
    batchSize,
    exchange: exchange && new GradientExchange(exchange.buffer, exchange.rank, exchange.workers),
  });
}
