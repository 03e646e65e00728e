import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { KERNEL, layerSpecs, STRIDE } from "../lib/model/architecture.ts";
import { createRng, normal } from "../lib/random.ts";
import { setupBackend } from "../lib/tfjs.ts";

/** Seeded normal numbers. */
function randoms(count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count }, () => normal(rng));
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Runs `compute` on the cpu backend and on wasm (with aelab's kernels), and returns both results. */
async function onBoth(compute: () => tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
  const results: Float32Array[][] = [];
  for (const backend of ["cpu", "wasm"] as const) {
    await setupBackend(backend, { quiet: true });
    const tensors = tf.tidy(compute);
    results.push(await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>)));
    tf.dispose(tensors);
  }
  return results as [Float32Array[], Float32Array[]];
}

/** Every convolution of the model with its input side, as the forward pass meets them (batch 4). */
function modelConvolutions() {
  let side = 28;
  return layerSpecs(4).flatMap((layer) => {
    if (layer.kind === "linear") {
      side = 3;
      return [];
    }
    const input = side;
    side = layer.kind === "conv"
      ? Math.floor((side + 2 * layer.padding! - KERNEL) / STRIDE) + 1
      : (side - 1) * STRIDE - 2 * layer.padding! + KERNEL + layer.outputPadding!;
    return [{ layer, input, output: side }];
  });
}

Deno.test("aelab's wasm kernels cover every kernel the model's training step needs", async () => {
  await setupBackend("wasm", { quiet: true });
  for (const name of ["Conv2DBackpropFilter", "Conv2DBackpropInput", "Conv2D", "Slice", "PadV2"]) {
    assert.ok(tf.getKernel(name, "wasm"), name);
  }
});

for (const { layer, input, output } of modelConvolutions()) {
  Deno.test(`${layer.name} (${layer.kind}, ${input}→${output}): values and gradients match cpu`, async () => {
    const batch = 4;
    const transposed = layer.kind === "convTranspose";
    const pad = layer.padding!;
    const xShape = [batch, input, input, layer.inputs] as const;
    const fShape = transposed
      ? [KERNEL, KERNEL, layer.outputs, layer.inputs] as const
      : [KERNEL, KERNEL, layer.inputs, layer.outputs] as const;
    const yShape = [batch, output, output, layer.outputs] as const;
    const xs = randoms(xShape.reduce((a, b) => a * b), 1);
    const fs = randoms(fShape.reduce((a, b) => a * b), 2);
    const weights = randoms(yShape.reduce((a, b) => a * b), 3);
    const [cpu, wasm] = await onBoth(() => {
      const x = tf.tensor4d(xs, [...xShape]);
      const filter = tf.tensor4d(fs, [...fShape]);
      const forward = (x: tf.Tensor4D, filter: tf.Tensor4D) =>
        transposed
          ? tf.conv2dTranspose(x, filter, [...yShape], STRIDE, pad)
          : tf.conv2d(x, filter, STRIDE, pad);
      // A random weighting of the output makes its gradient (dy) random too.
      const objective = (x: tf.Tensor, filter: tf.Tensor) =>
        tf.sum(
          tf.mul(
            forward(x as tf.Tensor4D, filter as tf.Tensor4D),
            tf.tensor4d(weights, [...yShape]),
          ),
        );
      return [forward(x, filter), ...tf.grads(objective)([x, filter])];
    });
    for (const [i, what] of ["output", "input gradient", "filter gradient"].entries()) {
      const error = maxAbsDifference(cpu[i], wasm[i]);
      assert.ok(error <= 1e-4, `${what}: max abs error ${error}`);
      assert.ok(cpu[i].some((v) => v !== 0), `${what} is all zeros`);
    }
  });
}

Deno.test("matMul with transposed operands matches cpu", async () => {
  const a = randoms(2 * 30 * 20, 4);
  const b = randoms(2 * 20 * 10, 5);
  for (
    const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]]
  ) {
    const [cpu, wasm] = await onBoth(() => {
      const left = tf.tensor3d(a, transposeA ? [2, 20, 30] : [2, 30, 20]);
      const right = tf.tensor3d(b, transposeB ? [2, 10, 20] : [2, 20, 10]);
      const flat = tf.tensor2d(a.subarray(0, 600), transposeA ? [20, 30] : [30, 20]);
      const flatRight = tf.tensor2d(b.subarray(0, 200), transposeB ? [10, 20] : [20, 10]);
      return [
        tf.matMul(left, right, transposeA, transposeB),
        tf.matMul(flat, flatRight, transposeA, transposeB),
      ];
    });
    assert.ok(maxAbsDifference(cpu[0], wasm[0]) <= 1e-4, `batched ${transposeA} ${transposeB}`);
    assert.ok(maxAbsDifference(cpu[1], wasm[1]) <= 1e-4, `2-D ${transposeA} ${transposeB}`);
  }
});

Deno.test("gather along the first axis and same-type casts match cpu", async () => {
  const values = randoms(6 * 5 * 4, 6);
  const [cpu, wasm] = await onBoth(() => {
    const x = tf.tensor3d(values, [6, 5, 4]);
    const indices = tf.tensor2d([5, 0, 5, 2], [2, 2], "int32");
    return [
      tf.gather(x, indices),
      tf.gather(x, [3, 1], 1), // not along the first axis: the backend's own kernel
      tf.cast(x, "float32"),
      tf.cast(tf.cast(x, "int32"), "float32"),
    ];
  });
  for (let i = 0; i < cpu.length; i++) assert.ok(maxAbsDifference(cpu[i], wasm[i]) <= 1e-5, `${i}`);
  assert.deepEqual(Array.from(wasm[0].subarray(0, 4)), Array.from(values.subarray(100, 104)));

  await setupBackend("wasm", { quiet: true });
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  assert.throws(() => tf.gather(x, tf.tensor1d([2], "int32")), /index value 2 is not in \[0, 1\]/);
  x.dispose();
});

Deno.test("identity shares its data on wasm and frees it with the last reference", async () => {
  await setupBackend("wasm", { quiet: true });
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const before = backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  const clone = x.clone();
  assert.equal(backend.numDataIds(), before + 1);
  x.dispose();
  assert.deepEqual(Array.from(await clone.data()), [1, 2, 3]);
  clone.dispose();
  assert.equal(backend.numDataIds(), before);
});
