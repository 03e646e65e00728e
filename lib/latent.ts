/**
 * The latent space as numbers: class centroids of encoded digits, straight-line interpolation between two
 * codes, and the principal components that map codes of any size to a 2-D plot and back.
 *
 * Codes are flat Float32Arrays of `count × hidden` values, as `Autoencoder.getEncRepresentation` gives.
 *
 * @module
 */

/** Encoded digits: `count × hidden` codes and the label of each. */
export interface Codes {
  codes: Float32Array;
  labels: Uint8Array;
  hidden: number;
}

/**
 * The mean code of each digit class 0–9 (a class with no sample is an error).
 *
 * @example
 * ```ts
 * import { classCentroids } from "./latent.ts";
 * const centroids = classCentroids({
 *   codes: Float32Array.of(0, 0, 2, 2, 1, 1),
 *   labels: Uint8Array.of(0, 0, 1),
 *   hidden: 2,
 * }, 2);
 * console.log(centroids[0]); // Float32Array [1, 1]
 * ```
 */
export function classCentroids(encoded: Codes, classes = 10): Float32Array[] {
  const { codes, labels, hidden } = encoded;
  const sums = Array.from({ length: classes }, () => new Float64Array(hidden));
  const counts = new Array(classes).fill(0);
  labels.forEach((label, i) => {
    counts[label]++;
    for (let k = 0; k < hidden; k++) sums[label][k] += codes[i * hidden + k];
  });
  return sums.map((sum, label) => {
    if (counts[label] === 0) throw new RangeError(`no encoded sample of digit ${label}`);
    return Float32Array.from(sum, (value) => value / counts[label]);
  });
}

/** `steps` codes evenly spaced on the straight line from `from` to `to`, both ends included. */
export function interpolate(from: Float32Array, to: Float32Array, steps: number): Float32Array[] {
  if (from.length !== to.length) throw new RangeError("codes of different sizes");
  if (!Number.isInteger(steps) || steps < 2) {
    throw new RangeError(`steps must be ≥ 2, got ${steps}`);
  }
  return Array.from({ length: steps }, (_, step) => {
    const t = step / (steps - 1);
    return from.map((value, k) => (1 - t) * value + t * to[k]);
  });
}

/** The principal axes of a set of codes and the share of variance each explains. */
export interface PrincipalComponents {
  mean: Float64Array;
  /** Unit axes, by decreasing variance. */
  axes: Float64Array[];
  /** Variance along each axis. */
  variances: number[];
}

/** The principal components of `encoded` (eigenvectors of the covariance matrix, Jacobi's method). */
export function principalComponents(encoded: Codes): PrincipalComponents {
  const { codes, hidden } = encoded;
  const count = codes.length / hidden;
  const mean = new Float64Array(hidden);
  for (let i = 0; i < count; i++) for (let k = 0; k < hidden; k++) mean[k] += codes[i * hidden + k];
  mean.forEach((sum, k) => (mean[k] = sum / count));
  const covariance = Array.from({ length: hidden }, () => new Float64Array(hidden));
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < hidden; a++) {
      const da = codes[i * hidden + a] - mean[a];
      for (let b = 0; b < hidden; b++) covariance[a][b] += da * (codes[i * hidden + b] - mean[b]);
    }
  }
  covariance.forEach((row) => row.forEach((value, b) => (row[b] = value / Math.max(1, count - 1))));
  const { values, vectors } = symmetricEigen(covariance);
  const order = values.map((_, k) => k).sort((a, b) => values[b] - values[a]);
  return {
    mean,
    axes: order.map((k) => Float64Array.from(vectors, (row) => row[k])),
    variances: order.map((k) => values[k]),
  };
}

/**
 * The plane a map of the latent space shows, in code space: a point (x, y) of the map is the code
 * `origin + x·axes[0] + y·axes[1]`, and a code lies at its projections on the axes.
 */
export interface LatentPlane {
  origin: Float64Array;
  axes: [Float64Array, Float64Array];
}

/**
 * The plane of a map of `encoded`: the codes' own axes when `hidden` ≤ 2 (a 1-D code's second axis is
 * 0), else their first two principal components through their mean.
 *
 * @example
 * ```ts
 * import { codeAt, latentPlane, planeCoordinates } from "./latent.ts";
 * const plane = latentPlane({ codes: Float32Array.of(1, 2, 3, 4), labels: new Uint8Array(2), hidden: 2 });
 * console.log(planeCoordinates(plane, [3, 4]), codeAt(plane, 5, 6)); // [ 3, 4 ] Float32Array(2) [ 5, 6 ]
 * ```
 */
export function latentPlane(encoded: Codes): LatentPlane {
  const { hidden } = encoded;
  if (hidden <= 2) {
    const unit = (axis: number) => Float64Array.from({ length: hidden }, (_, k) => +(k === axis));
    return { origin: new Float64Array(hidden), axes: [unit(0), unit(1)] };
  }
  const { mean, axes } = principalComponents(encoded);
  return { origin: mean, axes: [axes[0], axes[1]] };
}

/** Where `code` lies on `plane`: its projections on the plane's two axes. */
export function planeCoordinates(plane: LatentPlane, code: ArrayLike<number>): [number, number] {
  const [x, y] = plane.axes.map((axis) => {
    let sum = 0;
    for (let k = 0; k < axis.length; k++) sum += (code[k] - plane.origin[k]) * axis[k];
    return sum;
  });
  return [x, y];
}

/** The code at the point (x, y) of `plane`. */
export function codeAt(plane: LatentPlane, x: number, y: number): Float32Array {
  const [u, v] = plane.axes;
  return Float32Array.from(plane.origin, (origin, k) => origin + x * u[k] + y * v[k]);
}

/**
 * Two coordinates per code for a map of the latent space: where each code lies on the plane of
 * {@link latentPlane} — the codes themselves when `hidden` ≤ 2 (a 1-D code gets 0 as its second
 * coordinate), else their projections on the first two principal components.
 */
export function projectTo2d(encoded: Codes): { x: Float32Array; y: Float32Array } {
  const { codes, hidden } = encoded;
  const count = codes.length / hidden;
  const plane = latentPlane(encoded);
  const x = new Float32Array(count);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    [x[i], y[i]] = planeCoordinates(plane, codes.subarray(i * hidden, (i + 1) * hidden));
  }
  return { x, y };
}

/** Eigenvalues and eigenvectors (as columns) of a small symmetric matrix, by cyclic Jacobi rotations. */
function symmetricEigen(matrix: Float64Array[]): { values: number[]; vectors: Float64Array[] } {
  const n = matrix.length;
  const a = matrix.map((row) => Float64Array.from(row));
  const v = Array.from(
    { length: n },
    (_, i) => Float64Array.from({ length: n }, (_, j) => +(i === j)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let offDiagonal = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) offDiagonal += a[p][q] ** 2;
    if (offDiagonal < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]), vectors: v };
}
