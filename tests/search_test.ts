import assert from "node:assert/strict";
import {
  generateParams,
  kFoldSplits,
  LR_RANGE,
  rankTrials,
  TrialLog,
  type TrialRecord,
} from "../lib/search.ts";

Deno.test("the generator draws each parameter in the seed's ranges, reproducibly", () => {
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
  const seed = generateParams(200, 42, 4);
  const narrow = generateParams(200, 42, 4, [1e-3, 1e-2]);
  narrow.forEach((p, i) => {
    assert.ok(p.lr >= 1e-3 && p.lr <= 1e-2, `${p.lr}`);
    assert.equal(p.dropout, seed[i].dropout);
    assert.equal(p.l2, seed[i].l2);
  });
  assert.deepEqual(generateParams(20, 42, 4, LR_RANGE), seed.slice(0, 20));
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

function trial(index: number, validationLoss: number | null): TrialRecord {
  return {
    index,
    params: { dropout: 0, lr: 1e-3, l2: 1e-5, hidden: 4 },
    validationLoss,
    foldLosses: [validationLoss],
    diverged: validationLoss === null,
    seconds: 1,
  };
}

Deno.test("a reopened trial log keeps every finished trial and refuses other settings", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/trials.json`;
  const log = await TrialLog.open(path, { seed: 1 });
  await log.record(trial(0, 0.05));
  await log.record(trial(2, null));
  const reopened = await TrialLog.open(path, { seed: 1 });
  assert.deepEqual(reopened.trials.map((t) => t.index), [0, 2]);
  assert.ok(reopened.has(2) && !reopened.has(1));
  await assert.rejects(() => TrialLog.open(path, { seed: 2 }), /other settings/);
  assert.equal((await TrialLog.open(path, { seed: 2 }, true)).trials.length, 0);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["trials.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a fresh log empties its file at once, whatever the settings before", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sizes.json`;
  const log = await TrialLog.open<{ index: number; loss: number }>(path, { epochs: 1 });
  await log.record({ index: 4, loss: 0.03 });
  await TrialLog.open(path, { epochs: 2 }, true);
  const reopened = await TrialLog.open<{ index: number; loss: number }>(path, { epochs: 2 });
  assert.equal(reopened.trials.length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ranking puts the lowest validation loss first and diverged trials last", () => {
  const ranked = rankTrials([trial(0, 0.04), trial(1, null), trial(2, 0.03)]);
  assert.deepEqual(ranked.map((t) => t.index), [2, 0, 1]);
});
