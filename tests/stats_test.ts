import assert from "node:assert/strict";
import { fitExponential, spearman } from "../lib/stats.ts";

Deno.test("an exact exponential is recovered: rate, scale, factor per unit, r² = 1", () => {
  const x = [1, 2, 3, 5, 8];
  const fit = fitExponential(x, x.map((d) => 0.1 * Math.exp(-0.3 * d)));
  assert.ok(Math.abs(fit.rate + 0.3) < 1e-12, `${fit.rate}`);
  assert.ok(Math.abs(fit.scale - 0.1) < 1e-12, `${fit.scale}`);
  assert.ok(Math.abs(fit.factorPerUnit - Math.exp(-0.3)) < 1e-12);
  assert.ok(Math.abs(fit.r2 - 1) < 1e-12);
});

Deno.test("the fit is least squares on ln y, not on y", () => {
  // ln y = 0, 0, 3 at x = 0, 1, 2: the least-squares line of ln y is −0.5 + 1.5·x (on y it would differ)
  const fit = fitExponential([0, 1, 2], [1, 1, Math.exp(3)]);
  assert.ok(Math.abs(fit.rate - 1.5) < 1e-12, `${fit.rate}`);
  assert.ok(Math.abs(Math.log(fit.scale) + 0.5) < 1e-12, `${fit.scale}`);
  // residuals 0.5, −1, 0.5 against a total spread of ln y of 6: r² = 1 − 1.5/6
  assert.ok(Math.abs(fit.r2 - 0.75) < 1e-12, `${fit.r2}`);
});

Deno.test("a fit refuses too few points, non-positive y and a single x", () => {
  assert.throws(() => fitExponential([1], [0.1]), /2 points/);
  assert.throws(() => fitExponential([1, 2], [0.1, 0]), /y > 0/);
  assert.throws(() => fitExponential([1, 2], [0.1, NaN]), /y > 0/);
  assert.throws(() => fitExponential([3, 3], [0.1, 0.2]), /distinct/);
  assert.throws(() => fitExponential([1, 2, 3], [0.1, 0.2]), /3 x values but 2/);
});

Deno.test("Spearman's correlation is +1 or −1 for any monotone relation, not only a linear one", () => {
  const x = [1, 2, 3, 4, 5];
  assert.equal(spearman(x, x.map((v) => Math.exp(v))), 1);
  assert.equal(spearman(x, x.map((v) => -(v ** 3))), -1);
  // as the documented example: one pair out of order
  assert.ok(Math.abs(spearman([1, 2, 3, 4], [0.9, 0.5, 0.6, 0.1]) + 0.8) < 1e-12);
  // unordered input: ranks, not positions
  assert.equal(spearman([3, 1, 2], [30, 10, 20]), 1);
});

Deno.test("tied values share their mean rank in Spearman's correlation", () => {
  // ranks of y: 1.5, 1.5, 3, 4 against 1, 2, 3, 4: Pearson's r of the ranks is 4.5 / √(5 · 4.5)
  const rho = spearman([1, 2, 3, 4], [7, 7, 8, 9]);
  assert.ok(Math.abs(rho - 4.5 / Math.sqrt(5 * 4.5)) < 1e-12, `${rho}`);
  assert.ok(rho < 1);
  assert.equal(spearman([1, 1, 2, 2], [5, 5, 6, 6]), 1);
});

Deno.test("Spearman's correlation refuses constant input, too few points and unequal lengths", () => {
  assert.throws(() => spearman([1, 2, 3], [4, 4, 4]), /not all equal/);
  assert.throws(() => spearman([2, 2], [1, 3]), /not all equal/);
  assert.throws(() => spearman([1], [1]), /2 points/);
  assert.throws(() => spearman([1, 2, 3], [1, 2]), /3 x values but 2/);
});
