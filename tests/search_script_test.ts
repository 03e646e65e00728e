import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { generateParams, loadBestParams, type TrialRecord } from "../lib/search_space.ts";
import { exists } from "../lib/files/atomic.ts";
import { STUDY } from "../lib/paper.ts";
import {
  assertMergeRerunsShard,
  filesIn,
  killWhen,
  lastLine,
  runOnce,
  runScript,
} from "./_scripts.ts";

/** A halving search small enough for a test: 4 trials, then 2, then 1 at 4 epochs, on 300 images. */
const TINY = ["--trials=4", "--epochs=4", "--eta=2", "--limit=300"];

interface TrialFile {
  scheduler: string;
  rungs: { candidates: number; epochs: number }[];
  trials: TrialRecord[];
}

async function readTrials(out: string): Promise<TrialFile> {
  return JSON.parse(await Deno.readTextFile(join(out, "trials.json")));
}

/** The trials in order: what the same seed and backend must reproduce. */
function numbers(trials: TrialRecord[]) {
  return [...trials].sort((a, b) => a.index - b.index);
}

/** The tiny search run once, uninterrupted, into a temporary results root. */
const tinySearch = runOnce("scripts/search.ts", TINY, "search");

Deno.test("search halves its trials rung by rung and writes the ranked trials, the best and the figure", async () => {
  const { out, run } = await tinySearch();
  assert.equal(run.code, 0, run.stderr);
  const { scheduler, rungs, trials: all } = await readTrials(out);
  const trials = all.filter((trial) => !trial.study);
  assert.equal(scheduler, "halving");
  assert.deepEqual(rungs, [
    { candidates: 4, epochs: 1 },
    { candidates: 2, epochs: 2 },
    { candidates: 1, epochs: 4 },
  ]);
  const drawn = generateParams(4, 0, 4);
  for (const trial of trials) {
    assert.deepEqual(trial.params, drawn[trial.index]);
    assert.ok(!trial.diverged && trial.validationLoss! > 0 && trial.validationLoss! < 0.4);
    assert.equal(trial.epochs, rungs[trial.rung].epochs);
  }
  // Each rung goes on with the best of the one before, by its validation loss at that rung.
  const byRung = (rung: number) => trials.filter((t) => t.rung >= rung);
  assert.deepEqual(byRung(0).length, 4);
  assert.deepEqual(byRung(1).length, 2);
  assert.deepEqual(byRung(2).length, 1);
  const firstRung = trials.filter((t) => t.rung === 0).map((t) => t.validationLoss!);
  const record = async (trial: TrialRecord) =>
    JSON.parse(
      await Deno.readTextFile(
        join(out, "trainings", `trial-${String(trial.index + 1).padStart(3, "0")}.json`),
      ),
    );
  for (const survivor of byRung(1)) {
    const atRungOne = (await record(survivor)).history[0].validationLoss;
    assert.ok(firstRung.every((loss) => atRungOne <= loss), "a survivor beat every dropped trial");
  }
  // The table, best first (the last rung's trial), in the CSV and on stdout.
  const csv = (await Deno.readTextFile(join(out, "trials.csv"))).trim().split("\n");
  assert.equal(csv[0], "rank,trial,dropout,lr,L2,last rung,epochs,validation loss");
  const drawnRows = csv.slice(1).filter((row) => row.split(",")[1] !== "the study's");
  assert.equal(Number(drawnRows[0].split(",")[1]), byRung(2)[0].index + 1);
  assert.match(run.stdout, /\| rank \| trial \| dropout \| lr \| L2 \| last rung \| epochs \|/);
  // The best combination, as train, sweep and denoise read it.
  const [best] = byRung(2);
  const saved = JSON.parse(await Deno.readTextFile(join(out, "best_params.json")));
  assert.deepEqual([saved.trial, saved.epochs, saved.validationLoss], [
    best.index + 1,
    4,
    best.validationLoss,
  ]);
  const loaded = await loadBestParams(dirname(out));
  assert.deepEqual(loaded.params, {
    dropout: best.params.dropout,
    lr: best.params.lr,
    l2: best.params.l2,
  });
  // Two panels, loss against lr and L2 on log axes, coloured by the epochs each trial reached.
  const figure = decodePng(await Deno.readFile(join(out, "loss_vs_params.png")));
  assert.ok(figure.width > 2 * figure.height, `${figure.width}×${figure.height}`);
  const svg = await Deno.readTextFile(join(out, "loss_vs_params.svg"));
  for (const text of ["learning rate", "L2 weight decay", "epochs trained", "4 of 4 trials"]) {
    assert.ok(svg.includes(text), text);
  }
  const report = await Deno.readTextFile(join(dirname(out), "REPORT.md"));
  assert.match(report, /## Hyper-parameter search: d = 4/);
  // The study's parameters, scored beside the drawn trials: on to a rung where they score no worse
  // than the last drawn trial that goes on; ranked among them in the table, never the pick.
  const study = all.find((trial) => trial.study)!;
  assert.deepEqual([study.index, study.params], [4, { ...STUDY.bestParams, hidden: 4 }]);
  const studyHistory = (JSON.parse(
    await Deno.readTextFile(join(out, "trainings", "study.json")),
  )).history.map((epoch: { validationLoss: number }) => epoch.validationLoss);
  for (const [k, rung] of rungs.slice(0, -1).entries()) {
    if (study.rung < k) break;
    const bar = Math.max(
      ...(await Promise.all(byRung(k + 1).map(async (t) => (await record(t)).history))).map(
        (history) => history[rung.epochs - 1].validationLoss,
      ),
    );
    assert.equal(study.rung > k, studyHistory[rung.epochs - 1] <= bar, `rung ${k + 1}`);
  }
  assert.equal(study.validationLoss, studyHistory[study.epochs - 1]);
  const studyRank = csv.findIndex((row) => row.split(",")[1] === "the study's");
  assert.ok(studyRank >= 1);
  assert.match(
    report,
    new RegExp(`The study's parameters, scored alike, ranked ${studyRank} of 5`),
  );
  assert.match(
    report,
    /The 2 winners \(of the last two rungs\) have a median lr of \S+ against \S+ for all 4 converged trials \(×[\d.]+\): they (do not )?cluster at high learning rates\./,
  );
  assert.match(
    report,
    /\| the search's pick against the study's parameters after 150 epochs \|.*run train again/,
  );
  assert.match(report, /successive halving \(η = 2\): 4 trained to 1 epochs, then 2 trained to 2/);
});

Deno.test("the random scheduler trains every trial the full epochs, as the study did", async () => {
  const out = join(await Deno.makeTempDir(), "search");
  const run = await runScript("scripts/search.ts", [
    "--scheduler=random",
    "--trials=3",
    "--epochs=1",
    "--limit=300",
    `--out=${out}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const { trials } = await readTrials(out);
  assert.ok(trials.every((trial) => trial.rung === 0 && trial.epochs === 1));
  const csv = (await Deno.readTextFile(join(out, "trials.csv"))).trim().split("\n");
  const losses = csv.slice(1).map((line) => Number(line.split(",")[7]));
  assert.deepEqual(losses, trials.map((t) => t.validationLoss!).sort((a, b) => a - b));
  assert.ok((await Deno.readTextFile(join(out, "loss_vs_params.svg"))).includes("dropout"));
  await Deno.remove(dirname(out), { recursive: true });
});

Deno.test("a killed search resumes where it was and ends as an uninterrupted one", async () => {
  const out = join(await Deno.makeTempDir(), "search");
  // Killed once a checkpoint of a rung's population is there: inside a rung, after the first.
  const checkpoint = /^trainings\/[\w-]+\.checkpoint\.safetensors$/;
  await killWhen(
    "scripts/search.ts",
    [...TINY, `--out=${out}`],
    async () => (await filesIn(out)).some((path) => checkpoint.test(path)) || undefined,
  );
  assert.equal(await exists(join(out, "trials.json")), false, "the search finished first");

  const restarted = await runScript("scripts/search.ts", [...TINY, `--out=${out}`]);
  assert.equal(restarted.code, 0, restarted.stderr);
  const reference = await tinySearch();
  // It trained only what the killed run had not: fewer epochs of a model than the whole search (the
  // kill may land inside a rung, which then resumes from its checkpoint, or while its results were
  // being written, which leaves the trials not yet written to train that epoch again). Each epoch's
  // line counts its population's models (one where it names none).
  const modelEpochs = (stderr: string) =>
    [...stderr.matchAll(/epoch \d+\/\d+ [^\n\r]*/g)]
      .reduce((sum, [line]) => sum + Number(/(\d+) models/.exec(line)?.[1] ?? 1), 0);
  assert.ok(
    modelEpochs(restarted.stderr) < modelEpochs(reference.run.stderr),
    restarted.stderr,
  );
  const { trials } = await readTrials(out);
  assert.deepEqual(numbers(trials), numbers((await readTrials(reference.out)).trials));
  for (const path of (await filesIn(out)).filter((path) => path.endsWith(".state.safetensors"))) {
    assert.deepEqual(
      await Deno.readFile(join(out, path)),
      await Deno.readFile(join(reference.out, path)),
      path,
    );
  }
  // Run again, it trains nothing; with other settings, it names the one that differs.
  const again = await runScript("scripts/search.ts", [...TINY, `--out=${out}`]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /epoch \d\/\d/);
  const changed = await runScript("scripts/search.ts", [
    ...TINY,
    "--batch-size=64",
    `--out=${out}`,
  ]);
  assert.equal(changed.code, 2, changed.stderr);
  assert.match(lastLine(changed.stderr), /other settings \(batchSize: 256 → 64\); pass --fresh/);
  await Deno.remove(dirname(out), { recursive: true });
});

Deno.test("a merge of a search that meets a truncated state writes nothing, and says to rerun its shard", async () => {
  const reference = await tinySearch();
  const out = join(await Deno.makeTempDir(), "search");
  await Deno.mkdir(join(out, "trainings"), { recursive: true });
  const kept = (await filesIn(reference.out)).filter((path) => path.startsWith("trainings/"));
  for (const path of kept) await Deno.copyFile(join(reference.out, path), join(out, path));
  const state = join(out, kept.find((path) => path.endsWith(".state.safetensors"))!);
  await Deno.truncate(state, 100);
  const merged = await runScript("scripts/search.ts", [...TINY, "--merge", `--out=${out}`]);
  await assertMergeRerunsShard(merged, out, state);
  await Deno.remove(dirname(out), { recursive: true });
});

Deno.test("a diverged trial is recorded as such, ranked last and left out of the figure", async () => {
  const out = join(await Deno.makeTempDir(), "search");
  // seed 3 draws lr 4.6e-2 and 6.4e29: the second blows the weights up to NaN
  const run = await runScript("scripts/search.ts", [
    "--scheduler=random",
    "--trials=2",
    "--seed=3",
    "--lr-range=1e-3,1e40",
    "--epochs=1",
    "--limit=300",
    `--out=${out}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const { trials } = await readTrials(out);
  const diverged = trials.find((t) => t.index === 1)!;
  assert.ok(diverged.params.lr > 1e29);
  assert.equal(diverged.diverged, true);
  assert.equal(diverged.validationLoss, null);
  const csv = (await Deno.readTextFile(join(out, "trials.csv"))).trim().split("\n");
  assert.match(csv.at(-1)!, /^3,2,.*,diverged$/);
  assert.equal(await exists(join(out, "trainings", "trial-002.state.safetensors")), false);
  const best = JSON.parse(await Deno.readTextFile(join(out, "best_params.json")));
  assert.equal(best.lr, trials.find((t) => t.index === 0)!.params.lr);
  assert.ok((await Deno.readTextFile(join(out, "loss_vs_params.svg"))).includes("1 of 2 trials"));
  await Deno.remove(dirname(out), { recursive: true });
});

for (
  const [flags, message] of [
    [["--trials=0"], /--trials must be an integer ≥ 1/],
    [["--folds=0"], /--folds must be an integer ≥ 1/],
    [["--folds=2.5"], /--folds must be an integer ≥ 1/],
    [["--lr-range=0.1,0.01"], /--lr-range must be min,max with 0 < min ≤ max/],
    [["--lr-range=0,0.1"], /--lr-range must be min,max/],
    [["--lr-range=fast"], /--lr-range must be min,max/],
    [["--hidden=0"], /--hidden must be an integer ≥ 1/],
    [["--limit=300", "--folds=301"], /--folds 301 exceeds the 300 training images/],
    [["--scheduler=grid"], /--scheduler must be one of halving, random, got "grid"/],
    [["--eta=1.5"], /--eta must be at least 2, got 1.5/],
    [["--min-epochs=0"], /--min-epochs must be an integer ≥ 1, got 0/],
    [["--scheduler=random", "--min-epochs=2"], /--min-epochs sets halving's first rung/],
    [["--epochs=9", "--min-epochs=10"], /--epochs 9: the first rung's 10 epochs exceed the 9/],
    [
      ["--trials=30", "--epochs=10"],
      /--epochs 10: 30 candidates at η = 3 need 4 rungs of growing epochs.*give at least 14 epochs/,
    ],
  ] as const
) {
  Deno.test(`search refuses ${flags.join(" ")} with one line and exit code 2`, async () => {
    const root = await Deno.makeTempDir();
    const run = await runScript("scripts/search.ts", [...flags, `--out=${root}/search`]);
    assert.equal(run.code, 2, run.stderr);
    // one line, the last: the error (a WebGPU probe may print its own noise before it)
    const lines = run.stderr.trim().split("\n");
    assert.match(lines.at(-1)!, new RegExp(`^error: ${message.source}`));
    assert.equal(lines.filter((line) => message.test(line)).length, 1);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    await Deno.remove(root, { recursive: true });
  });
}
