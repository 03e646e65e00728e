/**
 * The IDX format of the MNIST files: a big-endian header (magic number, then one 32-bit size per
 * dimension) followed by unsigned bytes. Images have magic 2051 and dimensions count × rows × cols,
 * labels have magic 2049 and one dimension. Raw or gzip-compressed bytes are accepted alike.
 *
 * Every check names the file: a wrong magic number, images that are not 28 × 28, fewer bytes than the
 * header promises or bytes left over are errors, never a garbled dataset.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { IMAGE_SIDE } from "./geometry.ts";

/** Magic number of an IDX file of unsigned-byte images (type 0x08, three dimensions). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of an IDX file of unsigned-byte labels (type 0x08, one dimension). */
export const IDX_LABELS_MAGIC = 2049;

/** The images of an IDX file: `count` images of `rows` × `cols` bytes, row-major, one after another. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** `count × rows × cols` pixels, 0 (background) to 255 (ink). */
  pixels: Uint8Array;
}

/**
 * Returns `bytes` decompressed when they start with the gzip header (1f 8b), otherwise `bytes` itself.
 * Corrupt or truncated gzip data is an error naming `name`.
 *
 * @example
 * ```ts
 * import { gzipSync } from "node:zlib";
 * import { gunzipIfCompressed } from "./idx.ts";
 * const raw = new Uint8Array([0, 0, 8, 1]);
 * console.log(gunzipIfCompressed(gzipSync(raw), "labels.gz")); // Uint8Array(4) [ 0, 0, 8, 1 ]
 * ```
 */
export function gunzipIfCompressed(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (error) {
    throw new Error(`${name}: corrupt or truncated gzip data (${(error as Error).message})`);
  }
}

/**
 * Parses an IDX images file (raw or gzip) holding 28 × 28 images, as MNIST's do.
 *
 * @example
 * ```ts
 * import { parseIdxImages } from "./idx.ts";
 * const header = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
 * const file = new Uint8Array([...header, ...new Array(784).fill(255)]);
 * console.log(parseIdxImages(file, "one.idx").count); // 1
 * ```
 */
export function parseIdxImages(bytes: Uint8Array, name: string): IdxImages {
  const raw = gunzipIfCompressed(bytes, name);
  const [count, rows, cols] = parseHeader(raw, name, IDX_IMAGES_MAGIC, 3);
  if (rows !== IMAGE_SIDE || cols !== IMAGE_SIDE) {
    throw new Error(`${name}: images are ${rows}×${cols}, expected ${IMAGE_SIDE}×${IMAGE_SIDE}`);
  }
  const pixels = body(raw, name, 16, count * rows * cols, `${count} images of ${rows}×${cols}`);
  return { count, rows, cols, pixels };
}

/**
 * Parses an IDX labels file (raw or gzip): one byte per item.
 *
 * @example
 * ```ts
 * import { parseIdxLabels } from "./idx.ts";
 * const file = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 5, 7]);
 * console.log(parseIdxLabels(file, "two.idx")); // Uint8Array(2) [ 5, 7 ]
 * ```
 */
export function parseIdxLabels(bytes: Uint8Array, name: string): Uint8Array {
  const raw = gunzipIfCompressed(bytes, name);
  const [count] = parseHeader(raw, name, IDX_LABELS_MAGIC, 1);
  return body(raw, name, 8, count, `${count} labels`);
}

/** Checks the magic number of the decompressed file `raw` and returns its `dims` dimension sizes. */
function parseHeader(raw: Uint8Array, name: string, magic: number, dims: number): number[] {
  const headerLength = 4 + 4 * dims;
  if (raw.length < headerLength) {
    throw new Error(
      `${name}: truncated IDX header (${raw.length} bytes, expected at least ${headerLength})`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw new Error(`${name}: IDX magic number is ${found}, expected ${magic}`);
  }
  return Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
}

/** Returns a copy of the `length` bytes after the header, which must be exactly what `raw` holds. */
function body(
  raw: Uint8Array,
  name: string,
  headerLength: number,
  length: number,
  promised: string,
): Uint8Array {
  const expected = headerLength + length;
  if (raw.length < expected) {
    throw new Error(
      `${name}: truncated: the header promises ${promised} (${expected} bytes), the file has ${raw.length}`,
    );
  }
  if (raw.length > expected) {
    throw new Error(
      `${name}: ${raw.length - expected} extra bytes after the ${promised} the header promises`,
    );
  }
  return raw.slice(headerLength);
}
