import assert from "node:assert/strict";
import {
  describeRuns,
  pathSmoothness,
  randomPairs,
  roughestPath,
  summarizeSmoothness,
} from "../lib/experiments/morph.ts";

/** A path of frames filled with `levels`, read as `readings`. */
function path(levels: number[], readings: number[]) {
  return {
    frames: levels.map((level) => new Float32Array(784).fill(level)),
    readings: Uint8Array.from(readings),
  };
}

Deno.test("an even path's largest step is an even share of the way; a jump's is all of it", () => {
  const even = pathSmoothness(path([0, 0.25, 0.5, 0.75, 1], [1, 1, 1, 1, 1]));
  assert.ok(Math.abs(even.largestStep! - 1 / 4) < 1e-6, `${even.largestStep}`);
  assert.deepEqual([even.readingChanges, even.returns], [0, 0]);
  const jump = pathSmoothness(path([0, 0, 1, 1, 1], [1, 1, 7, 7, 7]));
  assert.equal(jump.largestStep, 1);
  assert.deepEqual([jump.readingChanges, jump.returns], [1, 0]);
  // a path that goes past its end and comes back steps further than the distance between its ends
  const overshoot = pathSmoothness(path([0, 1, 0.5], [2, 3, 2]));
  assert.equal(overshoot.largestStep, 2);
  assert.deepEqual([overshoot.readingChanges, overshoot.returns], [2, 1]);
  // ends that decode alike: no step at all is 0, a step between them has no share of a way
  assert.equal(pathSmoothness(path([0.5, 0.5], [4, 4])).largestStep, 0);
  assert.equal(pathSmoothness(path([0.5, 0.7, 0.5], [4, 4, 4])).largestStep, null);
});

Deno.test("readings that go back and forth count every change and every return", () => {
  const { readingChanges, returns } = pathSmoothness(
    path([0, 0.2, 0.4, 0.6, 0.8, 1], [2, 8, 2, 8, 0, 0]),
  );
  assert.deepEqual([readingChanges, returns], [4, 2]);
  assert.equal(
    describeRuns(Uint8Array.of(2, 8, 2, 8, 0, 0)),
    "2 (frames 1), 8 (2), 2 (3), 8 (4), 0 (5–6)",
  );
});

Deno.test("random pairs are seeded and never use a digit twice", () => {
  const pairs = randomPairs(50, 25, 3);
  assert.deepEqual(pairs, randomPairs(50, 25, 3));
  assert.notDeepEqual(pairs, randomPairs(50, 25, 4));
  assert.equal(new Set(pairs.flat()).size, 50);
  assert.throws(() => randomPairs(50, 26, 3), /26 pairs need 52 of the 50 items/);
});

Deno.test("the distribution of smoothness, and the roughest path", () => {
  const paths = [
    { largestStep: 0.2, readingChanges: 1, returns: 0 },
    { largestStep: 0.9, readingChanges: 1, returns: 0 },
    { largestStep: 0.9, readingChanges: 3, returns: 1 },
    { largestStep: 0.1, readingChanges: 0, returns: 0 },
  ];
  const summary = summarizeSmoothness(paths, 11);
  assert.equal(summary.evenStep, 0.1);
  assert.deepEqual(summary.largestStep, { min: 0.1, median: 0.9, p90: 0.9, max: 0.9 });
  assert.deepEqual(summary.readingChanges, [1, 2, 0, 1]);
  assert.equal(summary.backAndForth, 1);
  assert.equal(roughestPath(paths), 2);
  assert.equal(roughestPath([...paths, { largestStep: null, readingChanges: 0, returns: 0 }]), 4);
});
