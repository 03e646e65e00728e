import assert from "node:assert/strict";
import { join } from "node:path";
import { Autoencoder } from "../lib/model/autoencoder.ts";
import { Classifier } from "../lib/model/classifier_model.ts";
import { setupBackend } from "../lib/tfjs.ts";
import { testDigits } from "./_fixtures.ts";
import { assertRefuses, filesIn, lastLine, runScript } from "./_scripts.ts";

/** A short training: 1 epoch on 2,000 images in small batches, scored on 300 test digits. */
const FLAGS = ["--limit=2000", "--test-limit=300", "--batch-size=32", "--lr=0.002"];

Deno.test("classify trains the classifier, reports its test accuracy, and reuses it when the settings match", async () => {
  const out = join(await Deno.makeTempDir(), "classify");
  const run = await runScript("scripts/classify.ts", [...FLAGS, "--epochs=1", `--out=${out}`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /train classifier epoch 1\/1/);
  assert.deepEqual(await filesIn(out), [
    "classifier.safetensors",
    "classify.json",
    "confusion.png",
    "confusion.svg",
    "loss.png",
    "loss.svg",
    "report.json",
    "trainings/classifier.json",
    "trainings/classifier.state.safetensors",
  ]);
  const result = JSON.parse(await Deno.readTextFile(join(out, "classify.json")));
  assert.equal(result.testImages, 300);
  assert.equal(result.trainImages, 2000);
  assert.equal(result.epochs.length, 1);
  // The accuracy reported is the saved classifier's on the test digits, far above chance.
  await setupBackend("wasm", { quiet: true });
  const classifier = await Classifier.load(join(out, "classifier.safetensors"));
  const test = await testDigits(300);
  const readings = await classifier.predict(test.images);
  classifier.dispose();
  const correct = readings.filter((reading, i) => reading === test.labels[i]).length;
  assert.equal(result.testAccuracy, correct / 300);
  assert.equal(result.misread, 300 - correct);
  assert.ok(result.testAccuracy > 0.7, `accuracy ${result.testAccuracy}`);
  assert.equal(result.confusion.flat().reduce((a: number, b: number) => a + b), 300);
  const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  assert.match(
    report.items[0].text,
    new RegExp(`reads ${(100 * correct / 300).toFixed(1)}% of 300`),
  );

  // The same settings: kept, not trained again; more epochs: trained on from the saved state.
  const again = await runScript("scripts/classify.ts", [...FLAGS, "--epochs=1", `--out=${out}`]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /epoch \d\/\d/);
  assert.equal(
    JSON.parse(await Deno.readTextFile(join(out, "classify.json"))).testAccuracy,
    correct / 300,
  );
  const more = await runScript("scripts/classify.ts", [...FLAGS, "--epochs=2", `--out=${out}`]);
  assert.equal(more.code, 0, more.stderr);
  assert.match(more.stderr, /train classifier epoch 2\/2/);
  assert.doesNotMatch(more.stderr, /epoch 1\/2/);
  // Other settings are refused, naming the setting and how to start over.
  const other = await runScript("scripts/classify.ts", [
    ...FLAGS.filter((flag) => !flag.startsWith("--lr")),
    "--lr=0.001",
    "--epochs=2",
    `--out=${out}`,
  ]);
  assert.equal(other.code, 2, other.stderr);
  assert.match(
    lastLine(other.stderr),
    /^error: .*classifier\.json was made with other settings \(lr: 0\.002 → 0\.001\); pass --fresh/,
  );
  await Deno.remove(join(out, ".."), { recursive: true });
});

Deno.test("a classifier's file given as the autoencoder, or an autoencoder's as the classifier, is refused in one line", async () => {
  await setupBackend("wasm", { quiet: true });
  const root = await Deno.makeTempDir();
  const [classifier, autoencoder] = [join(root, "c.safetensors"), join(root, "a.safetensors")];
  const models = [Classifier.create({ dropout: 0 }, 1), Autoencoder.create({}, 1)];
  await models[0].save(classifier);
  await models[1].save(autoencoder);
  models.forEach((model) => model.dispose());
  for (const script of ["corrupt", "denoise", "morph"]) {
    await assertRefuses(
      `scripts/${script}.ts`,
      [`--model=${classifier}`, `--classifier=${classifier}`],
      new RegExp(`^error: ${classifier} holds a digit classifier, not an autoencoder$`),
    );
    await assertRefuses(
      `scripts/${script}.ts`,
      [`--model=${autoencoder}`, `--classifier=${autoencoder}`],
      new RegExp(`^error: ${autoencoder} holds an autoencoder, not a digit classifier$`),
    );
    await assertRefuses(
      `scripts/${script}.ts`,
      [`--model=${autoencoder}`, `--classifier=${root}/none.safetensors`],
      new RegExp(
        `^error: no trained classifier at ${root}/none.safetensors: run \`deno task classify\` ` +
          "first \\(or pass --classifier\\)$",
      ),
    );
  }
  await Deno.remove(root, { recursive: true });
});

for (
  const [flags, message] of [
    [["--epochs=0"], /--epochs must be an integer ≥ 1/],
    [["--batch-size=0"], /--batch-size must be an integer ≥ 1/],
    [["--lr=0"], /--lr must be > 0/],
    [["--dropout=1"], /--dropout must lie in \[0, 1\)/],
    [["--engine=turbo"], /--engine must be one of auto, workers, fused, wasm, tfjs/],
  ] as const
) {
  Deno.test(`classify refuses ${flags.join(" ")} with one line and exit code 2`, () =>
    assertRefuses("scripts/classify.ts", [...flags], message));
}
