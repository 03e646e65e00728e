/**
 * The one interface the experiments run trained models through, beside `Trainer`: the digits a
 * classifier reads and the reconstructions an autoencoder makes of many images at once. tfjs runs them
 * in this thread ({@link TFJS_INFERENCE}); aelab's wasm engine on its workers (`WasmInference`);
 * `createInference` in `engine.ts` picks the one of the engine in use.
 *
 * @module
 */
import type { Pixels } from "../data/batches.ts";
import { tf } from "../deps_tfjs.ts";
import type { Autoencoder } from "../model/autoencoder.ts";
import type { Classifier } from "../model/classifier_model.ts";
import { reconstructPixels } from "../predict.ts";

/** Trained models applied to images, on one engine. */
export interface Inference {
  /** What computes, for the log and the results, e.g. `tfjs wasm in this thread`. */
  readonly description: string;
  /** The digit `classifier` reads each of `pixels` (`count × 784`, bytes or floats in [0, 1]) as. */
  readDigits(classifier: Classifier, pixels: Pixels): Promise<Uint8Array>;
  /** `model`'s reconstructions of `pixels`, `count × 784` floats in [0, 1], in input order. */
  reconstruct(model: Autoencoder, pixels: Pixels): Promise<Float32Array>;
  /** Frees what the engine holds for inference (never the models). */
  dispose(): void;
}

/**
 * Inference on the models' own tfjs networks, on the current backend in this thread.
 *
 * @example
 * ```ts
 * import { TFJS_INFERENCE } from "./inference.ts";
 * import { Classifier } from "../model/classifier_model.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const classifier = Classifier.create({ dropout: 0 }, 1);
 * console.log((await TFJS_INFERENCE.readDigits(classifier, new Uint8Array(2 * 784))).length); // 2
 * classifier.dispose();
 * ```
 */
export const TFJS_INFERENCE: Inference = {
  get description() {
    return `tfjs ${tf.getBackend()} in this thread`;
  },
  readDigits: (classifier, pixels) => classifier.predict(pixels),
  reconstruct: reconstructPixels,
  dispose: () => {},
};
