/**
 * Inference on aelab's WebAssembly kernels, split over a pool of workers: a trained model's outputs for
 * many images — an autoencoder's reconstructions, a classifier's logits — each worker computing a
 * contiguous share of the images in its own `WasmPopulation` and writing them into memory it shares with
 * this thread. The same forward pass as training's, without dropout (`WasmPopulation.outputs`).
 *
 * @module
 */
import { type Pixels, sharedPixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import { networkGeometry } from "../gpu/layout.ts";
import type { Weights } from "../model/architecture.ts";
import { modelLayers, type ModelSpec } from "../model/spec.ts";

/** What a worker of the pool is asked: to hold a model, or to run one over a share of the images. */
export type InferenceRequest =
  | { type: "model"; model: number; spec: ModelSpec; weights: Weights }
  | {
    type: "outputs";
    model: number;
    /** All the images (`count × 784`, shared), of which the worker runs `start` to `end`. */
    pixels: Pixels;
    start: number;
    end: number;
    /** Where the outputs go, `count × units` floats (shared). */
    outputs: Float32Array;
  };

/** What a worker answers: done, or one line saying why it failed. */
export type InferenceReply = { type: "done" } | { type: "failed"; message: string };

/** The module each worker runs. */
const WORKER_MODULE = new URL("./inference_worker.ts", import.meta.url);

/** One worker and the reply it owes. */
interface InferenceWorker {
  worker: Worker;
  /** Settles the request in flight, if any. */
  settle?: (reply: InferenceReply) => void;
}

/**
 * A pool of workers that run trained models on aelab's WebAssembly kernels.
 *
 * @example
 * ```ts
 * import { WasmInference } from "./inference.ts";
 * import { initialWeightsOf } from "../model/architecture.ts";
 * import { modelLayers } from "../model/spec.ts";
 * import { createRng } from "../random.ts";
 * const inference = await WasmInference.create(2);
 * const spec = { kind: "classifier", dropout: 0 } as const;
 * const weights = initialWeightsOf(modelLayers(spec), createRng(1));
 * const logits = await inference.outputs(spec, weights, new Uint8Array(3 * 784));
 * console.log(logits.length); // 30
 * inference.dispose();
 * ```
 */
export class WasmInference {
  /** What computes, for the log. */
  readonly description: string;
  readonly #workers: InferenceWorker[];
  /** The models the workers hold, by their weights. */
  readonly #models = new WeakMap<Weights, number>();
  #held = 0;
  /** The requests of one call run one after another. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(workers: InferenceWorker[]) {
    this.#workers = workers;
    this.description = `aelab wasm on ${workers.length} worker${workers.length === 1 ? "" : "s"}`;
  }

  /** Starts `workers` workers (one per core is what helps). */
  static create(workers: number): Promise<WasmInference> {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`an inference pool needs 1 or more workers, got ${workers}`);
    }
    const pool = Array.from({ length: workers }, () => {
      const entry: InferenceWorker = {
        worker: new Worker(WORKER_MODULE.href, { type: "module" }),
      };
      entry.worker.onmessage = ({ data }: MessageEvent<InferenceReply>) => entry.settle?.(data);
      entry.worker.onerror = (event) => {
        event.preventDefault();
        entry.settle?.({ type: "failed", message: event.message });
      };
      return entry;
    });
    return Promise.resolve(new WasmInference(pool));
  }

  /**
   * The outputs of the model `spec` with `weights` for each image of `pixels` (`count × 784`, bytes or
   * floats in [0, 1]), image after image: 784 pixels of an autoencoder's reconstruction, or a
   * classifier's 10 logits. The workers keep the model for later calls with the same `weights` object.
   */
  outputs(spec: ModelSpec, weights: Weights, pixels: Pixels): Promise<Float32Array> {
    const run = this.#queue.then(() => this.#outputs(spec, weights, pixels));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Ends the workers. */
  dispose(): void {
    for (const { worker } of this.#workers) worker.terminate();
  }

  async #outputs(spec: ModelSpec, weights: Weights, pixels: Pixels): Promise<Float32Array> {
    let model = this.#models.get(weights);
    if (model === undefined) {
      model = this.#held++;
      this.#models.set(weights, model);
      const request: InferenceRequest = { type: "model", model, spec, weights };
      await Promise.all(this.#workers.map((_, w) => this.#ask(w, request)));
    }
    const count = pixels.length / IMAGE_PIXELS;
    const units = networkGeometry(modelLayers(spec)).at(-1)!.outputSize;
    const outputs = new Float32Array(new SharedArrayBuffer(count * units * 4));
    const shared = sharedPixels(pixels);
    const share = (w: number) => Math.floor(w * count / this.#workers.length);
    await Promise.all(this.#workers.map((_, w) =>
      this.#ask(w, {
        type: "outputs",
        model: model!,
        pixels: shared,
        start: share(w),
        end: share(w + 1),
        outputs,
      })
    ));
    return outputs.slice();
  }

  /** Sends `request` to worker `w` and waits for its answer; a failure rejects, naming the worker. */
  #ask(w: number, request: InferenceRequest): Promise<void> {
    const entry = this.#workers[w];
    return new Promise((resolve, reject) => {
      entry.settle = (reply) => {
        entry.settle = undefined;
        if (reply.type === "done") resolve();
        else {
          reject(
            new Error(
              `inference worker ${w + 1} of ${this.#workers.length} failed (${reply.message})`,
            ),
          );
        }
      };
      entry.worker.postMessage(request);
    });
  }
}
