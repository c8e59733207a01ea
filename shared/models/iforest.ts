import type { Detector } from './detector.js';
import type { ParamReader } from './params.js';
import { Random } from './random.js';
import type { FeatureMatrix } from './types.js';

export interface IForestParams {
  nEstimators: number;
  maxSamples: number | 'auto';
  randomState: number;
}

/**
 * All trees in preorder, one node per index: an inner node's left child is the next index.
 * For a leaf, `feature` is -1 and `value` holds its path length (depth + c(leaf size)).
 */
export interface IForestState {
  roots: Int32Array;
  feature: Int32Array;
  value: Float64Array;
  right: Int32Array;
  /** Subsample size per tree: c(maxSamples) normalises the mean path length. */
  maxSamples: number;
}

const EULER_GAMMA = 0.5772156649015329;
/** sklearn's FEATURE_THRESHOLD: a feature spanning less than this in a node counts as constant. */
const FEATURE_THRESHOLD = 1e-7;

/** Average path length of an unsuccessful BST search among n points (sklearn's _average_path_length). */
export function averagePathLength(n: number): number {
  if (n <= 1) {
    return 0;
  }
  if (n === 2) {
    return 1;
  }
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/**
 * PyOD IForest (sklearn IsolationForest: random feature, uniform threshold, depth limit
 * ceil(log2(max_samples))). Raw score = 2^(−E[h(x)] / c(max_samples)) = −score_samples; PyOD also
 * subtracts a constant offset, which the 0-1 min-max scaling cancels, so it is left out.
 */
export const iforestDetector: Detector<IForestParams, IForestState> = {
  name: 'IForest',
  readParams(r) {
    r.checkKnown(['n_estimators', 'max_samples', 'contamination', 'max_features', 'bootstrap', 'n_jobs', 'behaviour', 'random_state', 'verbose']);
    r.contamination();
    r.oneOf('max_features', 1.0, [1, 1.0]);
    r.oneOf('bootstrap', false, [false]);
    return {
      nEstimators: r.integer('n_estimators', 100, 1),
      maxSamples: readMaxSamples(r),
      randomState: r.integer('random_state', 42, 0),
    };
  },
  fit(X, p) {
    if (X.n < 1) {
      throw new Error('IForest: no training rows');
    }
    const sampleSize = p.maxSamples === 'auto' ? Math.min(256, X.n) : Math.min(p.maxSamples, X.n);
    const state = growForest(X, p.nEstimators, sampleSize, new Random(p.randomState));
    return { state, trainScores: anomalyScores(state, X) };
  },
  decision(state, X) {
    return anomalyScores(state, X);
  },
};

/** 'auto' (min(256, n)) or a row count (capped at n at fit, as sklearn does with a warning). */
function readMaxSamples(r: ParamReader): number | 'auto' {
  const value = r.raw('max_samples');
  if (value === undefined || value === null || value === 'auto') {
    return 'auto';
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) {
    return value;
  }
  r.problems.push(`IForest: max_samples must be 'auto' or an integer >= 1, got ${JSON.stringify(value)}`);
  return 'auto';
}

function growForest(X: FeatureMatrix, trees: number, sampleSize: number, random: Random): IForestState {
  const { n, d, data } = X;
  const maxDepth = Math.ceil(Math.log2(Math.max(sampleSize, 2)));
  const capacity = trees * (2 * sampleSize - 1);
  const feature = new Int32Array(capacity);
  const value = new Float64Array(capacity);
  const right = new Int32Array(capacity);
  const roots = new Int32Array(trees);
  const rows = new Int32Array(n);
  const candidates = new Int32Array(d);
  let count = 0;

  const grow = (lo: number, hi: number, depth: number): void => {
    const node = count++;
    const size = hi - lo;
    feature[node] = -1;
    value[node] = depth + averagePathLength(size);
    if (size <= 1 || depth >= maxDepth) {
      return;
    }
    // Draw features without replacement until one is not constant in this node.
    for (let j = 0; j < d; j++) {
      candidates[j] = j;
    }
    for (let left = d; left > 0; left--) {
      const pick = random.below(left);
      const f = candidates[pick]!;
      candidates[pick] = candidates[left - 1]!;
      let min = Infinity;
      let max = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = data[rows[i]! * d + f]!;
        if (v < min) {
          min = v;
        }
        if (v > max) {
          max = v;
        }
      }
      if (max <= min + FEATURE_THRESHOLD) {
        continue;
      }
      let threshold = min + random.next() * (max - min);
      if (threshold >= max) {
        threshold = min;
      }
      let split = lo;
      for (let i = lo; i < hi; i++) {
        if (data[rows[i]! * d + f]! <= threshold) {
          const tmp = rows[i]!;
          rows[i] = rows[split]!;
          rows[split++] = tmp;
        }
      }
      feature[node] = f;
      value[node] = threshold;
      grow(lo, split, depth + 1);
      right[node] = count;
      grow(split, hi, depth + 1);
      return;
    }
  };

  for (let t = 0; t < trees; t++) {
    // Subsample without replacement: a partial Fisher-Yates shuffle.
    for (let i = 0; i < n; i++) {
      rows[i] = i;
    }
    for (let i = 0; i < sampleSize; i++) {
      const j = i + random.below(n - i);
      const tmp = rows[i]!;
      rows[i] = rows[j]!;
      rows[j] = tmp;
    }
    roots[t] = count;
    grow(0, sampleSize, 0);
  }
  return {
    roots,
    feature: feature.slice(0, count),
    value: value.slice(0, count),
    right: right.slice(0, count),
    maxSamples: sampleSize,
  };
}

function anomalyScores(state: IForestState, X: FeatureMatrix): Float64Array {
  const { n, d, data } = X;
  const { roots, feature, value, right } = state;
  const norm = roots.length * averagePathLength(state.maxSamples);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        node = data[i * d + f]! <= value[node]! ? node + 1 : right[node]!;
        f = feature[node]!;
      }
      total += value[node]!;
    }
    scores[i] = norm > 0 ? Math.pow(2, -total / norm) : 0.5;
  }
  return scores;
}
