/**
 * The digit classifier as a model: its weights in PyTorch's names and layouts, saved and loaded as
 * safetensors files of kind `classifier`, and inference on tfjs — the logits of images and the digit each
 * image is read as. Training lives in the trainers (`lib/train/`), as for the autoencoder.
 *
 * @module
 */
import { tf } from "../deps_tfjs.ts";
import type { Pixels } from "../data/batches.ts";
import { createRng } from "../random.ts";
import { initialWeightsOf, type Weights } from "./architecture.ts";
import { classifierLayers } from "./classifier.ts";
import { mapImages } from "./images.ts";
import { SavedModel } from "./saved_model.ts";
import { checkSpec, type ClassifierSpec, readModelFile } from "./spec.ts";

/**
 * The digit classifier of `classifier.ts` on the current tfjs backend, without dropout: images in, one
 * logit per digit out.
 *
 * @example
 * ```ts
 * import { Classifier } from "./classifier_model.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const classifier = Classifier.create({ dropout: 0.25 }, 1);
 * const digits = await classifier.predict(new Uint8Array(2 * 784));
 * console.log(digits.length); // 2
 * classifier.dispose();
 * ```
 */
export class Classifier extends SavedModel<ClassifierSpec> {
  readonly #spec: Readonly<ClassifierSpec>;

  private constructor(spec: ClassifierSpec, weights: Weights) {
    super(classifierLayers(), weights);
    this.#spec = Object.freeze({ ...checkSpec(spec) });
  }

  /** A new classifier with PyTorch's default initialisation drawn from `seed`. */
  static create(config: { dropout: number }, seed = 0): Classifier {
    const weights = initialWeightsOf(classifierLayers(), createRng(seed));
    return new Classifier({ kind: "classifier", ...config }, weights);
  }

  /** A classifier of `config` holding `weights` (PyTorch names and layouts, every parameter). */
  static fromWeights(config: { dropout: number }, weights: Weights): Classifier {
    return new Classifier({ kind: "classifier", ...config }, weights);
  }

  /** Loads a classifier saved by {@link Classifier.save}; see {@link Classifier.fromSafetensors}. */
  static async load(path: string): Promise<Classifier> {
    return Classifier.fromSafetensors(await Deno.readFile(path), path);
  }

  /**
   * A classifier from the bytes of a safetensors file (`source` names it in errors): a classifier's file
   * (an autoencoder's is refused, saying so), with exactly its tensors in their shapes, every value finite.
   */
  static fromSafetensors(bytes: Uint8Array, source: string): Classifier {
    const { spec, weights } = readModelFile(bytes, source, "classifier");
    return new Classifier(spec, weights);
  }

  /** What the model is, as trainers and files describe it. */
  get spec(): ClassifierSpec {
    return this.#spec;
  }

  /** The logits `[n, 10]` of `images` `[n, 28, 28, 1]` (pixels in [0, 1]); the caller disposes them. */
  logits(images: tf.Tensor4D): tf.Tensor2D {
    return this.network.forward(images) as tf.Tensor2D;
  }

  /** The digit each of `pixels` (`count × 784`, bytes or floats in [0, 1]) is read as: its top logit. */
  async predict(pixels: Pixels): Promise<Uint8Array> {
    const digits = await mapImages(pixels, (images) => this.logits(images).argMax(1).toFloat());
    return Uint8Array.from(digits);
  }
}
