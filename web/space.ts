/**
 * One model and the test digits in its latent space: their codes, the plane of the map and where each
 * digit lies on it, the class centroids and the range of each latent unit — and the model's encoding,
 * decoding and reconstruction of pixels the page holds, read back as plain numbers.
 *
 * @module
 */
import { tf } from "../lib/deps_tfjs.ts";
import { unitPixels } from "../lib/data/batches.ts";
import { IMAGE_PIXELS } from "../lib/data/geometry.ts";
import type { Digits } from "../lib/data/mnist.ts";
import {
  classCentroids,
  codeAt,
  type Codes,
  type LatentPlane,
  latentPlane,
  planeCoordinates,
  projectTo2d,
} from "../lib/latent.ts";
import type { ModelEntry } from "../lib/explore/manifest.ts";
import type { Autoencoder } from "../lib/model/autoencoder.ts";
import { imagesTensor } from "../lib/model/images.ts";

/** A model's latent space over the test digits. */
export class LatentSpace {
  readonly entry: ModelEntry;
  readonly model: Autoencoder;
  readonly digits: Digits;
  readonly encoded: Codes;
  readonly plane: LatentPlane;
  /** Where each test digit lies on the map. */
  readonly points: { x: Float32Array; y: Float32Array };
  /** The mean code of each digit class. */
  readonly centroids: Float32Array[];
  /** The smallest and largest value of each latent unit over the test digits. */
  readonly ranges: [number, number][];

  private constructor(entry: ModelEntry, model: Autoencoder, digits: Digits, encoded: Codes) {
    this.entry = entry;
    this.model = model;
    this.digits = digits;
    this.encoded = encoded;
    this.plane = latentPlane(encoded);
    this.points = projectTo2d(encoded);
    this.centroids = classCentroids(encoded);
    const { codes, hidden } = encoded;
    this.ranges = Array.from({ length: hidden }, (_, k) => {
      let [low, high] = [Infinity, -Infinity];
      for (let i = k; i < codes.length; i += hidden) {
        low = Math.min(low, codes[i]);
        high = Math.max(high, codes[i]);
      }
      return [low, high];
    });
  }

  /** The latent space of `model` (of `entry`) over `digits`, which it encodes. */
  static async of(entry: ModelEntry, model: Autoencoder, digits: Digits): Promise<LatentSpace> {
    return new LatentSpace(entry, model, digits, await model.getEncRepresentation(digits));
  }

  /** Latent size d. */
  get hidden(): number {
    return this.encoded.hidden;
  }

  /** Test digit `index` as 784 values in [0, 1]. */
  pixels(index: number): Float32Array {
    return unitPixels(this.digits.images, [index]);
  }

  /** The code of test digit `index`. */
  code(index: number): Float32Array {
    return this.encoded.codes.slice(index * this.hidden, (index + 1) * this.hidden);
  }

  /** Where `code` lies on the map. */
  pointOf(code: ArrayLike<number>): [number, number] {
    return planeCoordinates(this.plane, code);
  }

  /** The code at the point (x, y) of the map. */
  codeAt(x: number, y: number): Float32Array {
    return codeAt(this.plane, x, y);
  }

  /** The codes of `images` (`count × 784` values in [0, 1]), `count × d` values. */
  encode(images: Float32Array): Promise<Float32Array> {
    return read(() => this.model.encode(imagesTensor(images)));
  }

  /** The images `codes` decode to, 784 values each. */
  async decode(codes: Float32Array[]): Promise<Float32Array[]> {
    const flat = new Float32Array(codes.length * this.hidden);
    codes.forEach((code, i) => flat.set(code, i * this.hidden));
    const pixels = await read(() =>
      this.model.decode(tf.tensor2d(flat, [codes.length, this.hidden]))
    );
    return codes.map((_, i) => pixels.slice(i * IMAGE_PIXELS, (i + 1) * IMAGE_PIXELS));
  }

  /** `image` (784 values in [0, 1]) encoded and decoded again by the model. */
  reconstruct(image: Float32Array): Promise<Float32Array> {
    return reconstruct(this.model, image);
  }
}

/** `image` (784 values in [0, 1]) encoded and decoded again by `model`. */
export function reconstruct(model: Autoencoder, image: Float32Array): Promise<Float32Array> {
  return read(() => model.reconstruct(imagesTensor(image)));
}

/** The values of the tensor `compute` makes (in a tidy), read back asynchronously and freed. */
async function read(compute: () => tf.Tensor): Promise<Float32Array> {
  const tensor = tf.tidy(compute);
  try {
    return await tensor.data() as Float32Array;
  } finally {
    tensor.dispose();
  }
}
