import assert from "node:assert/strict";
import { tf } from "../lib/deps.ts";
import { type BackendChoice, setupBackend } from "../lib/tfjs.ts";
import { requestAdapter } from "../lib/gpu/adapter.ts";

/** Runs `body` with console.error collected instead of printed, and returns the lines. */
async function stderrLines(body: () => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("wasm and cpu set up on request, say so in one line, and compute", async () => {
  for (const choice of ["wasm", "cpu"] as const) {
    let setup;
    const lines = await stderrLines(async () => setup = await setupBackend(choice));
    assert.equal(setup!.backend, choice);
    assert.equal(tf.getBackend(), choice);
    assert.deepEqual(lines, [`backend: ${choice} on ${setup!.adapter}`]);
    const y = tf.conv2d(
      tf.ones([1, 4, 4, 1]) as tf.Tensor4D,
      tf.ones([3, 3, 1, 1]) as tf.Tensor4D,
      1,
      "valid",
    );
    assert.deepEqual(Array.from(await y.data()), [9, 9, 9, 9]);
    y.dispose();
  }
  assert.match(
    (await setupBackend("wasm", { quiet: true })).adapter,
    /^WebAssembly( SIMD)?, \d+ threads?$/,
  );
  assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"), "wasm's missing kernel registered");
});

Deno.test("asking again for the backend in use returns it without a word", async () => {
  const first = await setupBackend("wasm", { quiet: true });
  const lines = await stderrLines(() => setupBackend("wasm"));
  assert.deepEqual(lines, []);
  assert.deepEqual(await setupBackend("wasm"), first);
});

Deno.test("an unknown backend is a clear error", async () => {
  await assert.rejects(
    setupBackend("tpu" as BackendChoice),
    /unknown backend "tpu": choose one of auto, webgpu, wasm, cpu/,
  );
});

Deno.test({
  name: "auto takes webgpu only on a hardware adapter; webgpu when forced, or a clear error",
  // The WebGPU device stays open for the process, as tfjs's backend keeps it.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const gpu = await requestAdapter();
    if (gpu) {
      assert.ok(gpu.name.length > 0);
      const fallback = (gpu.adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean })
        .isFallbackAdapter;
      if (fallback) assert.equal(gpu.software, true);
      if (/llvmpipe|lavapipe|swiftshader/i.test(gpu.name)) assert.equal(gpu.software, true);
    }
    const auto = await setupBackend("auto", { quiet: true });
    assert.equal(auto.backend, gpu && !gpu.software ? "webgpu" : "wasm");
    if (!gpu) {
      await assert.rejects(setupBackend("webgpu", { quiet: true }), /backend webgpu unavailable/);
      return;
    }
    const forced = await setupBackend("webgpu", { quiet: true });
    assert.deepEqual(forced, { backend: "webgpu", adapter: gpu.name });
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2]));
    assert.deepEqual(Array.from(await y.data()), [3, 3, 3, 3]);
    y.dispose();
    await setupBackend("wasm", { quiet: true });
  },
});
