/**
 * Small statistics for the study's figures: an exponential curve fitted by least squares on the logarithm,
 * as the sweep's loss against hidden size is read.
 *
 * @module
 */

/** An exponential curve y = scale · e^(rate · x) and how well it fits. */
export interface ExponentialFit {
  /** The slope of ln y per unit of x (negative for a decay). */
  rate: number;
  /** y at x = 0. */
  scale: number;
  /** The factor y changes by per unit of x: e^rate. */
  factorPerUnit: number;
  /** The coefficient of determination of the fit of ln y against x (1: a perfect exponential). */
  r2: number;
}

/**
 * Fits y = scale · e^(rate · x) by least squares on ln y against x. Needs at least two points, all y > 0
 * and finite, and two distinct x.
 *
 * @example
 * ```ts
 * import { fitExponential } from "./stats.ts";
 * const fit = fitExponential([1, 2, 3], [0.08, 0.04, 0.02]);
 * console.log(fit.factorPerUnit.toFixed(2), fit.scale.toFixed(2)); // 0.50 0.16
 * ```
 */
export function fitExponential(x: ArrayLike<number>, y: ArrayLike<number>): ExponentialFit {
  if (x.length !== y.length) throw new RangeError(`${x.length} x values but ${y.length} y values`);
  if (x.length < 2) throw new RangeError(`an exponential fit needs 2 points, got ${x.length}`);
  const xs = Array.from(x);
  const logs = Array.from(y, (value) => {
    if (!(value > 0 && Number.isFinite(value))) {
      throw new RangeError(`an exponential fit needs finite y > 0, got ${value}`);
    }
    return Math.log(value);
  });
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const meanX = mean(xs);
  const meanLog = mean(logs);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  xs.forEach((value, i) => {
    sxx += (value - meanX) ** 2;
    sxy += (value - meanX) * (logs[i] - meanLog);
    syy += (logs[i] - meanLog) ** 2;
  });
  if (sxx === 0) throw new RangeError("an exponential fit needs two distinct x values");
  const rate = sxy / sxx;
  const intercept = meanLog - rate * meanX;
  return {
    rate,
    scale: Math.exp(intercept),
    factorPerUnit: Math.exp(rate),
    r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy),
  };
}

/**
 * Spearman's rank correlation of `x` and `y`: Pearson's correlation of their ranks (ties share the mean
 * rank), from −1 (y falls whenever x grows) to 1. Needs at least two points and neither constant.
 *
 * @example
 * ```ts
 * import { spearman } from "./stats.ts";
 * console.log(spearman([1, 2, 3, 4], [0.9, 0.5, 0.6, 0.1])); // -0.8
 * ```
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`${x.length} x values but ${y.length} y values`);
  if (x.length < 2) throw new RangeError(`a rank correlation needs 2 points, got ${x.length}`);
  const [rx, ry] = [ranks(x), ranks(y)];
  const mean = (x.length + 1) / 2;
  let covariance = 0;
  let varianceX = 0;
  let varianceY = 0;
  for (let i = 0; i < x.length; i++) {
    covariance += (rx[i] - mean) * (ry[i] - mean);
    varianceX += (rx[i] - mean) ** 2;
    varianceY += (ry[i] - mean) ** 2;
  }
  if (varianceX === 0 || varianceY === 0) {
    throw new RangeError("a rank correlation needs values that are not all equal");
  }
  return covariance / Math.sqrt(varianceX * varianceY);
}

/** The rank (1 for the smallest) of each value, ties sharing the mean of their ranks. */
function ranks(values: ArrayLike<number>): number[] {
  const order = Array.from(values, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const rank = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]] === values[order[start]]) end++;
    for (let k = start; k <= end; k++) rank[order[k]] = (start + end) / 2 + 1;
    start = end + 1;
  }
  return rank;
}

/**
 * The median of `values` (the mean of the middle two of an even count; NaN for none).
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 3, 2])); // 2 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
