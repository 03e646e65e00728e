import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { loadSafetensors } from "../lib/model/weights.ts";
import { fitExponential } from "../lib/stats.ts";
import { runOnce, runScript, runWholeAndKilled } from "./_scripts.ts";
import { exists } from "../lib/files.ts";

/** A sweep small enough for a test: 1 epoch on 300 images, losses on 100 test images. */
const TINY = ["--epochs=1", "--limit=300", "--test-limit=100"];

/** The height of a digit grid of `rows` rows with the originals set apart (scale 3, gap 2). */
function gridHeight(rows: number): number {
  return 2 + rows * (28 * 3 + 2) + 2 * 2;
}

interface SweepSize {
  hidden: number;
  finalTestLoss: number | null;
  finalValidationLoss: number | null;
  diverged: boolean;
}

/** The sweep of d = 1, 2, 4, run once into a temporary results root. */
const tinySweep = runOnce("scripts/sweep.ts", [...TINY, "--sizes=1,2,4"], "sweep");

Deno.test("sweep writes losses per size, their exponential fit, weights and figures", async () => {
  const { out, run } = await tinySweep();
  assert.equal(run.code, 0, run.stderr);
  const sweep = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
  const sizes: SweepSize[] = sweep.sizes;
  assert.deepEqual(sizes.map((s) => s.hidden), [1, 2, 4]);
  for (const size of sizes) {
    assert.ok(!size.diverged && size.finalTestLoss! > 0 && size.finalTestLoss! < 0.4);
    assert.ok(size.finalValidationLoss! > 0 && size.finalValidationLoss! < 0.4);
  }
  assert.equal(sweep.testImages, 100);
  const expected = fitExponential([1, 2, 4], sizes.map((s) => s.finalTestLoss!));
  assert.deepEqual(sweep.fit, expected);
  const csv = (await Deno.readTextFile(join(out, "sweep.csv"))).trim().split("\n");
  assert.equal(csv.length, 4);
  assert.equal(Number(csv[3].split(",")[3]), sizes[2].finalTestLoss);
  assert.match(run.stdout, /\| d \| final train loss \|/);
  for (const hidden of [1, 2, 4]) {
    const { tensors, metadata } = await loadSafetensors(join(out, `model-d${hidden}.safetensors`));
    assert.equal(metadata.hidden, String(hidden));
    assert.deepEqual(tensors["encoder_lin.3.weight"].shape, [hidden, 64]);
  }
  // originals, then one row per size: 10 digits of 28 × 3 pixels with 2-pixel gaps and a separator
  const grid = decodePng(await Deno.readFile(join(out, "reconstructions_by_hidden.png")));
  assert.equal(grid.height, gridHeight(1 + 3));
  assert.equal(grid.width, 2 + 10 * (28 * 3 + 2));
  const chart = decodePng(await Deno.readFile(join(out, "loss_vs_hidden.png")));
  assert.ok(chart.width > 400);
  const svg = await Deno.readTextFile(join(out, "loss_vs_hidden.svg"));
  assert.ok(svg.includes("hidden size d") && svg.includes("exponential fit"));
  assert.match(await Deno.readTextFile(join(dirname(out), "REPORT.md")), /## Hidden-layer size/);
});

Deno.test("a sweep given more sizes trains only the new ones and keeps the rest", async () => {
  const { out: firstOut, run: firstRun } = await tinySweep();
  assert.equal(firstRun.code, 0, firstRun.stderr);
  const out = join(await Deno.makeTempDir(), "sweep");
  await Deno.mkdir(out);
  for (const entry of Deno.readDirSync(firstOut)) {
    await Deno.copyFile(join(firstOut, entry.name), join(out, entry.name));
  }
  const before = JSON.parse(await Deno.readTextFile(join(out, "sweep_log.json")));
  const run = await runScript("scripts/sweep.ts", [...TINY, "--sizes=1-4", `--out=${out}`]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr.match(/^d=\d: kept/gm)?.length, 3, run.stderr);
  assert.deepEqual(run.stderr.match(/^d=\d \(\d\/\d\) epoch/gm), ["d=3 (1/1) epoch"]);
  const after = JSON.parse(await Deno.readTextFile(join(out, "sweep_log.json")));
  before.trials.forEach((record: { index: number }, i: number) => {
    assert.equal(JSON.stringify(after.trials[i]), JSON.stringify(record));
  });
  const sweep = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
  assert.deepEqual(sweep.sizes.map((s: SweepSize) => s.hidden), [1, 2, 3, 4]);
  const grid = decodePng(await Deno.readFile(join(out, "reconstructions_by_hidden.png")));
  assert.equal(grid.height, gridHeight(1 + 4));
  await Deno.remove(dirname(out), { recursive: true });
});

for (const sizes of ["0", "3-1", "two", "", "1,,2", "1-5000"]) {
  Deno.test(`sweep refuses --sizes=${sizes} with one line and exit code 2`, async () => {
    const root = await Deno.makeTempDir();
    const run = await runScript("scripts/sweep.ts", [`--sizes=${sizes}`, `--out=${root}/sweep`]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr.trim().split("\n").at(-1)!, /^error: --sizes must list sizes in 1…784/);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    await Deno.remove(root, { recursive: true });
  });
}

Deno.test("on the fused engine the sweep trains its sizes as one population, to tfjs's numbers", async () => {
  const root = await Deno.makeTempDir();
  const sizes: SweepSize[][] = [];
  for (const engine of ["tfjs", "fused"]) {
    const out = join(root, engine);
    const run = await runScript("scripts/sweep.ts", [
      "--epochs=2",
      "--limit=256",
      "--batch-size=32",
      "--test-limit=100",
      "--sizes=1,3",
      "--dropout=0",
      "--lr=0.003",
      `--engine=${engine}`,
      `--out=${out}`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    if (engine === "fused") assert.match(run.stderr, /2 models \(2 converging\)/);
    sizes.push(JSON.parse(await Deno.readTextFile(join(out, "sweep.json"))).sizes as SweepSize[]);
  }
  sizes[1].forEach((size, i) => {
    const expected = sizes[0][i].finalTestLoss!;
    assert.ok(Math.abs(size.finalTestLoss! - expected) < 1e-3 * expected, `d=${size.hidden}`);
  });
  await Deno.remove(root, { recursive: true });
});

Deno.test("a killed sweep on the fused engine resumes inside its epochs and ends as an uninterrupted one", async () => {
  const root = await Deno.makeTempDir();
  // the best parameters' dropout: a resumed population must also draw the masks an uninterrupted one draws
  const flags = [
    "--epochs=3",
    "--limit=256",
    "--batch-size=32",
    "--test-limit=100",
    "--sizes=1,3",
    "--engine=fused",
  ];
  const checkpoint = "sweep.checkpoint.safetensors";
  const { killed: out } = await runWholeAndKilled("scripts/sweep.ts", flags, root, checkpoint);
  assert.equal(await exists(join(out, "sweep.json")), false, "killed after the sweep ended");

  const resumed = await runScript("scripts/sweep.ts", [...flags, `--out=${out}`]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /sweep: resuming after epoch [12] from/);
  const losses = async (folder: string) =>
    (JSON.parse(await Deno.readTextFile(join(root, folder, "sweep.json"))).sizes as SweepSize[])
      .map(({ hidden, finalTestLoss, finalValidationLoss }) => [
        hidden,
        finalTestLoss,
        finalValidationLoss,
      ]);
  assert.deepEqual(await losses("killed"), await losses("whole"));
  for (const hidden of [1, 3]) {
    const file = `model-d${hidden}.safetensors`;
    assert.deepEqual(
      await Deno.readFile(join(out, file)),
      await Deno.readFile(join(root, "whole", file)),
    );
  }
  assert.equal(await exists(join(out, checkpoint)), false);
  await Deno.remove(root, { recursive: true });
});
