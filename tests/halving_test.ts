import assert from "node:assert/strict";
import { halvingRungs, type Rung, successiveHalving } from "../lib/train/halving.ts";

/** Rungs as `candidates@epochs`, e.g. `30@1 10@3 3@9 1@27`. */
function describeRungs(rungs: readonly Rung[]): string {
  return rungs.map((rung) => `${rung.candidates}@${rung.epochs}`).join(" ");
}

/**
 * A stand-in for training: each candidate keeps the epochs it has trained, goes on from there to
 * the epochs asked for, and scores `quality[c] / epochs` (null for one that `diverges` by then).
 * Records every call.
 */
function fakeTraining(
  quality: readonly number[],
  diverges: (c: number, epochs: number) => boolean,
) {
  const trained = quality.map(() => 0);
  const calls: { candidates: number[]; epochs: number; from: number[] }[] = [];
  const train = (candidates: number[], epochs: number) => {
    calls.push({ candidates: [...candidates], epochs, from: candidates.map((c) => trained[c]) });
    for (const c of candidates) {
      assert.ok(epochs > trained[c], `candidate ${c} asked for ${epochs} after ${trained[c]}`);
      trained[c] = epochs;
    }
    return Promise.resolve(candidates.map((c) => diverges(c, epochs) ? null : quality[c] / epochs));
  };
  return { train, calls, trained };
}

/** Nine candidates; candidate c scores QUALITY[c] / epochs, so every rung ranks them alike. */
const QUALITY = [0.9, 0.2, 0.5, 0.1, 0.7, 0.3, 0.8, 0.4, 0.6];

Deno.test("the rungs grow by η in epochs and shrink by η in candidates, down to one at the budget", () => {
  assert.equal(describeRungs(halvingRungs(30, 27, 3)), "30@1 10@3 3@9 1@27");
  assert.equal(describeRungs(halvingRungs(4, 4, 2)), "4@1 2@2 1@4");
  // ⌊n/η⌋ go on: 10 → 3 → 1; epochs are the budget over powers of η, rounded
  assert.equal(describeRungs(halvingRungs(10, 20, 3)), "10@2 3@7 1@20");
  assert.equal(describeRungs(halvingRungs(1, 5, 3)), "1@5");
});

Deno.test("a first rung of at least minEpochs leaves out the rungs below it, from the top", () => {
  assert.equal(describeRungs(halvingRungs(30, 27, 3, 3)), "30@3 10@9 3@27");
  assert.equal(describeRungs(halvingRungs(30, 81, 3, 3)), "30@3 10@9 3@27 1@81");
  assert.equal(describeRungs(halvingRungs(30, 27, 3, 1)), "30@1 10@3 3@9 1@27");
  assert.equal(describeRungs(halvingRungs(30, 27, 3, 10)), "30@27");
  assert.throws(() => halvingRungs(30, 27, 3, 28), {
    name: "RangeError",
    message: "the first rung's 28 epochs exceed the 27 of the last",
  });
});

Deno.test("a budget too small for the rungs is a RangeError that says how many epochs would do", () => {
  assert.throws(() => halvingRungs(30, 10, 3), (error: Error) => {
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /30 candidates at η = 3 need 4 rungs/);
    assert.match(error.message, /10 epochs cannot give/);
    assert.match(error.message, /give at least 14 epochs/);
    return true;
  });
  // the budget it names is the least that will do
  assert.equal(describeRungs(halvingRungs(30, 14, 3)), "30@1 10@2 3@5 1@14");
  assert.throws(() => halvingRungs(30, 13, 3), /at least 14 epochs/);
  assert.throws(() => halvingRungs(8, 5, 2), /need 4 rungs.*at least 6 epochs/);
  assert.doesNotThrow(() => halvingRungs(8, 8, 2));
});

Deno.test("η below 2 and a count of candidates that is not a positive integer are refused", () => {
  for (const eta of [1, 1.5, 0, -3, NaN]) {
    assert.throws(() => halvingRungs(30, 27, eta), /η must be at least 2/, `η = ${eta}`);
  }
  for (const candidates of [0, -1, 2.5]) {
    assert.throws(() => halvingRungs(candidates, 27, 3), RangeError, `${candidates} candidates`);
  }
});

