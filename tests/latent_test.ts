import assert from "node:assert/strict";
import {
  classCentroids,
  codeAt,
  interpolate,
  latentPlane,
  planeCoordinates,
  principalComponents,
  projectTo2d,
} from "../lib/latent.ts";
import { createRng, normal } from "../lib/random.ts";

Deno.test("class centroids are the mean code of each digit", () => {
  const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 10);
  const codes = Float32Array.from(
    { length: 80 },
    (_, i) => labels[Math.floor(i / 2)] + (i % 2) * 10,
  );
  const centroids = classCentroids({ codes, labels, hidden: 2 });
  assert.equal(centroids.length, 10);
  centroids.forEach((centroid, digit) =>
    assert.deepEqual(centroid, Float32Array.of(digit, digit + 10))
  );
  assert.throws(() => classCentroids({ codes, labels: labels.map(() => 3), hidden: 2 }), /digit 0/);
});

Deno.test("interpolation runs on a straight line, ends included", () => {
  const steps = interpolate(Float32Array.of(0, 4, -2), Float32Array.of(1, 0, 2), 5);
  assert.equal(steps.length, 5);
  assert.deepEqual(steps[0], Float32Array.of(0, 4, -2));
  assert.deepEqual(steps[4], Float32Array.of(1, 0, 2));
  assert.deepEqual(steps[2], Float32Array.of(0.5, 2, 0));
  assert.throws(() => interpolate(Float32Array.of(0), Float32Array.of(1), 1), /steps/);
});

Deno.test("principal components recover the axes of a known spread", () => {
  const rng = createRng(3);
  const count = 4000;
  const codes = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) {
    const [major, minor, tiny] = [3 * normal(rng), normal(rng), 0.1 * normal(rng)];
    codes.set([major + minor + 5, major - minor, tiny], i * 3);
  }
  const { axes, variances, mean } = principalComponents({
    codes,
    labels: new Uint8Array(count),
    hidden: 3,
  });
  assert.ok(Math.abs(mean[0] - 5) < 0.2);
  assert.ok(Math.abs(variances[0] - 18) < 1.5 && Math.abs(variances[1] - 2) < 0.2, `${variances}`);
  assert.ok(Math.abs(Math.abs(axes[0][0]) - Math.SQRT1_2) < 0.01);
  assert.ok(Math.abs(Math.abs(axes[1][1]) - Math.SQRT1_2) < 0.01);
  assert.ok(Math.abs(Math.abs(axes[2][2]) - 1) < 0.01);
  const { x, y } = projectTo2d({ codes, labels: new Uint8Array(count), hidden: 3 });
  const spread = (values: Float32Array) => values.reduce((s, v) => s + v * v, 0) / values.length;
  assert.ok(spread(x) > 8 * spread(y));
});

Deno.test("codes of size 1 and 2 are mapped as they are", () => {
  const labels = new Uint8Array(2);
  assert.deepEqual(projectTo2d({ codes: Float32Array.of(1, 2, 3, 4), labels, hidden: 2 }), {
    x: Float32Array.of(1, 3),
    y: Float32Array.of(2, 4),
  });
  assert.deepEqual(
    projectTo2d({ codes: Float32Array.of(1, 2), labels, hidden: 1 }).y,
    new Float32Array(2),
  );
});

Deno.test("a point of the map's plane is a code that lies at that point", () => {
  const rng = createRng(5);
  const codes = Float32Array.from({ length: 600 * 5 }, () => normal(rng));
  const encoded = { codes, labels: new Uint8Array(600), hidden: 5 };
  const plane = latentPlane(encoded);
  const [x, y] = planeCoordinates(plane, codeAt(plane, 1.5, -2));
  assert.ok(Math.abs(x - 1.5) < 1e-5 && Math.abs(y + 2) < 1e-5, `${x}, ${y}`);
  // A code's coordinates are those projectTo2d gives it.
  const projected = projectTo2d(encoded);
  const [x7, y7] = planeCoordinates(plane, codes.subarray(7 * 5, 8 * 5));
  assert.deepEqual([Math.fround(x7), Math.fround(y7)], [projected.x[7], projected.y[7]]);
  // At d = 1 the plane's second axis is nothing: every y decodes to the same code.
  const line = latentPlane({ codes: Float32Array.of(1, 2), labels: new Uint8Array(2), hidden: 1 });
  assert.deepEqual(codeAt(line, 0.5, 3), Float32Array.of(0.5));
});
