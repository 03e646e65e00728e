import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { decodePng } from "../lib/figures/png.ts";
import { generateParams, loadBestParams, type TrialRecord } from "../lib/search.ts";
import { killWhen, runOnce, runScript } from "./_scripts.ts";

/** A search small enough for a test: 3 trials of 1 epoch on 300 images. */
const TINY = ["--trials=3", "--epochs=1", "--limit=300"];

interface TrialFile {
  settings: unknown;
  trials: TrialRecord[];
}

async function readTrials(out: string): Promise<TrialFile> {
  return JSON.parse(await Deno.readTextFile(join(out, "trials.json")));
}

/** The trials without their durations: what the same seed and backend must reproduce. */
function numbers(trials: TrialRecord[]) {
  return [...trials].sort((a, b) => a.index - b.index).map(({ seconds: _, ...rest }) => rest);
}

/** The tiny search run once, uninterrupted, into a temporary results root. */
const tinySearch = runOnce("scripts/search.ts", TINY, "search");

Deno.test("search writes ranked trials, the best parameters and the loss figure", async () => {
  const { out, run } = await tinySearch();
  assert.equal(run.code, 0, run.stderr);
  const { trials } = await readTrials(out);
  assert.deepEqual(trials.map((t) => t.index).sort(), [0, 1, 2]);
  const drawn = generateParams(3, 0, 4);
  for (const trial of trials) {
    assert.deepEqual(trial.params, drawn[trial.index]);
    assert.ok(!trial.diverged && trial.validationLoss! > 0 && trial.validationLoss! < 0.4);
  }
  // the table, sorted by validation loss, in the CSV and on stdout
  const csv = (await Deno.readTextFile(join(out, "trials.csv"))).trim().split("\n");
  assert.equal(csv[0], "rank,trial,dropout,lr,L2,validation loss,seconds");
  const losses = csv.slice(1).map((line) => Number(line.split(",")[5]));
  assert.deepEqual(losses, trials.map((t) => t.validationLoss!).sort((a, b) => a - b));
  assert.match(run.stdout, /\| rank \| trial \| dropout \| lr \| L2 \| validation loss \|/);
  // the best combination, as train, sweep and denoise read it
  const best = trials.reduce((a, b) => a.validationLoss! <= b.validationLoss! ? a : b);
  const saved = JSON.parse(await Deno.readTextFile(join(out, "best_params.json")));
  assert.equal(saved.validationLoss, best.validationLoss);
  assert.equal(saved.trial, best.index + 1);
  const loaded = await loadBestParams(dirname(out));
  assert.deepEqual(loaded.params, {
    dropout: best.params.dropout,
    lr: best.params.lr,
    l2: best.params.l2,
  });
  // two panels: loss against lr and against L2, on log axes, coloured by dropout
  const figure = decodePng(await Deno.readFile(join(out, "loss_vs_params.png")));
  assert.ok(figure.width > 2 * figure.height, `${figure.width}×${figure.height}`);
  const svg = await Deno.readTextFile(join(out, "loss_vs_params.svg"));
  for (const text of ["learning rate", "L2 weight decay", "dropout", "3 of 3 trials"]) {
    assert.ok(svg.includes(text), text);
  }
  const section = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
  assert.equal(
    section.items.find((item: { kind: string }) => item.kind === "table").rows.length,
    3,
  );
  assert.match(await Deno.readTextFile(join(dirname(out), "REPORT.md")), /## Random search: d = 4/);
});

Deno.test("a killed search resumes, keeping finished trials byte for byte", async () => {
  const out = join(await Deno.makeTempDir(), "search");
  const atKill = await killWhen("scripts/search.ts", [...TINY, `--out=${out}`], async () => {
    const log = await readTrials(out).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error; // a half-written log would fail here
    });
    return log && log.trials.length >= 1 ? log : undefined;
  });
  const kept = atKill.trials.length;
  assert.ok(kept < 3, "the search finished before it could be killed");

  const restarted = await runScript("scripts/search.ts", [...TINY, `--out=${out}`]);
  assert.equal(restarted.code, 0, restarted.stderr);
  assert.match(restarted.stderr, new RegExp(`resuming: ${kept} of 3 trials already finished`));
  // only the trials not yet finished were trained again
  const trained = restarted.stderr.match(/^trial \d\/3: /gm) ?? [];
  assert.equal(trained.length, 3 - kept, restarted.stderr);
  const { trials } = await readTrials(out);
  assert.equal(trials.length, 3);
  atKill.trials.forEach((trial, i) => {
    assert.equal(JSON.stringify(trials[i]), JSON.stringify(trial));
  });
  // and the search gives the numbers an uninterrupted one gives, for the same seed and backend
  const reference = await tinySearch();
  assert.deepEqual(numbers(trials), numbers((await readTrials(reference.out)).trials));

  const changed = await runScript("scripts/search.ts", [...TINY, "--epochs=2", `--out=${out}`]);
  assert.equal(changed.code, 2, changed.stderr);
  assert.match(changed.stderr, /other settings; pass --fresh/);
  await Deno.remove(dirname(out), { recursive: true });
});

Deno.test("a diverged trial is recorded as such, ranked last and left out of the figure", async () => {
  const out = join(await Deno.makeTempDir(), "search");
  // seed 3 draws lr 4.6e-2 and 6.4e29: the second blows the weights up to NaN
  const run = await runScript("scripts/search.ts", [
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
  assert.match(csv[2], /^2,2,.*,diverged,/);
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
