/**
 * `deno task bench` at its smallest: rows named as `--engine` names them (tfjs on wasm, the pool of one
 * worker training 10 models, and the fused engine on whatever adapter is here, one row of which cannot
 * be had) on 512 images, each in its own process, the fused row profiled kernel by kernel, written as
 * JSON, Markdown and a report section; and its flag checks. No timings are asserted: speed is what the benchmark prints, not what a test decides.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runScript } from "./_scripts.ts";

const TINY = ["--images=512", "--warmup-steps=1", "--fused-steps=1", "--no-peer"];

Deno.test("bench measures each selected row and writes the table as JSON and Markdown", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = join(root, "bench");
    const run = await runScript("scripts/bench.ts", [
      ...TINY,
      "--only=tfjs-wasm,wasm,workers-1:10,fused,fused-2",
      "--profile",
      `--out=${out}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(await Deno.readTextFile(join(out, "bench.json")));
    assert.equal(result.config.images, 512);
    assert.equal(result.peer, null);
    assert.deepEqual(result.config.rows, [
      "tfjs-wasm:1",
      "wasm:1",
      "workers-1:10",
      "fused:1",
      "fused-2:1",
    ]);
    const ran = result.rows.map((row: { name: string }) => row.name);
    const skipped = result.skipped.map((row: { name: string }) => row.name);
    assert.deepEqual(
      [...ran, ...skipped],
      result.config.rows,
      "each row in the order --only gives",
    );
    assert.ok(ran.includes("tfjs-wasm:1"), "the wasm row runs wherever the npm package is");
    // Workers go with the worker pool only: the engine's own refusal, as a row skipped.
    const refused = result.skipped.find((row: { name: string }) => row.name === "fused-2:1");
    assert.match(
      refused.reason,
      /--workers sizes the worker pool; it does not go with --engine fused/,
    );
    // The pool's row trains a population of 10 in one worker, beside the single model in this thread.
    const pool = result.rows.find((row: { name: string }) => row.name === "workers-1:10");
    assert.equal(pool.models, 10);
    assert.ok(pool.ratioToWasm > 0 && pool.peakMegabytes > 0, JSON.stringify(pool));
    for (const row of result.rows) {
      assert.equal(row.batch, 256);
      assert.ok(row.samplesPerSecond > 0 && row.perModel > 0, JSON.stringify(row));
      assert.ok(row.steps >= 1 && Number.isFinite(row.loss), JSON.stringify(row));
      assert.equal(row.ratioToPeer, null);
    }
    const fused = result.rows.find((row: { name: string }) => row.name === "fused:1");
    if (fused?.adapter.endsWith("(software)")) assert.equal(fused.steps, 1);
    const wasm = result.rows.find((row: { name: string }) => row.name === "tfjs-wasm:1");
    assert.equal(wasm.profile, undefined, "only an engine that times its kernels is profiled");
    if (fused) {
      // every kernel of a training step, timed on the GPU
      const kernels = fused.profile as { label: string; microseconds: number }[];
      assert.equal(kernels.length, 33);
      assert.ok(kernels.every(({ microseconds }) => microseconds > 0), JSON.stringify(kernels));
      const markdown = await Deno.readTextFile(join(out, "bench.md"));
      assert.match(markdown, /## Where a fused step's time goes/);
      assert.match(markdown, /\| forward encoder_cnn\.0 \| [\d.]+ \|/);
      assert.match(markdown, /\| GPU busy \/ wall \| \d+% \|/);
    }

    const markdown = await Deno.readTextFile(join(out, "bench.md"));
    assert.match(markdown, /\| row \| engine \| adapter \| batch \| models \| timed steps \|/);
    assert.match(markdown, /\| tfjs-wasm:1 \| tfjs wasm in this thread \| WebAssembly/);
    assert.match(markdown, /\| workers-1:10 \| 1 worker, tfjs wasm each \| WebAssembly.* \| 10 \|/);
    assert.match(
      markdown,
      /^target tfjs worker pool of 1 ≥ 0\.95× the single-model tfjs wasm row \(a worker costs at most 5%\): /m,
    );
    assert.match(
      markdown,
      /^target aelab wasm on one core ≥ 2\.5× tfjs wasm \(tfjs-wasm:1\): measured \d+\.\d+× \((not )?met\)$/m,
    );
    assert.match(markdown, /^target .+: not measured \(no PyTorch peer\)$/m);
    assert.match(run.stdout, /\| tfjs-wasm:1 \|/);
    const report = await Deno.readTextFile(join(root, "REPORT.md"));
    assert.match(report, /## Benchmark: training throughput/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("bench rejects bad flags with exit code 2", async () => {
  for (
    const flags of [
      ["--only=tfjs-wasm,tpu"],
      ["--only=fused:0"],
      ["--only=tfjs-wasm-cpu"],
      ["--batch-size=0"],
      ["--images=70000"],
      ["--bogus"],
    ]
  ) {
    const run = await runScript("scripts/bench.ts", flags);
    assert.equal(run.code, 2, `${flags}: ${run.stderr}`);
    assert.match(run.stderr, /^error: /m);
  }
});
