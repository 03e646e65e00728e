/**
 * Labelled digits as one compact binary file, for the explorer page: the 8 bytes `AEDIGIT1`, the count as
 * a little-endian uint32, the labels (one byte each), then the pixels (784 bytes per digit, row-major,
 * 0–255). It imports nothing that only Deno has, so the page decodes what `deno task explore` encodes.
 *
 * @module
 */
import type { Digits } from "../data/mnist.ts";
import { IMAGE_PIXELS } from "../data/geometry.ts";

const MAGIC = "AEDIGIT1";
const HEADER_BYTES = MAGIC.length + 4;

/**
 * The first `digits.count` digits of `digits` as a digits file.
 *
 * @example
 * ```ts
 * import { decodeDigitsFile, encodeDigitsFile } from "./digits.ts";
 * const bytes = encodeDigitsFile({ images: new Uint8Array(784), labels: Uint8Array.of(7), count: 1 });
 * console.log(bytes.length, decodeDigitsFile(bytes, "memory").labels); // 797 Uint8Array(1) [ 7 ]
 * ```
 */
export function encodeDigitsFile(digits: Digits): Uint8Array<ArrayBuffer> {
  const { count } = digits;
  const bytes = new Uint8Array(HEADER_BYTES + count * (1 + IMAGE_PIXELS));
  bytes.set(new TextEncoder().encode(MAGIC));
  new DataView(bytes.buffer).setUint32(MAGIC.length, count, true);
  bytes.set(digits.labels.subarray(0, count), HEADER_BYTES);
  bytes.set(digits.images.subarray(0, count * IMAGE_PIXELS), HEADER_BYTES + count);
  return bytes;
}

/** The digits of a digits file; anything else is an error naming `source`. */
export function decodeDigitsFile(bytes: Uint8Array, source: string): Digits {
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (bytes.length < HEADER_BYTES || magic !== MAGIC) {
    throw new Error(`${source}: not a digits file`);
  }
  const count = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const expected = HEADER_BYTES + count * (1 + IMAGE_PIXELS);
  if (bytes.length !== expected) {
    throw new Error(`${source}: ${bytes.length} bytes, expected ${expected} for ${count} digits`);
  }
  const labels = bytes.slice(HEADER_BYTES, HEADER_BYTES + count);
  if (labels.some((label) => label > 9)) throw new Error(`${source}: a label is not a digit 0–9`);
  return { labels, images: bytes.slice(HEADER_BYTES + count), count };
}
