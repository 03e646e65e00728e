/** The bench's speed targets: each judged on the ratio it names, from the median of the rounds. */
import assert from "node:assert/strict";
import type { Measurement } from "../bench/rows.ts";
import { type BenchConfig, type RowRun, summarise } from "../bench/table.ts";

const CONFIG: BenchConfig = {
  images: 10240,
  batchSize: 256,
  epochs: 1,
  rounds: 3,
  warmupSteps: 16,
  cpuSteps: 4,
  fusedSteps: 2,
  profile: false,
  rows: ["tfjs-wasm:1", "workers-1:10", "wasm-1:10", "wasm-2:10"],
};

/** A row's run that trained `rate` samples/s in all. */
function run(name: string, rate: number): RowRun {
  const measurement: Measurement = {
    engine: name,
    adapter: "WebAssembly SIMD, 1 thread",
    models: Number(name.split(":")[1]),
    warmupSteps: 16,
    steps: 40,
    capped: null,
    samples: rate * 10,
    seconds: 10,
    loss: 0.05,
    peakMegabytes: null,
  };
  return { name, outcome: measurement };
}

/** The targets' verdicts, by the start of their text, for rounds of rates of the config's rows. */
function verdicts(rounds: number[][]) {
  const summary = summarise(
    rounds.map((rates) => rates.map((rate, i) => run(CONFIG.rows[i], rate))),
    [],
    { config: CONFIG, gpu: null },
  );
  return Object.fromEntries(
    summary.targets.map(({ target, measured, met }) => [target.split(" ≥ ")[0], { measured, met }]),
  );
}

Deno.test("a tfjs pool of 1 is judged on its cost: faster than the single model meets the target", () => {
  const faster = verdicts([[6_300, 6_900, 18_000, 33_000]])["tfjs worker pool of 1"];
  assert.equal(faster.met, true);
  assert.ok(Math.abs(faster.measured! - 6_900 / 6_300) < 1e-9);
  const slower = verdicts([[6_300, 5_900, 18_000, 33_000]])["tfjs worker pool of 1"];
  assert.equal(slower.met, false);
  assert.equal(verdicts([[6_300, 6_000, 18_000, 33_000]])["tfjs worker pool of 1"].met, true);
});

Deno.test("the wasm population's target takes each row's median round and needs 1.8×", () => {
  // Medians 18,000 and 32,000: 1.78×, although one round of wasm-1:10 alone would give 2.9×.
  const rounds = [
    [6_300, 6_300, 18_000, 32_000],
    [6_300, 6_300, 11_000, 31_000],
    [6_300, 6_300, 19_000, 34_000],
  ];
  const population = verdicts(rounds)["population of 10 on 2 wasm workers"];
  assert.ok(Math.abs(population.measured! - 32_000 / 18_000) < 1e-9);
  assert.equal(population.met, false);
  rounds[1][3] = 33_000;
  rounds[0][3] = 33_000;
  assert.equal(verdicts(rounds)["population of 10 on 2 wasm workers"].met, true);
});
