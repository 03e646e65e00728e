import assert from "node:assert/strict";
import { join } from "node:path";
import { denoiserFindings, type DenoiserLosses } from "../lib/experiments/denoise.ts";
import { closeTo, whyNotComparable } from "../lib/experiments/findings.ts";
import { STUDY } from "../lib/paper.ts";
import { searchFindings } from "../lib/experiments/search.ts";
import { sweepFindings, sweepTrend } from "../lib/experiments/sweep.ts";
import { contenderParams, trainingFindings } from "../lib/experiments/train.ts";
import { type Finding, publishSection, writeReport } from "../lib/report.ts";
import { STUDY_PARAMS_SOURCE, type TrialRecord } from "../lib/search_space.ts";
import type { FitResult } from "../lib/train/trainer.ts";

/** The study's own budget: every number is comparable at it. */
const FULL = { epochs: 150, trainImages: 50_000, testImages: 10_000 };

/** A training's result whose last epoch has `testLoss`, after `epochs` epochs. */
function result(epochs: number, testLoss: number, diverged = false): FitResult {
  const history = Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    trainLoss: testLoss,
    validationLoss: testLoss,
    testLoss,
    seconds: 1,
    samplesPerSecond: 1,
  }));
  return { history, diverged };
}

const verdicts = (findings: Finding[]) => findings.map((finding) => finding.verdict);

/** The study's parameters, as a training took them. */
const STUDY_TRAINING = { ...STUDY.bestParams, epochs: 150, batchSize: 256, source: "flags" };

Deno.test("the d = 4 test loss is reproduced within 10% at the study's budget, and only there", () => {
  const judge = (epochs: number, loss: number, diverged = false, hidden = 4) =>
    verdicts(trainingFindings({
      hidden,
      params: STUDY_TRAINING,
      result: result(epochs, loss, diverged),
      trainImages: 50_000,
      testImages: 10_000,
    }));
  assert.deepEqual(judge(150, 0.031), ["reproduced"]);
  assert.deepEqual(judge(150, 0.035), ["not reproduced"]);
  assert.deepEqual(judge(150, 0.02), ["not reproduced"]);
  assert.deepEqual(judge(6, 0.031), ["not comparable"]);
  assert.deepEqual(judge(150, NaN, true), ["not reproduced"]);
  assert.deepEqual(judge(150, 0.031, false, 8), [], "only the d = 4 model is the study's");
  const [row] = trainingFindings({
    hidden: 4,
    params: STUDY_TRAINING,
    result: result(6, 0.0384),
    trainImages: 30_000,
    testImages: 5_000,
  });
  assert.equal(row.measured, "0.03840");
  assert.equal(
    row.why,
    "trained 6 of the study's 150 epochs on 30000 of its 50000 images, scored on 5000 test images " +
      "(+28.2%)",
  );
});

Deno.test("closeness is judged on both sides, and a budget short in any respect is not comparable", () => {
  assert.equal(closeTo("x", 0.03, 0.0329, FULL, 150).verdict, "reproduced");
  assert.equal(closeTo("x", 0.03, 0.0271, FULL, 150).verdict, "reproduced");
  assert.equal(closeTo("x", 0.03, 0.0331, FULL, 150).verdict, "not reproduced");
  assert.equal(closeTo("x", 0.03, 0.0269, FULL, 150).verdict, "not reproduced");
  assert.equal(whyNotComparable(FULL, 150), undefined);
  assert.equal(whyNotComparable({ ...FULL, params: STUDY.bestParams }, 150), undefined);
  for (const short of [{ epochs: 149 }, { trainImages: 49_999 }, { testImages: 9_999 }]) {
    assert.match(whyNotComparable({ ...FULL, ...short }, 150)!, /^trained /);
    assert.equal(closeTo("x", 0.03, 0.03, { ...FULL, ...short }, 150).verdict, "not comparable");
  }
});

