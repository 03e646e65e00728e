import { writeFileAtomic } from "../files/atomic.ts";
/**
 * Model weights as safetensors files, the format PyTorch and Hugging Face read: an 8-byte little-endian
 * header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`, padded
 * with spaces to a multiple of 8), then the tensors' raw little-endian bytes. Only `F32` tensors are
 * written and read. Tensors keep their order: the order given, which is the data's order in the file.
 *
 * @module
 */

/** One tensor: its shape and its values, row-major (the last dimension varies fastest). */
export interface TensorData {
  shape: number[];
  data: Float32Array;
}

/** A safetensors file's contents: tensors by name, in file order, and string metadata. */
export interface Safetensors {
  tensors: Record<string, TensorData>;
  metadata: Record<string, string>;
}

const METADATA_KEY = "__metadata__";
const F32_BYTES = 4;

/**
 * Encodes `tensors` (laid out in the order given) and `metadata` as a safetensors file. A name that is
 * empty or `__metadata__`, a bad shape, or data whose length is not the shape's size is an error.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./weights.ts";
 * const bytes = encodeSafetensors({ bias: { shape: [2], data: new Float32Array([0.5, -1]) } }, {
 *   hidden: "4",
 * });
 * console.log(decodeSafetensors(bytes, "memory").tensors.bias.data); // Float32Array(2) [ 0.5, -1 ]
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, TensorData>,
  metadata: Record<string, string> = {},
): Uint8Array {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") throw new Error(`metadata "${key}" is not a string`);
  }
  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    if (name === "" || name === METADATA_KEY) throw new Error(`"${name}" cannot name a tensor`);
    if (!isShape(shape)) throw new Error(`tensor "${name}" has an invalid shape ${format(shape)}`);
    if (data.length !== size(shape)) {
      throw new Error(
        `tensor "${name}": shape ${format(shape)} holds ${
          size(shape)
        } values, its data ${data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape,
      data_offsets: [offset, offset + data.length * F32_BYTES],
    };
    offset += data.length * F32_BYTES;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const { data } of Object.values(tensors)) {
    for (const value of data) {
      view.setFloat32(at, value, true);
      at += F32_BYTES;
    }
  }
  return bytes;
}

/**
 * Decodes a safetensors file; `name` names it in errors. A header that is short, not JSON or not the
 * format's, a dtype other than `F32`, data offsets outside the data, offsets that disagree with the shape,
 * or data bytes that no tensor (or two tensors) claim are errors. Tensors come back in data order.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./weights.ts";
 * const bytes = encodeSafetensors({ w: { shape: [1, 2], data: new Float32Array([1, 2]) } }, {});
 * console.log(decodeSafetensors(bytes, "memory").tensors.w.shape); // [ 1, 2 ]
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, name: string): Safetensors {
  if (bytes.length < 8) fail(name, `${bytes.length} bytes, too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    fail(
      name,
      `the header length ${declared} runs past the end of the file (${bytes.length} bytes)`,
    );
  }
  const dataStart = 8 + Number(declared);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)),
    );
  } catch (error) {
    fail(name, `the header is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(header)) fail(name, "the header is not a JSON object");
  const metadata = header[METADATA_KEY] ?? {};
  if (!isRecord(metadata) || Object.values(metadata).some((value) => typeof value !== "string")) {
    fail(name, `${METADATA_KEY} must map strings to strings`);
  }

  const dataLength = bytes.length - dataStart;
  const entries = Object.entries(header).filter(([key]) => key !== METADATA_KEY).map(
    ([tensor, entry]) => {
      const at = `tensor "${tensor}"`;
      if (!isRecord(entry)) fail(name, `${at} is not described by an object`);
      const { dtype, shape, data_offsets: offsets } = entry;
      if (dtype !== "F32") {
        fail(name, `${at} has dtype ${format(dtype)}; only F32 is supported`);
      }
      if (!isShape(shape)) fail(name, `${at} has an invalid shape ${format(shape)}`);
      if (
        !Array.isArray(offsets) || offsets.length !== 2 ||
        !offsets.every((offset) => Number.isSafeInteger(offset)) ||
        offsets[0] < 0 || offsets[0] > offsets[1] || offsets[1] > dataLength
      ) {
        fail(
          name,
          `${at} has data offsets ${format(offsets)} outside the ${dataLength} data bytes`,
        );
      }
      const [begin, end] = offsets as [number, number];
      if (end - begin !== size(shape) * F32_BYTES) {
        fail(
          name,
          `${at}: shape ${format(shape)} needs ${size(shape) * F32_BYTES} bytes, ` +
            `its data offsets span ${end - begin}`,
        );
      }
      return { tensor, shape, begin, end };
    },
  ).sort((a, b) => a.begin - b.begin);

  let covered = 0;
  for (const { tensor, begin, end } of entries) {
    if (begin > covered) fail(name, `data bytes ${covered}–${begin} belong to no tensor`);
    if (begin < covered) {
      fail(name, `tensor "${tensor}" overlaps the one before it (data bytes ${begin}–${covered})`);
    }
    covered = end;
  }
  if (covered < dataLength) fail(name, `data bytes ${covered}–${dataLength} belong to no tensor`);

  const tensors: Record<string, TensorData> = {};
  for (const { tensor, shape, begin, end } of entries) {
    const data = new Float32Array((end - begin) / F32_BYTES);
    for (let i = 0; i < data.length; i++) {
      data[i] = view.getFloat32(dataStart + begin + i * F32_BYTES, true);
    }
    tensors[tensor] = { shape, data };
  }
  return { tensors, metadata: metadata as Record<string, string> };
}

/**
 * Writes `tensors` and `metadata` to the safetensors file `path`, atomically.
 *
 * @example
 * ```ts
 * import { loadSafetensors, saveSafetensors } from "./weights.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors(path, { b: { shape: [1], data: new Float32Array([3]) } }, { epoch: "1" });
 * console.log((await loadSafetensors(path)).metadata.epoch); // "1"
 * ```
 */
