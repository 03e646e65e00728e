/** The bench's rows as `--only` writes them: engines, backends and workers as the training scripts name them. */
import assert from "node:assert/strict";
import { UsageError } from "../lib/cli.ts";
import { DEFAULT_ROWS, parseRows } from "../bench/rows.ts";

Deno.test("parseRows reads ENGINE[-BACKEND][-WORKERS][:MODELS], in order, each row once", () => {
  const rows = parseRows("tfjs-wasm, workers-2:10,fused:30,workers-cpu-3,fused,fused:1");
  assert.deepEqual(rows.map((row) => row.name), [
    "tfjs-wasm:1",
    "workers-2:10",
    "fused:30",
    "workers-cpu-3:1",
    "fused:1",
  ]);
  assert.deepEqual(rows[1], {
    name: "workers-2:10",
    engine: "workers",
    backend: "auto",
    workers: 2,
    models: 10,
  });
  assert.deepEqual(rows[3], {
    name: "workers-cpu-3:1",
    engine: "workers",
    backend: "cpu",
    workers: 3,
    models: 1,
  });
  // The default rows are rows of the same syntax.
  assert.equal(parseRows(DEFAULT_ROWS.join(",")).length, DEFAULT_ROWS.length);
});

Deno.test("parseRows refuses what is not a row, naming it", () => {
  for (
    const [only, wrong] of [
      ["tfjs-wasm,tpu", "tpu"],
      ["fused:0", "fused:0"],
      ["tfjs-wasm-cpu", "tfjs-wasm-cpu"],
      ["workers-2-3", "workers-2-3"],
      ["workers-0", "workers-0"],
      ["fused:1.5", "fused:1.5"],
      [" , ", " , "],
    ]
  ) {
    assert.throws(() => parseRows(only), (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, new RegExp(`^--only takes rows of the form .*, got "${wrong}"$`));
      return true;
    });
  }
});
