import assert from "node:assert/strict";
import { join } from "node:path";
import { filesIn, killWhen, lastLine, runScript } from "./_scripts.ts";

/** Data flags of the steps below: train and the denoisers on 300 images, the sweep on 200. */
const TRAIN = ["--epochs=3", "--limit=300", "--test-limit=100", "--batch-size=64", "--dropout=0.1"];
const SWEEP = ["--epochs=2", "--limit=200", "--test-limit=60", "--batch-size=64", "--sizes=1,2,3"];
const DENOISE = [...TRAIN, "--epochs=2", "--kinds=noise,occlusion"];
/** Parameters given, so that no search's pick is looked for. */
const PARAMS = ["--lr=2e-3", "--l2=0"];

/** The flags of `together` for the three steps into `root`, on `workers` workers. */
function togetherArgs(root: string, workers: number): string[] {
  const engine = ["--engine=wasm", `--workers=${workers}`];
  const step = (name: string, flags: string[]) =>
    `--${name}=${JSON.stringify([...flags, ...PARAMS, ...engine, `--out=${join(root, name)}`])}`;
  return [step("train", TRAIN), step("sweep", SWEEP), step("denoise", DENOISE)];
}

/** Each training's losses per epoch in `root`'s step folders, by its file. */
async function losses(root: string): Promise<Record<string, number[][]>> {
  const all: Record<string, number[][]> = {};
  for (const path of await filesIn(root)) {
    if (!/^\w+\/trainings\/[\w-]+\.json$/.test(path)) continue;
    const record = JSON.parse(await Deno.readTextFile(join(root, path)));
    all[path] = record.history.map((
      e: { trainLoss: number; validationLoss: number; testLoss: number },
    ) => [e.trainLoss, e.validationLoss, e.testLoss]);
  }
  return all;
}

Deno.test("together trains three steps' trainings as one population, each to its own epochs, as each step would alone", async () => {
  const root = await Deno.makeTempDir();
  try {
    const together = join(root, "together");
    const run = await runScript("scripts/together.ts", togetherArgs(together, 2));
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /training train \(1\), sweep \(3\), denoisers \(2\) together: 6 models/,
    );
    // All six train together for 2 epochs; then train's model goes on alone to its 3rd.
    assert.match(run.stderr, /train \+ sweep \+ denoisers epoch 2\/2 .* 6 models/);
    assert.match(run.stderr, /train d = 4 epoch 3\/3 /);
    const kept = await losses(together);
    assert.deepEqual(Object.keys(kept).sort(), [
      "denoise/trainings/noise.json",
      "denoise/trainings/occlusion.json",
      "sweep/trainings/d-001.json",
      "sweep/trainings/d-002.json",
      "sweep/trainings/d-003.json",
      "train/trainings/d-004.json",
    ]);
    assert.deepEqual(
      Object.values(kept).map((history) => history.length),
      [2, 2, 2, 2, 2, 3],
    );
    // Nothing but each training's result: no checkpoint or lock left, no step's outputs written.
    assert.ok(
      (await filesIn(together)).every((path) =>
        /\/trainings\/[\w-]+\.(json|state\.safetensors)$/.test(path)
      ),
    );

    // The same numbers as train and sweep each alone, in this thread.
    const alone = join(root, "alone");
    for (const [step, flags] of [["train", TRAIN], ["sweep", SWEEP]] as const) {
      const args = [
        ...flags,
        ...PARAMS,
        "--engine=wasm",
        "--workers=1",
        `--out=${join(alone, step)}`,
      ];
      const run = await runScript(`scripts/${step}.ts`, args);
      assert.equal(run.code, 0, run.stderr);
    }
    const separate = await losses(alone);
    for (const [path, history] of Object.entries(separate)) {
      assert.deepEqual(kept[path], history, path);
    }

    // A step run afterwards finds its trainings done: it trains nothing and writes its outputs.
    const train = await runScript("scripts/train.ts", [
      ...TRAIN,
      ...PARAMS,
      "--engine=wasm",
      "--workers=2",
      `--out=${join(together, "train")}`,
    ]);
    assert.equal(train.code, 0, train.stderr);
    assert.doesNotMatch(train.stderr, /epoch \d\/3/);
    const history = JSON.parse(await Deno.readTextFile(join(together, "train", "history.json")));
    assert.deepEqual(
      history.epochs.map((e: { testLoss: number }) => e.testLoss),
      kept["train/trainings/d-004.json"].map(([, , test]) => test),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("together killed mid-way resumes each training from its checkpoint and ends as an uninterrupted run", async () => {
  const root = await Deno.makeTempDir();
  try {
    const whole = join(root, "whole");
    const run = await runScript("scripts/together.ts", togetherArgs(whole, 2));
    assert.equal(run.code, 0, run.stderr);
    const killed = join(root, "killed");
    // Killed once the sweep's last checkpoint after epoch 1 is there.
    await killWhen(
      "scripts/together.ts",
      togetherArgs(killed, 2),
      async () =>
        (await filesIn(killed)).includes("sweep/trainings/d-003.checkpoint.safetensors") ||
        undefined,
    );
    const resumed = await runScript("scripts/together.ts", togetherArgs(killed, 2));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /sweep: resuming after epoch 1 from .*d-003\.checkpoint/);
    assert.deepEqual(await losses(killed), await losses(whole));
    assert.ok((await filesIn(killed)).every((path) => !/checkpoint|\.lock$/.test(path)));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

for (
  const [flags, message] of [
    [[], /give the flags of one step or more/],
    [["--sweep=--epochs=2"], /--sweep must be a JSON array of strings/],
    [['--sweep=["--epochs=0"]'], /--epochs must be an integer ≥ 1/],
    [['--sweep=["--sizes=0"]'], /--sizes must list sizes/],
    [
      ['--sweep=["--shard=1/2"]'],
      /sweep trains whole here; run its shards \(--shard\) on their own/,
    ],
    [
      ['--train=["--engine=wasm"]', '--sweep=["--engine=tfjs"]'],
      /the steps trained together must agree in --engine; got wasm and tfjs/,
    ],
  ] as const
) {
  Deno.test(`together refuses ${flags.join(" ") || "no steps"} with one line and exit code 2`, async () => {
    const run = await runScript("scripts/together.ts", [...flags]);
    assert.equal(run.code, 2, run.stderr);
    assert.deepEqual(run.stderr.trim().split("\n").filter((line) => line.startsWith("error")), [
      lastLine(run.stderr),
    ]);
    assert.match(lastLine(run.stderr), message);
  });
}