Deno.test("successive halving keeps the best ⌊n/η⌋ of each rung, trained on to the rung's epochs", async () => {
  const { train, calls, trained } = fakeTraining(QUALITY, () => false);
  const outcomes = await successiveHalving(halvingRungs(9, 9, 3), train);
  assert.deepEqual(calls.map(({ epochs }) => epochs), [1, 3, 9]);
  assert.deepEqual(calls.map(({ candidates }) => candidates.length), [9, 3, 1]);
  // the best three (0.1, 0.2, 0.3), best first; then the best of those
  assert.deepEqual(calls[1].candidates, [3, 1, 5]);
  assert.deepEqual(calls[2].candidates, [3]);
  // those that go on continue from the epochs they had trained, never from scratch
  assert.deepEqual(calls[1].from, [1, 1, 1]);
  assert.deepEqual(calls[2].from, [3]);
  assert.deepEqual(trained, [1, 3, 1, 9, 1, 3, 1, 1, 1]);
  // each candidate's outcome is its last rung, with the cumulative epochs and its score there
  assert.deepEqual(outcomes[3], { rung: 2, epochs: 9, score: 0.1 / 9 });
  assert.deepEqual(outcomes[5], { rung: 1, epochs: 3, score: 0.3 / 3 });
  assert.deepEqual(outcomes[0], { rung: 0, epochs: 1, score: 0.9 });
  assert.deepEqual(outcomes.map(({ rung }) => rung), [0, 1, 0, 2, 0, 1, 0, 0, 0]);
});

Deno.test("an extra candidate rides along while it scores as well as those that go on, taking no place", async () => {
  // the extra (index 9) between the best and the second: it goes on once, then stops
  const middling = fakeTraining([...QUALITY, 0.15], () => false);
  const outcomes = await successiveHalving(halvingRungs(9, 9, 3), middling.train, 1);
  assert.deepEqual(middling.calls.map(({ candidates }) => candidates), [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [3, 1, 5, 9],
    [3],
  ]);
  assert.deepEqual(outcomes[9], { rung: 1, epochs: 3, score: 0.15 / 3 });
  // the best of all reaches the last rung beside the drawn survivor, which it does not displace
  const best = fakeTraining([...QUALITY, 0.05], () => false);
  const bestOutcomes = await successiveHalving(halvingRungs(9, 9, 3), best.train, 1);
  assert.deepEqual(best.calls.map(({ candidates }) => candidates), [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [3, 1, 5, 9],
    [3, 9],
  ]);
  assert.equal(bestOutcomes[3].rung, 2);
  assert.deepEqual(bestOutcomes[9], { rung: 2, epochs: 9, score: 0.05 / 9 });
});

Deno.test("a candidate that diverges drops out at once, however good its score before", async () => {
  // the best candidate diverges in the second rung, another in the first
  const { train, calls } = fakeTraining(
    QUALITY,
    (c, epochs) => (c === 3 && epochs === 3) || c === 1,
  );
  const outcomes = await successiveHalving(halvingRungs(9, 9, 3), train);
  // candidate 1 (null at rung 0) never goes on; 5, 7, 2 are the best three left
  assert.deepEqual(calls[1].candidates, [3, 5, 7]);
  assert.deepEqual(outcomes[1], { rung: 0, epochs: 1, score: null });
  assert.deepEqual(outcomes[3], { rung: 1, epochs: 3, score: null });
  assert.deepEqual(calls[2].candidates, [5]);
  assert.equal(outcomes[5].rung, 2);
});

Deno.test("when every candidate diverges, halving stops after that rung", async () => {
  const { train, calls } = fakeTraining([0.1, 0.2, 0.3, 0.4], () => true);
  const outcomes = await successiveHalving(halvingRungs(4, 4, 2), train);
  assert.equal(calls.length, 1);
  assert.deepEqual(outcomes.map(({ rung, score }) => [rung, score]), [
    [0, null],
    [0, null],
    [0, null],
    [0, null],
  ]);
});
