/**
 * The study's convolutional autoencoder as a model: its config, its weights in PyTorch's names and
 * layouts, saving and loading them as safetensors, and inference on tfjs — `encode`, `decode`,
 * `reconstruct`, and the study's own `getEncRepresentation` and `generateFromEncodedSample`. Training
 * lives in the trainers (`lib/train/`), which start from and hand back these weights.
 *
 * @module
 */
import { tf } from "../deps_tfjs.ts";
import type { Digits } from "../data/mnist.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";
import type { Codes } from "../latent.ts";
import { createRng } from "../random.ts";
import { ENCODER_LAYERS, initialWeights, layerSpecs, type Weights } from "./architecture.ts";
import { mapImages } from "./images.ts";
import { SavedModel } from "./saved_model.ts";
import { type AutoencoderSpec, checkSpec, readModelFile } from "./spec.ts";

/** What an autoencoder is built with: its latent size and the dropout it trains with. */
export interface AutoencoderConfig {
  /** Latent size d. */
  hidden: number;
  /** Dropout probability after the first linear layer of encoder and decoder, in [0, 1). */
  dropout: number;
}

/** The defaults: d = 4 and the study's best dropout, 0.1508. */
export const DEFAULT_CONFIG: AutoencoderConfig = { hidden: 4, dropout: 0.1508 };

/**
 * The autoencoder: encoder (3 strided convolutions, 2 linear layers) to a code of `hidden` numbers and a
 * mirrored decoder back to 28 × 28 pixels in [0, 1], on the current tfjs backend, without dropout.
 *
 * @example
 * ```ts
 * import { Autoencoder } from "./autoencoder.ts";
 * import { setupBackend } from "../tfjs.ts";
 * await setupBackend("wasm", { quiet: true });
 * const model = Autoencoder.create({ hidden: 4 }, 1);
 * console.log(model.parameterCount); // 49541
 * const pixels = await model.generateFromEncodedSample([0, 0, 0, 0]);
 * console.log(pixels.length); // 784
 * model.dispose();
 * ```
 */
export class Autoencoder extends SavedModel<AutoencoderSpec> {
  /** The configuration the model was built with. */
  readonly config: Readonly<AutoencoderConfig>;

  private constructor(config: AutoencoderConfig, weights: Weights) {
    super(layerSpecs(config.hidden), weights);
    this.config = Object.freeze({ ...config });
  }

  /** A new model with PyTorch's default initialisation ({@link initialWeights}) drawn from `seed`. */
  static create(config: Partial<AutoencoderConfig> = {}, seed = 0): Autoencoder {
    const full = { ...DEFAULT_CONFIG, ...config };
    checkSpec({ kind: "autoencoder", ...full });
    return new Autoencoder(full, initialWeights(full.hidden, createRng(seed)));
  }

  /** A model of `config` holding `weights` (PyTorch names and layouts, every parameter). */
  static fromWeights(config: AutoencoderConfig, weights: Weights): Autoencoder {
    checkSpec({ kind: "autoencoder", ...config });
    return new Autoencoder(config, weights);
  }

  /**
   * Loads a model saved by {@link Autoencoder.save}; see {@link Autoencoder.fromSafetensors} for what is
   * checked.
   */
  static async load(path: string, expected: Partial<AutoencoderConfig> = {}): Promise<Autoencoder> {
    return Autoencoder.fromSafetensors(await Deno.readFile(path), path, expected);
  }

  /**
   * A model from the bytes of a safetensors file (`source` names it in errors): an autoencoder's file, with
   * exactly the model's tensors in their shapes and every value finite, of the latent size (and dropout)
   * in `expected` where it names them. Anything else is an error that says what differs.
   */
  static fromSafetensors(
    bytes: Uint8Array,
    source: string,
    expected: Partial<AutoencoderConfig> = {},
  ): Autoencoder {
    const { spec, weights } = readModelFile(bytes, source, "autoencoder");
    for (const key of ["hidden", "dropout"] as const) {
      if (expected[key] !== undefined && expected[key] !== spec[key]) {
        throw new Error(
          `${source}: saved with ${key} ${spec[key]}, but ${key} ${expected[key]} was asked for`,
        );
      }
    }
    const { hidden, dropout } = spec;
    return new Autoencoder({ hidden, dropout }, weights);
  }

  /** What the model is, as trainers and files describe it. */
  get spec(): AutoencoderSpec {
    return { kind: "autoencoder", ...this.config };
  }

  /** The codes `[n, hidden]` of `images` `[n, 28, 28, 1]` (pixels in [0, 1]); the caller disposes them. */
  encode(images: tf.Tensor4D): tf.Tensor2D {
    return this.network.forward(images, { from: 0, to: ENCODER_LAYERS }) as tf.Tensor2D;
  }

  /** The images `[n, 28, 28, 1]` decoded from `codes` `[n, hidden]`; the caller disposes them. */
  decode(codes: tf.Tensor2D): tf.Tensor4D {
    const to = this.network.layers.length;
    return this.network.forward(codes, { from: ENCODER_LAYERS, to }) as tf.Tensor4D;
  }

  /** `images` encoded and decoded again; the caller disposes the result. */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    return this.network.forward(images) as tf.Tensor4D;
  }

  /** The codes of all of `digits`, with their labels. */
  async getEncRepresentation(digits: Digits): Promise<Codes> {
    const pixels = digits.images.subarray(0, digits.count * IMAGE_PIXELS);
    const codes = await mapImages(pixels, (images) => this.encode(images));
    return { codes, labels: digits.labels.slice(0, digits.count), hidden: this.config.hidden };
  }

  /** The 784 pixels (row-major, in [0, 1]) that the code `z` decodes to. */
  async generateFromEncodedSample(z: ArrayLike<number>): Promise<Float32Array> {
    if (z.length !== this.config.hidden) {
      throw new RangeError(`a code has ${this.config.hidden} numbers, got ${z.length}`);
    }
    const image = tf.tidy(() => this.decode(tf.tensor2d(Array.from(z), [1, z.length])));
    const pixels = await image.data() as Float32Array;
    image.dispose();
    return pixels;
  }

  /** Replaces the weights with `weights` (PyTorch names and layouts; every parameter, of its size). */
  setWeights(weights: Weights): void {
    this.network.setWeights(weights);
  }
}
