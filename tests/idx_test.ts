import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { mnistDataPackageDir } from "../lib/deps.ts";
import {
  gunzipIfCompressed,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  parseIdxImages,
  parseIdxLabels,
} from "../lib/data/idx.ts";

const packageDir = await mnistDataPackageDir();
const testImages = await Deno.readFile(join(packageDir, "t10k-images-idx3-ubyte"));
const testLabels = await Deno.readFile(join(packageDir, "t10k-labels-idx1-ubyte"));

/** An IDX header: the magic number, then one big-endian size per dimension. */
function header(magic: number, ...sizes: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * sizes.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic);
  sizes.forEach((size, i) => view.setUint32(4 + 4 * i, size));
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

Deno.test("parseIdxImages reads the real MNIST test images", () => {
  const images = parseIdxImages(testImages, "t10k-images-idx3-ubyte");
  assert.equal(images.count, 10000);
  assert.equal(images.rows, 28);
  assert.equal(images.cols, 28);
  assert.equal(images.pixels.length, 10000 * 784);
  assert.equal(images.pixels.byteOffset, 0);
  // The first test digit (a 7): its ink sums to 18454 and reaches 255.
  const first = images.pixels.subarray(0, 784);
  assert.equal(first.reduce((sum, pixel) => sum + pixel, 0), 18454);
  assert.equal(Math.max(...first), 255);
});

Deno.test("parseIdxLabels reads the real MNIST test labels", () => {
  const labels = parseIdxLabels(testLabels, "t10k-labels-idx1-ubyte");
  assert.equal(labels.length, 10000);
  assert.deepEqual([...labels.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  const counts = new Array(10).fill(0);
  for (const label of labels) counts[label]++;
  assert.deepEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
});

Deno.test("gzip files parse to the same values as raw ones", () => {
  const zippedLabels = gzipSync(testLabels);
  assert.deepEqual(gunzipIfCompressed(zippedLabels, "labels.gz"), testLabels);
  assert.equal(gunzipIfCompressed(testLabels, "raw"), testLabels);
  assert.deepEqual(parseIdxLabels(zippedLabels, "labels.gz"), parseIdxLabels(testLabels, "raw"));
  const zippedImages = gzipSync(testImages, { level: 1 });
  assert.deepEqual(
    parseIdxImages(zippedImages, "images.gz").pixels,
    parseIdxImages(testImages, "raw").pixels,
  );
});

Deno.test("a wrong magic number is an error naming the file", () => {
  assert.throws(
    () => parseIdxImages(testLabels, "t10k-labels-idx1-ubyte"),
    /^Error: t10k-labels-idx1-ubyte: IDX magic number is 2049, expected 2051$/,
  );
  assert.throws(
    () => parseIdxLabels(concat(header(IDX_IMAGES_MAGIC, 1), new Uint8Array(1)), "odd.idx"),
    /odd\.idx: IDX magic number is 2051, expected 2049/,
  );
});

Deno.test("images that are not 28×28 are an error naming the file", () => {
  const file = concat(header(IDX_IMAGES_MAGIC, 2, 32, 32), new Uint8Array(2 * 32 * 32));
  assert.throws(
    () => parseIdxImages(file, "big.idx"),
    /big\.idx: images are 32×32, expected 28×28/,
  );
});

Deno.test("a truncated file is an error naming the file", () => {
  assert.throws(
    () => parseIdxImages(testImages.subarray(0, testImages.length - 1), "cut-images"),
    /cut-images: truncated: the header promises 10000 images of 28×28 \(7840016 bytes\), the file has 7840015/,
  );
  assert.throws(
    () => parseIdxLabels(testLabels.subarray(0, 6), "stub"),
    /stub: truncated IDX header \(6 bytes, expected at least 8\)/,
  );
  const zipped = gzipSync(testLabels);
  assert.throws(
    () => parseIdxLabels(zipped.subarray(0, zipped.length >> 1), "half.gz"),
    /half\.gz: corrupt or truncated gzip data/,
  );
});

Deno.test("bytes beyond what the header promises are an error naming the file", () => {
  const file = concat(header(IDX_LABELS_MAGIC, 2), new Uint8Array([3, 4, 5]));
  assert.throws(
    () => parseIdxLabels(file, "long.idx"),
    /long\.idx: 1 extra bytes after the 2 labels the header promises/,
  );
  assert.deepEqual(parseIdxLabels(file.subarray(0, 10), "exact.idx"), new Uint8Array([3, 4]));
});
