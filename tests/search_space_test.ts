import assert from "node:assert/strict";
import {
  generateParams,
  kFoldSplits,
  LR_RANGE,
  rankTrials,
  type TrialRecord,
} from "../lib/search_space.ts";

Deno.test("the generator draws each parameter in the study's ranges, reproducibly", () => {
  const params = generateParams(500, 42, 4);
  assert.deepEqual(params, generateParams(500, 42, 4));
  assert.notDeepEqual(params, generateParams(500, 43, 4));
  for (const p of params) {
    assert.ok(p.dropout >= 0 && p.dropout <= 0.5);
    assert.ok(p.lr >= 1e-4 && p.lr <= 1e-1);
    assert.ok(p.l2 >= 1e-6 && p.l2 <= 1e-2);
    assert.equal(p.hidden, 4);
  }
  // log-uniform: about half of the learning rates lie below the geometric middle 10^-2.5
  const below = params.filter((p) => p.lr < 10 ** -2.5).length;
  assert.ok(below > 200 && below < 300, `${below}`);
});

Deno.test("a learning-rate range moves only the learning rates", () => {
  const study = generateParams(200, 42, 4);
  const narrow = generateParams(200, 42, 4, [1e-3, 1e-2]);
  narrow.forEach((p, i) => {
    assert.ok(p.lr >= 1e-3 && p.lr <= 1e-2, `${p.lr}`);
    assert.equal(p.dropout, study[i].dropout);
    assert.equal(p.l2, study[i].l2);
  });
  assert.deepEqual(generateParams(20, 42, 4, LR_RANGE), study.slice(0, 20));
  assert.throws(() => generateParams(1, 42, 4, [1e-2, 1e-3]), /lr range/);
  assert.throws(() => generateParams(1, 42, 4, [0, 1e-3]), /lr range/);
});

Deno.test("k folds partition the samples, each sample validated exactly once", () => {
  const splits = kFoldSplits(103, 5, 1);
  const seen = new Array(103).fill(0);
  for (const { train, validation } of splits) {
    assert.equal(train.length + validation.length, 103);
    validation.forEach((i) => seen[i]++);
    const inTrain = new Set(train);
    validation.forEach((i) => assert.ok(!inTrain.has(i)));
  }
  assert.ok(seen.every((count) => count === 1));
  assert.throws(() => kFoldSplits(10, 1, 1), /folds/);
});

/** A trial stopped at `rung` with `validationLoss` there (null: diverged). */
function trial(index: number, validationLoss: number | null, rung = 0): TrialRecord {
  return {
    index,
    params: { dropout: 0, lr: 1e-3, l2: 1e-5, hidden: 4 },
    rung,
    epochs: 3 ** rung,
    validationLoss,
    foldLosses: [validationLoss],
    diverged: validationLoss === null,
  };
}

Deno.test("ranking puts the lowest validation loss first and diverged trials last", () => {
  const ranked = rankTrials([trial(0, 0.04), trial(1, null), trial(2, 0.03), trial(3, 0.03)]);
  assert.deepEqual(ranked.map((t) => t.index), [2, 3, 0, 1]);
});

Deno.test("a trial that reached a later rung ranks above any stopped earlier, diverged ones last", () => {
  const trials = [
    trial(0, 0.02, 0),
    trial(1, 0.05, 2),
    trial(2, null, 2),
    trial(3, 0.04, 1),
    trial(4, 0.03, 2),
    trial(5, 0.01, 1),
  ];
  assert.deepEqual(rankTrials(trials).map((t) => t.index), [4, 1, 5, 3, 0, 2]);
  // ranked apart from the input, which keeps its order
  assert.deepEqual(trials.map((t) => t.index), [0, 1, 2, 3, 4, 5]);
});
