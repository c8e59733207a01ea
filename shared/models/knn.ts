import type { Detector } from './detector.js';
import { kNearest, kNearestOthers, partition } from './neighbors.js';

export type KnnMethod = 'largest' | 'mean' | 'median';

export interface KnnParams {
  nNeighbors: number;
  method: KnnMethod;
}

export interface KnnState {
  /** Training rows, row-major n x d, in any order (only their distances matter; fit stores them in tree order). */
  train: Float64Array;
  n: number;
}

/** PyOD KNN: distance to the k-th nearest training row ('largest'), or the mean/median of the k distances. */
export const knnDetector: Detector<KnnParams, KnnState> = {
  name: 'KNN',
  readParams(r) {
    r.checkKnown(['n_neighbors', 'method', 'contamination', 'radius', 'algorithm', 'leaf_size', 'metric', 'p', 'metric_params', 'n_jobs']);
    r.contamination();
    r.oneOf('metric', 'minkowski', ['minkowski', 'euclidean', 'l2']);
    r.oneOf('p', 2, [2]);
    r.oneOf('algorithm', 'auto', ['auto', 'ball_tree', 'kd_tree', 'brute']);
    return {
      nNeighbors: r.integer('n_neighbors', 5, 1),
      method: r.oneOf<KnnMethod>('method', 'largest', ['largest', 'mean', 'median']),
    };
  },
  fit(X, p) {
    if (X.n <= p.nNeighbors) {
      throw new Error(`KNN: n_neighbors=${p.nNeighbors} needs more than ${p.nNeighbors} training rows, got ${X.n}`);
    }
    // The tree-ordered copy doubles as the state's own copy of the training rows.
    const rows = partition(X.data, X.n, X.d);
    const state: KnnState = { train: rows.rows, n: X.n };
    return { state, trainScores: aggregateRows(kNearestOthers(rows, p.nNeighbors), X.n, p) };
  },
  decision(state, X, p) {
    return aggregateRows(kNearest(state.train, state.n, X.data, X.n, X.d, p.nNeighbors), X.n, p);
  },
};

/** One score per row of m x k ascending distances. */
function aggregateRows(distances: Float64Array, m: number, p: KnnParams): Float64Array {
  const k = p.nNeighbors;
  const scores = new Float64Array(m);
  for (let row = 0; row < m; row++) {
    scores[row] = aggregate(distances, row * k, k, p.method);
  }
  return scores;
}

/** Aggregates the k ascending distances at [from, from + k) without allocating. */
function aggregate(distances: Float64Array, from: number, k: number, method: KnnMethod): number {
  switch (method) {
    case 'largest':
      return distances[from + k - 1]!;
    case 'mean': {
      let sum = 0;
      for (let i = from; i < from + k; i++) {
        sum += distances[i]!;
      }
      return sum / k;
    }
    case 'median': {
      const mid = from + (k >> 1);
      return k % 2 === 1 ? distances[mid]! : (distances[mid - 1]! + distances[mid]!) / 2;
    }
  }
}