Deno.test("a number trained with other parameters than the study's is not comparable with its number", () => {
  const pick = { dropout: 0.0647, lr: 9.68e-4, l2: 1.0e-5 };
  const row = closeTo("x", 0.02995, 0.02689, { ...FULL, params: pick }, 150);
  assert.equal(row.verdict, "not comparable");
  assert.equal(
    row.why,
    "trained with dropout 0.0647, lr 9.68e-4, L2 1.00e-5, not the study's parameters (−10.2%)",
  );
  // the same loss with the study's parameters is judged, and found too far below
  assert.equal(
    closeTo("x", 0.02995, 0.02689, { ...FULL, params: STUDY.bestParams }, 150).verdict,
    "not reproduced",
  );
  // a short budget and other parameters are both named
  assert.equal(
    whyNotComparable({ ...FULL, epochs: 6, params: pick }, 150),
    "trained 6 of the study's 150 epochs on 50000 of its 50000 images; trained with dropout 0.0647, " +
      "lr 9.68e-4, L2 1.00e-5, not the study's parameters",
  );
});

Deno.test("the sweep's findings flip with the trend: falling with d, and exponentially", () => {
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const judge = (losses: number[]) =>
    verdicts(sweepFindings(
      sweepTrend(sizes.map((hidden, i) => ({ hidden, finalTestLoss: losses[i] }))),
      sizes,
    ));
  // exponential decay: both hold
  assert.deepEqual(judge(sizes.map((d) => 0.06 * 0.9 ** d)), ["reproduced", "reproduced"]);
  // falling, but in steps far from an exponential: ρ holds, R² does not
  assert.deepEqual(
    judge([0.06, 0.0599, 0.0598, 0.0597, 0.0596, 0.02, 0.0199, 0.0198, 0.0197, 0.0196]),
    ["reproduced", "not reproduced"],
  );
  // the quick study before this change: noise, no trend
  assert.deepEqual(
    judge([0.0550, 0.0491, 0.0425, 0.0452, 0.0378, 0.0406, 0.0431, 0.0382, 0.0526, 0.0376]),
    ["not reproduced", "not reproduced"],
  );
  // rising with d: an exponential that grows is no finding of the study
  assert.deepEqual(judge(sizes.map((d) => 0.03 * 1.1 ** d)), ["not reproduced", "not reproduced"]);
  const [falls] = sweepFindings(sweepTrend([{ hidden: 1, finalTestLoss: 0.05 }]), [1]);
  assert.deepEqual([falls.verdict, falls.why], [
    "not reproduced",
    "fewer than two sizes converged",
  ]);
});

Deno.test("the denoiser's findings flip one by one", () => {
  const base: DenoiserLosses = {
    denoiser: 0.031,
    standardNoisy: 0.05,
    standardClean: 0.03,
    corruption: { kind: "noise", std: 0.2 },
    budget: { epochs: 100, trainImages: 50_000, testImages: 10_000, params: STUDY.bestParams },
  };
  const judge = (change: Partial<DenoiserLosses>) =>
    verdicts(denoiserFindings({ ...base, ...change }));
  assert.deepEqual(judge({}), ["reproduced", "reproduced", "reproduced"]);
  // its own loss far from the study's
  assert.deepEqual(judge({ denoiser: 0.04, standardClean: 0.038 }), [
    "not reproduced",
    "reproduced",
    "reproduced",
  ]);
  // no better than the standard model on noisy digits
  assert.deepEqual(judge({ standardNoisy: 0.03 }), ["reproduced", "not reproduced", "reproduced"]);
  // far from the standard model's clean loss
  assert.deepEqual(judge({ standardClean: 0.02 }), ["reproduced", "reproduced", "not reproduced"]);
  // a short budget, or another noise, makes the loss not comparable; diverged fails all three
  assert.equal(judge({ budget: { ...base.budget, epochs: 6 } })[0], "not comparable");
  assert.equal(judge({ corruption: { kind: "noise", std: 0.5 } })[0], "not comparable");
  // trained with a search's pick: its loss is not the study's number, the comparisons still hold
  assert.deepEqual(judge({ budget: { ...base.budget, params: PICK_TRAINING } }), [
    "not comparable",
    "reproduced",
    "reproduced",
  ]);
  assert.deepEqual(judge({ denoiser: null }), [
    "not reproduced",
    "not reproduced",
    "not reproduced",
  ]);
});

