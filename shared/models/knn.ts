import type { Detector } from './detector.js';
import { buildNeighborIndex, forEachKNearest, type NeighborIndex } from './neighbors.js';

export type KnnMethod = 'largest' | 'mean' | 'median';

export interface KnnParams {
  nNeighbors: number;
  method: KnnMethod;
}

export interface KnnState {
  /** Training rows, row-major n x d. */
  train: Float64Array;
  n: number;
}

/** Index per state, so scoring many batches with one decoded model builds the tree once. */
const indexCache = new WeakMap<KnnState, NeighborIndex>();

function indexFor(state: KnnState, d: number): NeighborIndex {
  let index = indexCache.get(state);
  if (index === undefined) {
    index = buildNeighborIndex(state.train, state.n, d);
    indexCache.set(state, index);
  }
  return index;
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
    const state: KnnState = { train: X.data.slice(), n: X.n };
    const index = indexFor(state, X.d);
    // A training row's own distance (0) is the nearest one: ask for k+1 and skip it, as sklearn's kneighbors(X=None).
    const trainScores = new Float64Array(X.n);
    forEachKNearest(index, X.data, X.n, p.nNeighbors + 1, (row, distances) => {
      trainScores[row] = aggregate(distances, 1, p.method);
    });
    return { state, trainScores };
  },
  decision(state, X, p) {
    const scores = new Float64Array(X.n);
    forEachKNearest(indexFor(state, X.d), X.data, X.n, p.nNeighbors, (row, distances) => {
      scores[row] = aggregate(distances, 0, p.method);
    });
    return scores;
  },
};

/** Aggregates `distances[from..]` (sorted ascending; `from` skips the row itself) without allocating. */
function aggregate(distances: Float64Array, from: number, method: KnnMethod): number {
  const k = distances.length - from;
  switch (method) {
    case 'largest':
      return distances[distances.length - 1]!;
    case 'mean': {
      let sum = 0;
      for (let i = from; i < distances.length; i++) {
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
