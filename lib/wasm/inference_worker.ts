/**
 * One worker of a `WasmInference` pool: holds the models it is handed, each in a `WasmPopulation` of
 * its own, and runs one over the images it is told, a batch at a time, writing the outputs into the
 * memory it shares with the pool.
 *
 * @module
 */
import { loadKernels } from "./kernels.ts";
import type { InferenceReply, InferenceRequest } from "./inference.ts";
import { WasmPopulation } from "./population.ts";

/** Images run through a model at once: the rows of its population's maps. */
const BATCH = 256;

const scope = self as unknown as {
  postMessage(message: InferenceReply): void;
  onmessage: ((event: MessageEvent<InferenceRequest>) => void) | null;
};

const kernels = loadKernels();
const models = new Map<number, WasmPopulation>();
let queue: Promise<void> = Promise.resolve();

scope.onmessage = ({ data: request }) => {
  queue = queue.then(() => answer(request));
};

/** Carries out `request` and says it is done, or why it failed. */
async function answer(request: InferenceRequest): Promise<void> {
  try {
    const loaded = await kernels;
    if (typeof loaded === "string") throw new Error(loaded);
    if (request.type === "model") {
      const population = new WasmPopulation(
        loaded,
        [{ spec: request.spec, l2: 0, seed: 0 }],
        BATCH,
      );
      population.setWeights(0, request.weights);
      models.set(request.model, population);
    } else run(request);
    scope.postMessage({ type: "done" });
  } catch (error) {
    scope.postMessage({ type: "failed", message: String((error as Error)?.message ?? error) });
  }
}

/** Runs the model `request` names over its images, writing their outputs. */
function run(request: InferenceRequest & { type: "outputs" }): void {
  const population = models.get(request.model);
  if (!population) throw new Error(`no model ${request.model} was handed to this worker`);
  const { pixels, start, end, outputs } = request;
  for (let from = start; from < end; from += BATCH) {
    const to = Math.min(from + BATCH, end);
    population.loadBatch(
      { inputs: pixels },
      Int32Array.from({ length: to - from }, (_, i) => from + i),
    );
    const values = population.outputs(0);
    outputs.set(values, from * (values.length / (to - from)));
  }
}