Deno.test("the search's pick is judged against the study's parameters after 150 epochs, within 3%", () => {
  const judge = (pick: number, study: number, epochs = 150, diverged = false) => {
    const findings = trainingFindings({
      hidden: 4,
      params: { ...PICK_TRAINING, epochs },
      result: result(epochs, pick, diverged),
      contender: { params: STUDY.bestParams, result: result(epochs, study) },
      trainImages: 50_000,
      testImages: 10_000,
    });
    assert.equal(findings.length, 2);
    assert.equal(findings[1].key, "search-pick");
    return findings[1];
  };
  // the full runs' numbers: the pick 6.8% worse than the study's parameters
  const full = judge(0.03063, 0.02868);
  assert.equal(full.verdict, "not reproduced");
  assert.equal(full.why, "0.03063 against 0.02868 (+6.8%)");
  assert.equal(full.measured, "the search's pick: 0.03063");
  assert.equal(full.study, "the study's parameters: 0.02868");
  assert.equal(judge(0.02950, 0.02868).verdict, "reproduced"); // +2.9%
  assert.equal(judge(0.02955, 0.02868).verdict, "not reproduced"); // +3.0…%
  assert.equal(judge(0.02800, 0.02868).why, "0.02800 against 0.02868 (−2.4%)");
  assert.equal(judge(0.02800, 0.02868).verdict, "reproduced");
  const short = judge(0.028, 0.029, 20);
  assert.equal(short.verdict, "not comparable");
  assert.match(short.why, /^trained 20 of the study's 150 epochs .*; 0\.02800 against 0\.02900/);
  assert.equal(judge(0.028, 0.029, 150, true).verdict, "not reproduced");
  // without a contender (the study's own parameters trained), no such finding
  const alone = trainingFindings({
    hidden: 4,
    params: STUDY_TRAINING,
    result: result(150, 0.03),
    ...FULL_IMAGES,
  });
  assert.deepEqual(alone.map((f) => f.key), [undefined]);
});

Deno.test("the d = 4 row judges the study's parameters trained beside a search's pick, not the pick", () => {
  const beside = (pick: number, study: number, contender = true) =>
    trainingFindings({
      hidden: 4,
      params: PICK_TRAINING,
      result: result(150, pick),
      contender: contender ? { params: STUDY.bestParams, result: result(150, study) } : undefined,
      ...FULL_IMAGES,
    })[0];
  // the full profile's run of 2026-12-05: the pick 10.2% below the study's number, its parameters 4.6%
  const row = beside(0.02689, 0.02857);
  assert.equal(
    row.finding,
    "test loss of the d = 4 model with the study's parameters after 150 epochs",
  );
  assert.deepEqual([row.measured, row.verdict], ["0.02857", "reproduced"]);
  assert.equal(beside(0.02689, 0.034).verdict, "not reproduced");
  // the pick alone, without the study's parameters beside it, is not the study's number
  const alone = beside(0.02689, 0.02857, false);
  assert.deepEqual([alone.measured, alone.verdict], ["0.02689", "not comparable"]);
  assert.match(
    alone.why,
    /^trained with dropout 0\.0647, lr 9\.68e-4, L2 1\.00e-5, not the study's/,
  );
});

Deno.test("the study's parameters train beside a search's pick only: not beside flags, nor themselves", () => {
  const pick = { dropout: 0.0002, lr: 1.81e-2, l2: 2.25e-5, epochs: 150, batchSize: 256 };
  const from = (source: string, params = pick) => contenderParams({ ...params, source });
  assert.deepEqual(from("results/search/best_params.json"), STUDY.bestParams);
  assert.equal(from("flags"), undefined);
  assert.equal(from(STUDY_PARAMS_SOURCE, { ...pick, lr: 1e-3 }), undefined);
  assert.equal(
    from("results/search/best_params.json", { ...pick, ...STUDY.bestParams }),
    undefined,
  );
});

/** A search's pick, as a training took it. */
const PICK_TRAINING = {
  dropout: 0.0647,
  lr: 9.68e-4,
  l2: 1.0e-5,
  epochs: 150,
  batchSize: 256,
  source: "results/search/best_params.json",
};

/** The images of the study's budget, as a training's findings take them. */
const FULL_IMAGES = { trainImages: 50_000, testImages: 10_000 };

Deno.test("the search states its pick pending; train's settled row replaces it, else it says to run train again", async () => {
  const root = await Deno.makeTempDir();
  try {
    const pick: TrialRecord = {
      index: 3,
      params: { dropout: 0.0002, lr: 1.81e-2, l2: 2.25e-5, hidden: 4 },
      rung: 3,
      epochs: 27,
      validationLoss: 0.03,
      foldLosses: [0.03],
      diverged: false,
    };
    await publishSection(join(root, "search"), {
      title: "Search",
      items: [],
      findings: searchFindings(pick),
    });
    // a train step made before the contender: the row says it is missing
    await publishSection(join(root, "train"), {
      title: "Training",
      items: [],
      findings: trainingFindings({
        hidden: 4,
        params: PICK_TRAINING,
        result: result(150, 0.0306),
        ...FULL_IMAGES,
      }),
    });
    const rows = async () =>
      (await Deno.readTextFile(await writeReport(root))).split("\n").filter((line) =>
        line.startsWith("| the search's pick against the study's parameters after 150 epochs |")
      );
    const before = await rows();
    assert.equal(before.length, 1);
    assert.match(before[0], /\*\*not comparable\*\*: the contender is missing: run train again/);
    assert.match(before[0], /dropout 0\.0002, lr 1\.81e-2, L2 2\.25e-5/);
    // train again: its settled row replaces the pending one
    await publishSection(join(root, "train"), {
      title: "Training",
      items: [],
      findings: trainingFindings({
        hidden: 4,
        params: PICK_TRAINING,
        result: result(150, 0.03063),
        contender: { params: STUDY.bestParams, result: result(150, 0.02868) },
        ...FULL_IMAGES,
      }),
    });
    const after = await rows();
    assert.equal(after.length, 1);
    assert.match(after[0], /\*\*not reproduced\*\*: 0\.03063 against 0\.02868 \(\+6\.8%\)/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the report opens with one reproduction table of every section's findings", async () => {
  const root = await Deno.makeTempDir();
  try {
    const finding = (name: string, verdict: Finding["verdict"]): Finding => ({
      finding: name,
      study: "1",
      measured: "2",
      criterion: "c",
      verdict,
      why: "because",
    });
    await publishSection(join(root, "sweep"), {
      title: "Hidden-layer size",
      items: [],
      findings: [finding("falls", "reproduced"), finding("exponential", "not reproduced")],
    });
    await publishSection(join(root, "train"), {
      title: "Training",
      items: [{ kind: "text", text: "trained" }],
      findings: [finding("d = 4", "not comparable")],
    });
    const report = await Deno.readTextFile(await writeReport(root));
    const headings = report.match(/^## .*/gm);
    assert.deepEqual(headings, [
      "## Reproduction of the study",
      "## Training",
      "## Hidden-layer size",
    ]);
    assert.match(report, /1 reproduced, 1 not reproduced, 1 not comparable\./);
    // in the study's order of steps: train before sweep
    assert.ok(report.indexOf("| d = 4 |") < report.indexOf("| falls |"));
    assert.match(report, /\| exponential \| 1 \| 2 \| c \| \*\*not reproduced\*\*: because \|/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a step's broken section is named in its place; the other steps' report is written", async () => {
  const root = await Deno.makeTempDir();
  try {
    await publishSection(join(root, "train"), {
      title: "Training",
      items: [{ kind: "text", text: "trained" }],
    });
    for (const [step, text] of [["sweep", '{"title": "Hidden'], ["morph", "{}"]]) {
      await Deno.mkdir(join(root, step));
      await Deno.writeTextFile(join(root, step, "report.json"), text);
    }
    // a step that publishes beside them still writes its files and the report
    await publishSection(join(root, "corrupt"), { title: "Corrupted inputs", items: [] });
    const report = await Deno.readTextFile(join(root, "REPORT.md"));
    assert.deepEqual(report.match(/^## .*/gm), [
      "## Training",
      "## sweep",
      "## Corrupted inputs",
      "## morph",
    ]);
    assert.match(
      report,
      /sweep\/report\.json: unreadable report section \(.*JSON.*\); run the sweep step again/,
    );
    assert.match(
      report,
      /morph\/report\.json: unreadable report section \(not a section: no title or items\)/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