export function saveSafetensors(
  path: string,
  tensors: Record<string, TensorData>,
  metadata: Record<string, string> = {},
): Promise<void> {
  return writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Reads the safetensors file `path` (see {@link decodeSafetensors} for what it checks), its header
 * first: a file longer than its header describes (a file of gigabytes given as a model) is refused
 * before its data is read.
 */
export async function loadSafetensors(path: string): Promise<Safetensors> {
  const file = await Deno.open(path);
  try {
    const { size } = await file.stat();
    const described = await describedSize(file, size);
    if (described !== undefined && size > described) {
      fail(path, `${size} bytes, past the ${described} its header describes`);
    }
  } finally {
    file.close();
  }
  return decodeSafetensors(await Deno.readFile(path), path);
}

/**
 * The bytes of the safetensors file `file` (`size` bytes) as its header describes them: undefined where
 * the header cannot tell (left to {@link decodeSafetensors} to say why).
 */
async function describedSize(file: Deno.FsFile, size: number): Promise<number | undefined> {
  if (size < 8) return undefined;
  const declared = new DataView((await readFully(file, 8)).buffer).getBigUint64(0, true);
  if (declared > BigInt(size - 8)) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(await readFully(file, Number(declared))));
  } catch {
    return undefined;
  }
  if (!isRecord(header)) return undefined;
  const ends = Object.entries(header).filter(([key]) => key !== METADATA_KEY).map(([, entry]) =>
    isRecord(entry) && Array.isArray(entry.data_offsets) ? Number(entry.data_offsets[1]) : NaN
  );
  const end = Math.max(0, ...ends);
  return Number.isSafeInteger(end) ? 8 + Number(declared) + end : undefined;
}

/** The next `length` bytes of `file` (fewer where it ends first). */
async function readFully(file: Deno.FsFile, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const read = await file.read(bytes.subarray(filled));
    if (read === null) return bytes.subarray(0, filled);
    filled += read;
  }
  return bytes;
}

function fail(name: string, problem: string): never {
  throw new Error(`${name}: ${problem}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) &&
    shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0);
}

function size(shape: number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

function format(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
