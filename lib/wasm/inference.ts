/**
 * Inference on aelab's WebAssembly kernels, split over a pool of workers: a trained model's outputs for
 * many images — an autoencoder's reconstructions, a classifier's logits — each worker computing a
 * contiguous share of the images in its own `WasmPopulation` and writing them into memory it shares with
 * this thread. The same forward pass as training's, without dropout (`WasmPopulation.outputs`). It is
 * the wasm engine's `Inference`.
 *
 * @module
 */
import { type Pixels, sharedPixels } from "../data/batches.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import { networkGeometry } from "../gpu/layout.ts";
import type { Weights } from "../model/architecture.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import { topDigits } from "../model/classifier.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { modelLayers, type ModelSpec } from "../model/spec.ts";
import type { Inference } from "../train/inference.ts";

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

/** A trained model: what it is, and its weights. */
interface TrainedModel {
  readonly spec: ModelSpec;
  getWeights(): Promise<Weights>;
}

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
 * import { Classifier } from "../model/classifier_model.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const inference = WasmInference.create(2);
 * const classifier = Classifier.create({ dropout: 0 }, 1);
 * console.log((await inference.readDigits(classifier, new Uint8Array(3 * 784))).length); // 3
 * inference.dispose();
 * classifier.dispose();
 * ```
 */
export class WasmInference implements Inference {
  readonly description: string;
  readonly #workers: InferenceWorker[];
  /** The models the workers hold, by model: the number they know it by, and the weights they hold. */
  readonly #models = new WeakMap<TrainedModel, { number: number; weights: Weights }>();
  #held = 0;
  /** The requests of one call run one after another. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Why the pool failed: a worker that failed leaves it unusable, its workers ended. */
  #failure: Error | undefined;

  private constructor(workers: InferenceWorker[]) {
    this.#workers = workers;
    this.description = `aelab wasm on ${workers.length} worker${workers.length === 1 ? "" : "s"}`;
  }

  async readDigits(classifier: Classifier, pixels: Pixels): Promise<Uint8Array> {
    return topDigits(await this.outputs(classifier, pixels));
  }

  reconstruct(model: Autoencoder, pixels: Pixels): Promise<Float32Array> {
    return this.outputs(model, pixels);
  }

  /** Starts `workers` workers (one per core is what helps). */
  static create(workers: number): WasmInference {
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
    return new WasmInference(pool);
  }

  /**
   * The outputs of `model` for each image of `pixels` (`count × 784`, bytes or floats in [0, 1]), image
   * after image: 784 pixels of an autoencoder's reconstruction, or a classifier's 10 logits, in memory
   * shared with the workers (so that reading them again copies nothing). The workers keep the model for
   * later calls, and take its weights again where they have changed.
   */
  outputs(model: TrainedModel, pixels: Pixels): Promise<Float32Array> {
    const run = this.#queue.then(() => this.#outputs(model, pixels));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Ends the workers. */
  dispose(): void {
    for (const { worker } of this.#workers) worker.terminate();
  }

  async #outputs(trained: TrainedModel, pixels: Pixels): Promise<Float32Array> {
    if (this.#failure) throw this.#failure;
    const { spec } = trained;
    const weights = await trained.getWeights();
    let held = this.#models.get(trained);
    if (!held || !sameWeights(held.weights, weights)) {
      held = { number: held?.number ?? this.#held++, weights };
      this.#models.set(trained, held);
      const request: InferenceRequest = { type: "model", model: held.number, spec, weights };
      await Promise.all(this.#workers.map((_, w) => this.#ask(w, request)));
    }
    const model = held.number;
    const count = pixels.length / IMAGE_PIXELS;
    const units = networkGeometry(modelLayers(spec)).at(-1)!.outputSize;
    const outputs = new Float32Array(new SharedArrayBuffer(count * units * 4));
    const shared = sharedPixels(pixels);
    const share = (w: number) => Math.floor(w * count / this.#workers.length);
    await Promise.all(this.#workers.map((_, w) =>
      this.#ask(w, {
        type: "outputs",
        model,
        pixels: shared,
        start: share(w),
        end: share(w + 1),
        outputs,
      })
    ));
    return outputs;
  }

  /** Sends `request` to worker `w` and waits for its answer; a failure rejects, naming the worker. */
  #ask(w: number, request: InferenceRequest): Promise<void> {
    const entry = this.#workers[w];
    return new Promise((resolve, reject) => {
      entry.settle = (reply) => {
        entry.settle = undefined;
        if (reply.type === "done") return resolve();
        this.#failure ??= new Error(
          `inference worker ${w + 1} of ${this.#workers.length} failed (${reply.message})`,
        );
        this.dispose();
        reject(this.#failure);
      };
      entry.worker.postMessage(request);
    });
  }
}

/** Whether `a` and `b` hold the same tensors, value for value. */
function sameWeights(a: Weights, b: Weights): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length &&
    names.every((name) => {
      const [x, y] = [a[name], b[name]];
      return y !== undefined && x.length === y.length && x.every((value, i) => value === y[i]);
    });
}
