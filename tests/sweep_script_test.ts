import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { loadSafetensors } from "../lib/model/weights.ts";
import { fitExponential } from "../lib/stats.ts";
import { filesIn, lastLine, runOnce, runScript, runWholeAndKilled } from "./_scripts.ts";
import { exists } from "../lib/files/atomic.ts";

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

Deno.test("a sweep given more sizes trains only the new ones, and given more epochs trains on", async () => {
  const { out: firstOut, run: firstRun } = await tinySweep();
  assert.equal(firstRun.code, 0, firstRun.stderr);
  const out = join(await Deno.makeTempDir(), "sweep");
  await Deno.mkdir(join(out, "trainings"), { recursive: true });
  for (const path of await filesIn(firstOut)) {
    await Deno.copyFile(join(firstOut, path), join(out, path));
  }
  const record = (hidden: number) =>
    Deno.readTextFile(join(out, "trainings", `d-${String(hidden).padStart(3, "0")}.json`));
  const before = await Promise.all([1, 2, 4].map(record));
  const run = await runScript("scripts/sweep.ts", [...TINY, "--sizes=1-4", `--out=${out}`]);
  assert.equal(run.code, 0, run.stderr);
  // Only d = 3 trained, alone: the others' records are as they were.
  assert.deepEqual(run.stderr.match(/^sweep .*epoch/gm), ["sweep d = 3 epoch"]);
  assert.deepEqual(await Promise.all([1, 2, 4].map(record)), before);
  const sweep = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
  assert.deepEqual(sweep.sizes.map((s: SweepSize) => s.hidden), [1, 2, 3, 4]);
  const grid = decodePng(await Deno.readFile(join(out, "reconstructions_by_hidden.png")));
  assert.equal(grid.height, gridHeight(1 + 4));

  // Asked for 2 epochs, every size trains one more from where it was, as one population.
  const more = ["--epochs=2", ...TINY.slice(1)];
  const longer = await runScript("scripts/sweep.ts", [...more, "--sizes=1-4", `--out=${out}`]);
  assert.equal(longer.code, 0, longer.stderr);
  assert.match(longer.stderr, /sweep epoch 2\/2 .* 4 models/);
  const trained = JSON.parse(await Deno.readTextFile(join(out, "sweep.json")));
  assert.ok(trained.sizes.every((s: { epochs: unknown[] }) => s.epochs.length === 2));
  assert.deepEqual(trained.sizes[0].epochs[0], sweep.sizes[0].epochs[0]);

  // Asked for fewer epochs than it trained, or other settings, it says so and keeps its results.
  for (
    const [args, message] of [
      [[...TINY, "--sizes=1-4"], /d-001\.json has trained 2 epochs, past the 1 asked for/],
      [[...more, "--sizes=1-4", "--lr=0.01"], /d-001\.json was made with other settings \(lr: /],
    ] as const
  ) {
    const refused = await runScript("scripts/sweep.ts", [...args, `--out=${out}`]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(lastLine(refused.stderr), message);
    assert.match(lastLine(refused.stderr), /--fresh/);
  }
  assert.deepEqual(JSON.parse(await Deno.readTextFile(join(out, "sweep.json"))), trained);
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
  const checkpoint = /^trainings\/[\w-]+\.checkpoint\.safetensors$/;
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
  assert.deepEqual((await filesIn(out)).filter((path) => checkpoint.test(path)), []);
  await Deno.remove(root, { recursive: true });
});
