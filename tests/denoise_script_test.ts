import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { loadSafetensors } from "../lib/model/weights.ts";
import { testDigits } from "./_fixtures.ts";
import {
  assertAsksForTrainedModel,
  assertRefuses,
  filesIn,
  gridSide,
  runScript,
  runWholeAndKilled,
  tinyClassifier,
  tinyTrainedModel,
} from "./_scripts.ts";
import { exists } from "../lib/files/atomic.ts";

/** Denoisers trained as the tiny standard model was: 3 epochs on 2,000 images in small batches. */
async function tinyRun(model: string, out: string, extra: string[] = []) {
  return await runScript("scripts/denoise.ts", [...await tinyFlags(model, extra), `--out=${out}`]);
}

/** The flags of {@link tinyRun} but the output folder. */
async function tinyFlags(model: string, extra: string[] = []): Promise<string[]> {
  return [
    `--model=${model}`,
    `--classifier=${await tinyClassifier()}`,
    "--epochs=3",
    "--limit=2000",
    "--batch-size=32",
    "--lr=0.003",
    "--dropout=0",
    "--test-limit=200",
    "--digits=4",
    "--noise-levels=0,0.5,1",
    "--occlusion-sides=0,10,28",
    ...extra,
  ];
}

Deno.test("denoise trains a denoiser per corruption that beats the standard model on it", async () => {
  const model = await tinyTrainedModel();
  const root = await Deno.makeTempDir();
  const out = join(root, "denoise");
  const run = await tinyRun(model, out);
  assert.equal(run.code, 0, run.stderr);
  // The two denoisers train as one population.
  assert.match(run.stderr, /denoisers epoch 3\/3 .* 2 models \(2 converging\)/);
  assert.deepEqual(await filesIn(out), [
    "comparison.csv",
    "denoise.json",
    "denoised-noise.png",
    "denoised-occlusion.png",
    "denoiser-noise.safetensors",
    "denoiser-occlusion.safetensors",
    "identity.csv",
    ...["noise", "occlusion"].flatMap((kind) =>
      ["confusion", "curve", "identity"].flatMap((what) =>
        ["csv", "png", "svg"].map((ext) => `${kind}-${what}.${ext}`)
      )
    ),
    "report.json",
    "trainings/noise.json",
    "trainings/noise.state.safetensors",
    "trainings/occlusion.json",
    "trainings/occlusion.state.safetensors",
  ]);
  const { comparison, curves, identity } = JSON.parse(
    await Deno.readTextFile(join(out, "denoise.json")),
  );
  assert.deepEqual(comparison.headers, ["model", "clean", "noise std 0.2", "occlusion side 10"]);
  const [standard, noise, occlusion] = comparison.rows;
  assert.deepEqual(
    [standard[0], noise[0], occlusion[0]],
    ["standard", "noise denoiser", "occlusion denoiser"],
  );
  const training = JSON.parse(await Deno.readTextFile(join(dirname(model), "history.json")));
  assert.ok(Math.abs(standard[1] / training.finalTestLoss - 1) < 1e-6);
  // each denoiser does better than the standard model on the corruption it was trained on
  assert.ok(noise[2] < standard[2], `noisy: ${noise[2]} vs ${standard[2]}`);
  assert.ok(occlusion[3] < standard[3], `occluded: ${occlusion[3]} vs ${standard[3]}`);
  const csv = (await Deno.readTextFile(join(out, "comparison.csv"))).trim().split("\n");
  assert.deepEqual(csv.map((line) => line.split(",")[0]), [
    "model",
    ...comparison.rows.map((r: string[]) => r[0]),
  ]);

  // training scored the output for the corrupted test images against the clean ones, as the table does
  for (const [kind, row, column] of [["noise", noise, 2], ["occlusion", occlusion, 3]] as const) {
    const record = JSON.parse(await Deno.readTextFile(join(out, "trainings", `${kind}.json`)));
    assert.equal(record.settings.corruption.kind, kind);
    assert.equal(record.history.length, 3);
    assert.ok(Math.abs(record.history[2].testLoss / row[column] - 1) < 1e-6);
    const { tensors, metadata } = await loadSafetensors(join(out, `denoiser-${kind}.safetensors`));
    assert.deepEqual([metadata.hidden, metadata.dropout], ["4", "0"]);
    assert.deepEqual(tensors["encoder_lin.3.weight"].shape, [4, 64]);
  }
  for (const curve of curves) {
    assert.deepEqual(Object.keys(curve.losses), [
      "standard",
      "noise denoiser",
      "occlusion denoiser",
    ]);
    for (const losses of Object.values(curve.losses) as number[][]) {
      assert.equal(losses.length, 3);
      assert.ok(losses.every(Number.isFinite));
    }
  }
  assert.equal(curves[0].losses["noise denoiser"][0], noise[1]);
  // identity: every model on every level, each at its ceiling without corruption
  for (const curve of identity.curves) {
    assert.deepEqual(Object.keys(curve.identity), Object.keys(curves[0].losses));
    for (const [name, shares] of Object.entries(curve.identity) as [string, number[]][]) {
      assert.equal(shares.length, 3);
      assert.equal(shares[0], identity.ceiling[name]);
    }
  }
  for (const at of identity.at) {
    assert.deepEqual(Object.keys(at.confusion), [
      "the input itself",
      "standard",
      "noise denoiser",
      "occlusion denoiser",
    ]);
  }
  const identityCsv = (await Deno.readTextFile(join(out, "identity.csv"))).trim().split("\n");
  assert.deepEqual(identityCsv.map((line) => line.split(",")[0]), [
    "digits read from",
    "the input itself",
    "standard",
    "noise denoiser",
    "occlusion denoiser",
  ]);

  // Figure 6 and its occlusion twin: original, corrupted, standard output, denoiser output
  const test = await testDigits(4);
  for (const kind of ["noise", "occlusion"]) {
    const png = decodePng(await Deno.readFile(join(out, `denoised-${kind}.png`)));
    assert.deepEqual([png.width, png.height], [gridSide(4), gridSide(4) + 4]);
    const cell = (row: number, column: number) =>
      Array.from({ length: 784 }, (_, i) => {
        const y = 2 + row * 86 + (row >= 2 ? 4 : 0) + 3 * Math.floor(i / 28);
        return png.frames[0][4 * (y * png.width + 2 + column * 86 + 3 * (i % 28))];
      });
    assert.deepEqual(cell(0, 1), Array.from(test.images.subarray(784, 2 * 784)));
    assert.notDeepEqual(cell(1, 1), cell(0, 1));
    assert.notDeepEqual(cell(3, 1), cell(2, 1));
  }
  const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  // the study's number stands beside ours in the report
  assert.ok(
    report.items[0].text.includes(
      `reaches ${noise[2].toFixed(6)} on test images under noise std 0.2, against the clean ones ` +
        `(the study reports 0.030541 after 100 epochs)`,
    ),
    report.items[0].text,
  );

  // run again: the denoisers of the same settings are kept, not trained, and give the same table
  const weights = await Deno.readFile(join(out, "denoiser-noise.safetensors"));
  const again = await tinyRun(model, out);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /epoch \d\/3/);
  const kept = JSON.parse(await Deno.readTextFile(join(out, "denoise.json")));
  assert.deepEqual(kept.comparison, comparison);
  assert.deepEqual(kept.identity, identity);
  // --fresh trains again, and the same seed gives the same weights
  const fresh = await tinyRun(model, out, ["--kinds=noise", "--fresh"]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stderr, /denoisers noise denoiser epoch 3\/3/);
  assert.deepEqual(await Deno.readFile(join(out, "denoiser-noise.safetensors")), weights);
  const noiseOnly = JSON.parse(await Deno.readTextFile(join(out, "denoise.json")));
  assert.deepEqual(noiseOnly.comparison.rows.map((row: string[]) => row[0]), [
    "standard",
    "noise denoiser",
  ]);
  assert.deepEqual(noiseOnly.comparison.rows[1], noise);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a killed denoise resumes its denoiser from its last epoch and ends as an uninterrupted one", async () => {
  const root = await Deno.makeTempDir();
  const flags = await tinyFlags(await tinyTrainedModel(), ["--kinds=noise"]);
  const checkpoint = /^trainings\/[\w-]+\.checkpoint\.safetensors$/;
  const { whole, killed } = await runWholeAndKilled("scripts/denoise.ts", flags, root, checkpoint);
  assert.equal(await exists(join(killed, "denoiser-noise.safetensors")), false, "killed too late");

  const resumed = await runScript("scripts/denoise.ts", [...flags, `--out=${killed}`]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(
    resumed.stderr,
    /denoisers: resuming after epoch [12] from .*noise\.checkpoint\.safetensors/,
  );
  const losses = async (folder: string) =>
    JSON.parse(await Deno.readTextFile(join(folder, "trainings", "noise.json"))).history.map(
      (e: { trainLoss: number; validationLoss: number; testLoss: number }) => [
        e.trainLoss,
        e.validationLoss,
        e.testLoss,
      ],
    );
  assert.deepEqual(await losses(killed), await losses(whole));
  assert.deepEqual(
    await Deno.readFile(join(killed, "denoiser-noise.safetensors")),
    await Deno.readFile(join(whole, "denoiser-noise.safetensors")),
  );
  assert.deepEqual((await filesIn(killed)).filter((path) => checkpoint.test(path)), []);
  await Deno.remove(root, { recursive: true });
});

Deno.test("denoise without a trained model says to train one, in one line, and exits 2", () =>
  assertAsksForTrainedModel("scripts/denoise.ts"));

for (
  const [flags, message] of [
    [["--kinds=noise,blur"], /--kinds must name corruptions among noise, occlusion/],
    [["--epochs=0"], /--epochs must be an integer ≥ 1/],
    [["--batch-size=2.5"], /--batch-size must be an integer ≥ 1/],
    [["--lr=0"], /--lr must be > 0/],
    [["--dropout=1"], /--dropout must lie in \[0, 1\)/],
    [["--noise=-1"], /--noise must lie in \[0, Infinity\)/],
    [["--occlusion=40"], /--occlusion: 40 is not a whole number of pixels in 0…28/],
    [["--digits=300", "--test-limit=200"], /--digits 300 exceeds the 200 test images/],
  ] as const
) {
  Deno.test(`denoise refuses ${flags.join(" ")} with one line and exit code 2`, async () =>
    assertRefuses(
      "scripts/denoise.ts",
      [`--model=${await tinyTrainedModel()}`, ...flags],
      message,
    ));
}
