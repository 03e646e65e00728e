/**
 * The geometry of an MNIST image, which the data, the models and the figures all share.
 *
 * @example
 * ```ts
 * import { IMAGE_PIXELS, IMAGE_SIDE } from "./geometry.ts";
 * console.log(IMAGE_SIDE, IMAGE_PIXELS); // 28 784
 * ```
 *
 * @module
 */

/** Side of an MNIST image, in pixels. */
export const IMAGE_SIDE = 28;

/** Pixels of an MNIST image. */
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;
