import assert from "node:assert/strict";
import { join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { loadSafetensors } from "../lib/model/weights.ts";
import {
  assertRefuses,
  filesIn,
  runScript,
  runWholeAndKilled,
  serveDirectory,
} from "./_scripts.ts";
import { exists } from "../lib/files/atomic.ts";
import { STUDY } from "../lib/paper.ts";

Deno.test("train writes weights, history, a loss curve and reconstructions", async () => {
  const out = await Deno.makeTempDir();
  const flags = ["--epochs=2", "--limit=600", "--test-limit=200", "--hidden=3", `--out=${out}`];
  const run = await runScript("scripts/train.ts", flags);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /samples\/s/);
  const history = JSON.parse(await Deno.readTextFile(join(out, "history.json")));
  assert.equal(history.epochs.length, 2);
  assert.equal(history.hidden, 3);
  assert.equal(history.epochsTrained, 2);
  assert.equal(history.trainImages, 600);
  assert.ok(history.epochs.every((e: { testLoss: number }) => e.testLoss > 0 && e.testLoss < 0.4));
  const { tensors, metadata } = await loadSafetensors(join(out, "model.safetensors"));
  assert.equal(metadata.hidden, "3");
  assert.deepEqual(tensors["encoder_lin.3.weight"].shape, [3, 64]);
  const grid = decodePng(await Deno.readFile(join(out, "reconstructions.png")));
  assert.ok(grid.width > grid.height && grid.height > 2 * 28);
  const chart = decodePng(await Deno.readFile(join(out, "loss.png")));
  assert.ok(chart.width > 400);
  assert.match(await Deno.readTextFile(join(out, "loss.svg")), /epoch/);
  // Its own report inside --out: a folder not named after the experiment is no results root's. Its
  // training is kept, to train on from.
  assert.deepEqual(await filesIn(out), [
    "REPORT.md",
    "history.json",
    "loss.png",
    "loss.svg",
    "model.safetensors",
    "reconstructions.png",
    "report.json",
    "trainings/d-003.json",
    "trainings/d-003.state.safetensors",
  ]);
  // A rerun with the same flags keeps that training and writes the same files from it.
  const again = await runScript("scripts/train.ts", flags);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /epoch \d\/2/);
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(join(out, "history.json"))).epochs,
    history.epochs,
  );
  await Deno.remove(out, { recursive: true });
});

for (
  const [flags, message] of [
    [["--hidden=0"], /--hidden must be an integer ≥ 1/],
    [["--lr=-0.1"], /--lr must be > 0/],
    [["--backend=tpu"], /--backend must be one of/],
    [["--data-dir=/nonexistent/aelab"], /--data-dir \/nonexistent\/aelab/],
    [["--epochs=many"], /--epochs must be a number/],
    [["--colour=blue"], /Unknown option '--colour'/],
  ] as const
) {
  Deno.test(`train refuses ${flags.join(" ")} with one line and exit code 2`, () =>
    assertRefuses("scripts/train.ts", [...flags], message));
}

/** A search's pick in `root`'s `search/best_params.json`, as `train` into `root` reads it. */
async function writeSearchPick(root: string): Promise<void> {
  await Deno.mkdir(join(root, "search"));
  await Deno.writeTextFile(
    join(root, "search", "best_params.json"),
    JSON.stringify({ dropout: 0.0002, lr: 1.81e-2, l2: 2.25e-5 }),
  );
}

