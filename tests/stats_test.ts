import assert from "node:assert/strict";
import { fitExponential } from "../lib/stats.ts";

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
