import assert from "node:assert/strict";
import { join } from "node:path";
import { parameterSpecs } from "../lib/model/architecture.ts";
import { createRng, normal } from "../lib/random.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  saveSafetensors,
  type TensorData,
} from "../lib/model/weights.ts";

const PYTHON = "/usr/bin/python3";
const PEER = new URL("./safetensors_peer.py", import.meta.url).pathname;

/** The seed model's parameters at latent size 4, in parameterSpecs order, filled with seeded normals. */
function modelTensors(seed = 7): Record<string, TensorData> {
  const rng = createRng(seed);
  return Object.fromEntries(
    parameterSpecs(4).map(({ name, shape }) => {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < data.length; i++) data[i] = normal(rng) * 0.1;
      return [name, { shape, data }];
    }),
  );
}

/** A file built by hand from a header object and data bytes, padded as the format asks. */
function handMade(header: unknown, data: Uint8Array = new Uint8Array()): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + length + data.length).fill(0x20, 8, 8 + length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + length);
  return bytes;
}

const F32 = (shape: number[], begin: number, end: number) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end],
});

Deno.test("safetensors round-trip the model's parameters, order and metadata", () => {
  const tensors = modelTensors();
  const metadata = { hidden: "4", format: "pt", note: "ünïcode ok" };
  const bytes = encodeSafetensors(tensors, metadata);

  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  assert.deepEqual(header.__metadata__, metadata);
  assert.deepEqual(header["encoder_cnn.0.weight"], F32([8, 1, 3, 3], 0, 288));
  const values = parameterSpecs(4).reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b), 0);
  assert.equal(bytes.length, 8 + headerLength + 4 * values);

  const decoded = decodeSafetensors(bytes, "memory");
  assert.deepEqual(Object.keys(decoded.tensors), parameterSpecs(4).map((p) => p.name));
  assert.deepEqual(decoded.tensors, tensors);
  assert.deepEqual(decoded.metadata, metadata);
});

Deno.test("saveSafetensors writes atomically and loadSafetensors reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "model.safetensors");
    await saveSafetensors(path, modelTensors(1), { epoch: "3" });
    await saveSafetensors(path, modelTensors(2), { epoch: "4" });
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir), (e) => e.name), [
      "model.safetensors",
    ]);
    const loaded = await loadSafetensors(path);
    assert.deepEqual(loaded.tensors, modelTensors(2));
    assert.deepEqual(loaded.metadata, { epoch: "4" });
    await assert.rejects(loadSafetensors(join(dir, "missing.safetensors")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeSafetensors refuses data that does not fit its shape", () => {
  assert.throws(
    () => encodeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } }),
    /tensor "w": shape \[2,3\] holds 6 values, its data 5/,
  );
  assert.throws(
    () => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }),
    /"__metadata__" cannot name a tensor/,
  );
});

Deno.test("decodeSafetensors names the file in every error", () => {
  const four = new Uint8Array(16);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /^Error: w\.st: 5 bytes, too short for a safetensors header$/],
    [
      encodeSafetensors(modelTensors()).subarray(0, 40),
      /w\.st: the header length \d+ runs past the end of the file \(40 bytes\)/,
    ],
    [
      handMade({ a: F32([4], 0, 16) }).map((byte, i) => i === 8 ? 0x5b : byte),
      /w\.st: the header is not valid JSON/,
    ],
    [handMade([1, 2]), /w\.st: the header is not a JSON object/],
    [handMade({ __metadata__: { n: 4 } }), /w\.st: __metadata__ must map strings to strings/],
    [
      handMade({ a: { dtype: "F16", shape: [8], data_offsets: [0, 16] } }, four),
      /w\.st: tensor "a" has dtype "F16"; only F32 is supported/,
    ],
    [handMade({ a: F32([4], 0, 32) }, four), /w\.st: tensor "a" has data offsets \[0,32\] outside/],
    [handMade({ a: F32([-4], 0, 16) }, four), /w\.st: tensor "a" has an invalid shape \[-4\]/],
    [
      handMade({ a: F32([2, 3], 0, 16) }, four),
      /w\.st: tensor "a": shape \[2,3\] needs 24 bytes, its data offsets span 16/,
    ],
    [handMade({ a: F32([2], 8, 16) }, four), /w\.st: data bytes 0–8 belong to no tensor/],
    [handMade({ a: F32([2], 0, 8) }, four), /w\.st: data bytes 8–16 belong to no tensor/],
    [
      handMade({ a: F32([3], 0, 12), b: F32([2], 8, 16) }, four),
      /w\.st: tensor "b" overlaps the one before it \(data bytes 8–12\)/,
    ],
  ];
  for (const [bytes, expected] of cases) {
    assert.throws(() => decodeSafetensors(bytes, "w.st"), expected);
  }
  // The same hand-made layout, when consistent, decodes (so the cases above fail for their reason).
  const good = decodeSafetensors(handMade({ a: F32([2], 0, 8), b: F32([2], 8, 16) }, four), "w.st");
  assert.deepEqual(Object.keys(good.tensors), ["a", "b"]);
});

const hasTorch = await new Deno.Command(PYTHON, {
  args: ["-c", "import torch"],
  stdout: "null",
  stderr: "null",
}).output().then((result) => result.success, () => false);

Deno.test({
  name: hasTorch
    ? "PyTorch reads what TS writes and TS reads what PyTorch writes, value for value"
    : `PyTorch peer (skipped: ${PYTHON} cannot import torch)`,
  ignore: !hasTorch,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const tensors = modelTensors(11);
      const input = join(dir, "from_ts.safetensors");
      const output = join(dir, "from_torch.safetensors");
      await saveSafetensors(input, tensors, { hidden: "4" });
      const run = await new Deno.Command(PYTHON, { args: [PEER, "roundtrip", input, output] })
        .output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const report = JSON.parse(new TextDecoder().decode(run.stdout));

      const names = parameterSpecs(4).map((p) => p.name);
      assert.deepEqual(report.order, names);
      assert.deepEqual(report.metadata, { hidden: "4" });
      for (const [name, { shape, data }] of Object.entries(tensors)) {
        assert.deepEqual(report.shapes[name], shape);
        const sum = data.reduce((total, value) => total + value, 0);
        assert.ok(
          Math.abs(report.sums[name] - sum) < 1e-9,
          `${name}: ${report.sums[name]} ≠ ${sum}`,
        );
        // Row-major agreement: the value at multi-index (1, 1, …) clipped to the shape.
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
        const flat = shape.reduce((at, dim, i) => at + Math.min(1, dim - 1) * strides[i], 0);
        assert.equal(report.probes[name], data[flat], name);
      }

      const back = await loadSafetensors(output);
      assert.deepEqual(Object.keys(back.tensors), names);
      assert.deepEqual(back.metadata, { hidden: "4", peer: "torch" });
      for (const [name, { shape, data }] of Object.entries(tensors)) {
        assert.deepEqual(back.tensors[name].shape, shape);
        assert.deepEqual(back.tensors[name].data, data.map((value) => Math.fround(value * 2 + 1)));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("loadSafetensors refuses a file of gigabytes past its header's data without reading it", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveSafetensors(path, { b: { shape: [2], data: Float32Array.of(1, 2) } });
  const described = (await Deno.stat(path)).size;
  // 5 GB, sparse: read whole, it would not fit in an ArrayBuffer.
  await Deno.truncate(path, 5e9);
  await assert.rejects(
    loadSafetensors(path),
    new RegExp(
      `^Error: ${
        RegExp.escape(path)
      }: 5000000000 bytes, past the ${described} its header describes$`,
    ),
  );
  await Deno.remove(path);
});
