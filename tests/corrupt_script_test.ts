import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { saveSafetensors } from "../lib/model/weights.ts";
import { testDigits } from "./_fixtures.ts";
import {
  assertAsksForTrainedModel,
  assertRefuses,
  gridSide,
  lastLine,
  runScript,
  tinyClassifier,
  tinyTrainedModel,
} from "./_scripts.ts";

const NOISE_LEVELS = [0, 0.1, 0.2, 0.4, 0.7, 1];
const OCCLUSION_SIDES = [0, 4, 10, 20, 28];

async function tinyRun(model: string, out: string, extra: string[] = []) {
  return await runScript("scripts/corrupt.ts", [
    `--model=${model}`,
    `--classifier=${await tinyClassifier()}`,
    "--test-limit=200",
    "--digits=6",
    `--noise-levels=${NOISE_LEVELS.join(",")}`,
    `--occlusion-sides=${OCCLUSION_SIDES.join(",")}`,
    `--out=${out}`,
    ...extra,
  ]);
}

Deno.test("corrupt writes loss and identity curves, their tables, confusion heat maps and the best and worst digits by loss", async () => {
  const model = await tinyTrainedModel();
  const root = await Deno.makeTempDir();
  const out = join(root, "corrupt");
  const run = await tinyRun(model, out);
  assert.equal(run.code, 0, run.stderr);
  // one pass over the levels, for the losses and the identity both
  assert.match(run.stderr, /noise curve .* 6\/6/);
  assert.doesNotMatch(run.stderr, /identity .* \d+\/6/);
  assert.deepEqual(
    [...Deno.readDirSync(out)].map((entry) => entry.name).sort(),
    [
      "curves.json",
      "identity.csv",
      ...["noise", "occlusion"].flatMap((kind) => [
        `${kind}-best.png`,
        ...["confusion", "curve", "identity"].flatMap((what) =>
          ["csv", "png", "svg"].map((ext) => `${kind}-${what}.${ext}`)
        ),
        `${kind}-worst.png`,
      ]),
      "report.json",
    ].sort(),
  );
  const result = JSON.parse(await Deno.readTextFile(join(out, "curves.json")));
  const [noise, occlusion] = result.curves;
  assert.deepEqual(noise.levels, NOISE_LEVELS);
  assert.deepEqual(occlusion.levels, OCCLUSION_SIDES);
  for (const curve of [noise, occlusion]) {
    assert.deepEqual(Object.keys(curve.losses), ["standard"]);
    assert.equal(curve.losses.standard.length, curve.levels.length);
    assert.ok(curve.losses.standard.every(Number.isFinite));
    // no corruption: the clean test loss, as training measured it on the same 200 test images
    assert.equal(curve.losses.standard[0], result.cleanLoss);
  }
  const training = JSON.parse(await Deno.readTextFile(join(dirname(model), "history.json")));
  assert.ok(Math.abs(result.cleanLoss / training.finalTestLoss - 1) < 1e-6);
  // noise hurts: every noise level costs more than none, and strong noise more than weak
  const [clean, weak, ...rest] = noise.losses.standard;
  assert.ok([weak, ...rest].every((loss: number) => loss > clean), `${noise.losses.standard}`);
  assert.ok(Math.max(...rest) > weak + 0.01, `${noise.losses.standard}`);
  assert.ok(occlusion.losses.standard.at(-1) > clean, `${occlusion.losses.standard}`);

  // identity: every level of both curves, zero corruption at the ceiling, the classifier's own accuracy
  const { identity } = result;
  assert.equal(identity.testImages, 200);
  assert.ok(
    identity.classifierAccuracy > 0.6,
    `classifier accuracy ${identity.classifierAccuracy}`,
  );
  for (const [i, curve] of identity.curves.entries()) {
    assert.deepEqual(curve.levels, result.curves[i].levels);
    assert.equal(curve.identity.standard[0], identity.ceiling.standard);
    assert.equal(curve.baseline[0], identity.classifierAccuracy);
    assert.ok([...curve.identity.standard, ...curve.baseline].every((s) => s >= 0 && s <= 1));
  }
  assert.deepEqual(identity.at.map((at: { corruption: unknown }) => at.corruption), [
    { kind: "noise", std: 0.2 },
    { kind: "occlusion", side: 10 },
  ]);

  // the figures: 3 rows (original, corrupted, reconstructed) of the requested 6 digits, chosen by loss
  const test = await testDigits(200);
  for (const example of result.examples) {
    const best = example.best.map((pick: { loss: number }) => pick.loss);
    const worst = example.worst.map((pick: { loss: number }) => pick.loss);
    assert.equal(best.length, 6);
    assert.deepEqual(best, [...best].sort((a, b) => a - b));
    assert.deepEqual(worst, [...worst].sort((a, b) => b - a));
    assert.ok(best.at(-1) <= example.meanLoss && example.meanLoss <= worst.at(-1));
    // each digit shown is captioned with its label and the classifier's reading of its reconstruction
    for (const pick of [...example.best, ...example.worst]) {
      assert.equal(pick.label, test.labels[pick.index]);
      assert.ok(Number.isInteger(pick.reading) && pick.reading >= 0 && pick.reading <= 9);
    }
    assert.equal(
      example.readings.worst,
      example.worst.map((p: { label: number; reading: number }) => `${p.label} → ${p.reading}`)
        .join(", "),
    );
    for (const which of ["best", "worst"]) {
      const png = decodePng(await Deno.readFile(join(out, example.figures[which])));
      assert.deepEqual([png.width, png.height], [gridSide(6), gridSide(3)]);
      // the first cell of the first row is the chosen test digit itself
      const index = example[which][0].index;
      const digit = test.images.subarray(index * 784, (index + 1) * 784);
      const shown = Array.from(digit, (_, i) => {
        const [y, x] = [Math.floor(i / 28), i % 28];
        return png.frames[0][4 * ((2 + 3 * y) * png.width + 2 + 3 * x)];
      });
      assert.deepEqual(shown, Array.from(digit));
    }
  }
  const csv = (await Deno.readTextFile(join(out, "noise-curve.csv"))).trim().split("\n");
  assert.equal(csv[0], '"noise std σ (pixel intensity, 0–1)",loss: standard');
  assert.deepEqual(csv.slice(1).map((line) => Number(line.split(",")[0])), NOISE_LEVELS);
  assert.match(
    await Deno.readTextFile(join(out, "occlusion-curve.svg")),
    /occlusion side \(pixels\)/,
  );
  const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  const files = report.items.filter((item: { kind: string }) => item.kind === "figure");
  assert.equal(files.length, 10);
  const captions = files.map((item: { caption: string }) => item.caption).join("\n");
  assert.ok(
    captions.includes(`reconstructions (true → read) ${result.examples[0].readings.worst}`),
  );
  const texts = report.items.filter((item: { kind: string }) => item.kind === "text");
  assert.match(texts[1].text, /^Under noise std 0\.2, the classifier reads/);
  assert.match(await Deno.readTextFile(join(root, "REPORT.md")), /## Corrupted inputs/);

  // the same seed gives the same numbers; another seed other corruptions, but the same clean loss
  const again = await tinyRun(model, join(root, "again"));
  assert.equal(again.code, 0, again.stderr);
  const repeated = JSON.parse(await Deno.readTextFile(join(root, "again", "curves.json")));
  assert.deepEqual(repeated.curves, result.curves);
  assert.deepEqual(repeated.identity, result.identity);
  const reseeded = await tinyRun(model, join(root, "reseeded"), ["--seed=1"]);
  assert.equal(reseeded.code, 0, reseeded.stderr);
  const other = JSON.parse(await Deno.readTextFile(join(root, "reseeded", "curves.json")));
  assert.equal(other.cleanLoss, result.cleanLoss);
  assert.notDeepEqual(other.curves[0].losses, noise.losses);
  await Deno.remove(root, { recursive: true });
});

Deno.test("corrupt without a trained model says to train one, in one line, and exits 2", () =>
  assertAsksForTrainedModel("scripts/corrupt.ts"));

Deno.test("corrupt refuses a file that holds no autoencoder, with exit code 2", async () => {
  const root = await Deno.makeTempDir();
  const foreign = join(root, "foreign.safetensors");
  await saveSafetensors(foreign, { w: { shape: [2], data: new Float32Array([1, 2]) } }, {
    hidden: "4",
    dropout: "0",
  });
  const text = join(root, "text.safetensors");
  await Deno.writeTextFile(text, "not weights");
  const cases: [string, RegExp][] = [[foreign, /unexpected tensors w/], [
    text,
    /text\.safetensors/,
  ]];
  for (const [path, message] of cases) {
    const run = await runScript("scripts/corrupt.ts", [`--model=${path}`, `--out=${root}/out`]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(lastLine(run.stderr), /^error: /);
    assert.match(lastLine(run.stderr), message);
  }
  const names = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
  assert.deepEqual(names, ["foreign.safetensors", "text.safetensors"]);
  await Deno.remove(root, { recursive: true });
});

for (
  const [flags, message] of [
    [["--noise-levels=0,x"], /--noise-levels must be comma-separated numbers/],
    [["--occlusion-sides=0,29"], /--occlusion-sides: 29 is not a whole number of pixels in 0…28/],
    [["--occlusion=3.5"], /--occlusion: 3.5 is not a whole number of pixels/],
    [["--noise=-0.1"], /--noise must lie in \[0, Infinity\)/],
    [["--digits=0"], /--digits must be an integer ≥ 1/],
    [["--digits=300", "--test-limit=200"], /--digits 300 exceeds the 200 test images/],
    [["--blur=2"], /Unknown option '--blur'/],
  ] as const
) {
  Deno.test(`corrupt refuses ${flags.join(" ")} with one line and exit code 2`, async () =>
    assertRefuses(
      "scripts/corrupt.ts",
      [`--model=${await tinyTrainedModel()}`, ...flags],
      message,
    ));
}
