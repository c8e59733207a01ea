import type { Detector } from './detector.js';
import type { FeatureMatrix } from './types.js';

/** Sorted training columns, column-major d x n: the empirical CDFs the scores are read from. */
export interface EcdfState {
  sortedColumns: Float64Array;
  n: number;
}

/**
 * PyOD ECOD and COPOD. Both score a row by summing per feature the tail probabilities
 * −log F(x) (left) and −log(1 − F(x⁻)) (right), picking the tail by the sign of the column's skewness,
 * and taking max(skew-picked tail, mean of both tails) per feature — the formula of PyOD's current
 * ecod.py and copod.py. As in PyOD, new rows are scored against the ECDF of the training rows *plus*
 * the rows being scored (`np.concatenate((self.X_train, X))`), so a score depends on its batch.
 */
function ecdfDetector(name: 'ECOD' | 'COPOD'): Detector<Record<string, never>, EcdfState> {
  return {
    name,
    readParams(r) {
      r.checkKnown(['contamination', 'n_jobs']);
      r.contamination();
      return {};
    },
    fit(X) {
      if (X.n < 1) {
        throw new Error(`${name}: no training rows`);
      }
      const sortedColumns = new Float64Array(X.n * X.d);
      for (let j = 0; j < X.d; j++) {
        const column = sortedColumns.subarray(j * X.n, (j + 1) * X.n);
        for (let i = 0; i < X.n; i++) {
          column[i] = X.data[i * X.d + j]!;
        }
        column.sort();
      }
      const state: EcdfState = { sortedColumns, n: X.n };
      return { state, trainScores: tailScores(state, X, false) };
    },
    decision(state, X) {
      return tailScores(state, X, true);
    },
  };
}

export const ecodDetector = ecdfDetector('ECOD');
export const copodDetector = ecdfDetector('COPOD');

function tailScores(state: EcdfState, X: FeatureMatrix, withBatch: boolean): Float64Array {
  const { n: m, d, data } = X;
  const n = state.n;
  const total = withBatch ? n + m : n;
  const scores = new Float64Array(m);
  const batch = new Float64Array(m);
  for (let j = 0; j < d; j++) {
    const train = state.sortedColumns.subarray(j * n, (j + 1) * n);
    for (let i = 0; i < m; i++) {
      batch[i] = data[i * d + j]!;
    }
    const batchSorted = withBatch ? batch.slice().sort() : new Float64Array(0);
    const sign = Math.sign(skewness(train, withBatch ? batch : new Float64Array(0)));
    for (let i = 0; i < m; i++) {
      const x = batch[i]!;
      const atMost = upperBound(train, x) + upperBound(batchSorted, x);
      const atLeast = n - lowerBound(train, x) + batchSorted.length - lowerBound(batchSorted, x);
      const left = -Math.log(atMost / total);
      const right = -Math.log(atLeast / total);
      const picked = sign < 0 ? left : sign > 0 ? right : left + right;
      scores[i]! += Math.max(picked, (left + right) / 2);
    }
  }
  return scores;
}

/** scipy.stats.skew (biased) of the two arrays together; 0 where scipy returns NaN (constant column). */
function skewness(a: Float64Array, b: Float64Array): number {
  const count = a.length + b.length;
  let sum = 0;
  for (const v of a) {
    sum += v;
  }
  for (const v of b) {
    sum += v;
  }
  const mean = sum / count;
  let m2 = 0;
  let m3 = 0;
  for (const arr of [a, b]) {
    for (const v of arr) {
      const dev = v - mean;
      m2 += dev * dev;
      m3 += dev * dev * dev;
    }
  }
  m2 /= count;
  m3 /= count;
  if (m2 <= (1e-15 * mean) ** 2) {
    return 0;
  }
  return m3 / m2 ** 1.5;
}

/** Number of entries <= x in an ascending array. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/** Number of entries < x in an ascending array. */
function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