Deno.test("train trains the study's parameters beside a search's pick, as each would train alone", async () => {
  const root = await Deno.makeTempDir();
  await writeSearchPick(root);
  const flags = ["--epochs=2", "--limit=600", "--test-limit=200"];
  const run = await runScript("scripts/train.ts", [...flags, `--out=${join(root, "train")}`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /beside the study's parameters \(dropout 0\.1508, lr 3\.47e-4/);
  const history = JSON.parse(await Deno.readTextFile(join(root, "train", "history.json")));
  assert.deepEqual(history.params.lr, 1.81e-2);
  assert.deepEqual(history.contender.params, STUDY.bestParams);
  assert.equal(history.contender.epochs.length, 2);
  assert.equal(history.contender.finalTestLoss, history.contender.epochs[1].testLoss);
  // Each trains as it would alone: the same numbers as a run of its parameters given as flags, on
  // one worker (one model on several trains data-parallel, its sums in another order).
  const alone = async (params: { dropout: number; lr: number; l2: number }, folder: string) => {
    const given = [
      `--lr=${params.lr}`,
      `--l2=${params.l2}`,
      `--dropout=${params.dropout}`,
      "--workers=1",
    ];
    const out = join(root, folder);
    const run = await runScript("scripts/train.ts", [...flags, ...given, `--out=${out}`]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /beside/);
    const history = JSON.parse(await Deno.readTextFile(join(out, "history.json")));
    assert.equal(history.contender, undefined);
    return history.epochs.map((e: { testLoss: number }) => e.testLoss);
  };
  assert.deepEqual(
    await alone(STUDY.bestParams, "study"),
    history.contender.epochs.map((e: { testLoss: number }) => e.testLoss),
  );
  assert.deepEqual(
    await alone({ dropout: 0.0002, lr: 1.81e-2, l2: 2.25e-5 }, "pick"),
    history.epochs.map((e: { testLoss: number }) => e.testLoss),
  );
  // The report judges the pick against them, not comparable at this budget, with both losses.
  const section = JSON.parse(await Deno.readTextFile(join(root, "train", "report.json")));
  const [finding] = section.findings.filter((f: { key?: string }) => f.key === "search-pick");
  assert.equal(finding.verdict, "not comparable");
  assert.ok(finding.why.includes(
    `${history.finalTestLoss.toFixed(5)} against ` +
      `${history.contender.finalTestLoss.toFixed(5)}`,
  ));
  assert.match(await Deno.readTextFile(join(root, "train", "loss.svg")), /the study's parameters/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("train runs by URL, served over loopback HTTP, where no deno.json applies", async () => {
  const out = await Deno.makeTempDir();
  await using server = serveDirectory(".");
  const run = await runScript(`${server.url}scripts/train.ts`, [
    "--epochs=1",
    "--limit=300",
    "--test-limit=100",
    `--out=${out}`,
  ], ["--no-config"]);
  assert.equal(run.code, 0, run.stderr);
  assert.ok((await Deno.stat(join(out, "model.safetensors"))).size > 190_000);
  await Deno.remove(out, { recursive: true });
});

// The fused engine runs on the software adapter here, slowly: it trains fewer images. Both train with the
// best parameters' dropout, so a resumed run must also draw the masks an uninterrupted one draws.
// With a search's pick, the study's parameters train beside it, each with its own checkpoint.
const engines = [
  ["tfjs", 3000, false],
  ["workers", 3000, false],
  ["fused", 640, false],
  ["workers", 3000, true],
] as const;
for (const [engine, limit, contender] of engines) {
  Deno.test(
    `a killed training run on ${engine}${
      contender ? " with the study's parameters beside a search's pick" : ""
    } resumes from its last epoch and ends as an uninterrupted one`,
    async () => {
      const root = await Deno.makeTempDir();
      if (contender) await writeSearchPick(root);
      const flags = [
        "--epochs=4",
        `--limit=${limit}`,
        "--test-limit=200",
        "--batch-size=64",
        `--engine=${engine}`,
      ];
      // Each training keeps its own checkpoint, the study's parameters' written last.
      const checkpoints = [
        "trainings/d-004.checkpoint.safetensors",
        ...(contender ? ["trainings/d-004-study-params.checkpoint.safetensors"] : []),
      ];
      const { killed: out } = await runWholeAndKilled(
        "scripts/train.ts",
        flags,
        root,
        new RegExp(`^${checkpoints.at(-1)!.replaceAll(".", "\\.")}$`),
      );
      assert.equal(await exists(join(out, "history.json")), false, "killed after the run ended");
      // The killed run's locks stay behind (the folder's, each training's), and the rerun takes them
      // over: their holder is gone.
      const locks = checkpoints.map((path) => path.replace(".checkpoint.safetensors", ".lock"));
      assert.deepEqual(await filesIn(out), [".aelab.lock", ...checkpoints, ...locks].sort());

      const resumed = await runScript("scripts/train.ts", [...flags, `--out=${out}`]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stderr, /resuming after epoch [1-3] from/);
      // The pick's epochs, and the study's parameters' beside it where they trained.
      const losses = async (folder: string) => {
        const history = JSON.parse(await Deno.readTextFile(join(root, folder, "history.json")));
        return [history.epochs, history.contender?.epochs ?? []].map((epochs) =>
          epochs.map((e: { trainLoss: number; validationLoss: number; testLoss: number }) => [
            e.trainLoss,
            e.validationLoss,
            e.testLoss,
          ])
        );
      };
      const whole = await losses("whole");
      assert.deepEqual(await losses("killed"), whole);
      assert.equal(whole[1].length, contender ? 4 : 0);
      assert.deepEqual(
        await Deno.readFile(join(out, "model.safetensors")),
        await Deno.readFile(join(root, "whole", "model.safetensors")),
      );
      for (const path of [".aelab.lock", ...checkpoints, ...locks]) {
        assert.equal(await exists(join(out, path)), false, path);
      }
      await Deno.remove(root, { recursive: true });
    },
  );
}
