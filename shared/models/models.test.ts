import { describe, expect, it } from 'vitest';
import { ecodDetector } from './ecod.js';
import { averagePathLength } from './iforest.js';
import { symmetricEigen } from './jacobi.js';
import { kNearest, kNearestOthers, partition } from './neighbors.js';
import { Random } from './random.js';
import { decisionScores, fitModel, scoreModel } from './registry.js';
import type { FeatureMatrix } from './types.js';

function matrix(rows: number[][]): FeatureMatrix {
  const d = rows[0]?.length ?? 0;
  return { n: rows.length, d, data: Float64Array.from(rows.flat()), timestamps: new Float64Array(rows.length) };
}

function randomMatrix(n: number, d: number, seed: number): FeatureMatrix {
  const random = new Random(seed);
  const rows = Array.from({ length: n }, () => Array.from({ length: d }, () => random.next() * 10));
  return matrix(rows);
}

const cfg = (model_name: string, model_params: Record<string, unknown> = {}) => ({ model_name, model_tag: '', model_params });

describe('symmetricEigen', () => {
  it('decomposes a symmetric matrix into descending eigenvalues and orthonormal vectors', () => {
    const d = 5;
    const X = randomMatrix(40, d, 3);
    const a = new Float64Array(d * d);
    for (let i = 0; i < X.n; i++) {
      for (let p = 0; p < d; p++) {
        for (let q = 0; q < d; q++) {
          a[p * d + q]! += X.data[i * d + p]! * X.data[i * d + q]!;
        }
      }
    }
    const { values, vectors } = symmetricEigen(a, d);
    for (let k = 1; k < d; k++) {
      expect(values[k]!).toBeLessThanOrEqual(values[k - 1]!);
    }
    // A = Vᵀ Λ V
    for (let p = 0; p < d; p++) {
      for (let q = 0; q < d; q++) {
        let sum = 0;
        for (let k = 0; k < d; k++) {
          sum += vectors[k * d + p]! * values[k]! * vectors[k * d + q]!;
        }
        expect(sum).toBeCloseTo(a[p * d + q]!, 8);
      }
    }
  });

  it('handles a diagonal matrix and a zero matrix', () => {
    expect(Array.from(symmetricEigen(Float64Array.from([1, 0, 0, 3]), 2).values)).toEqual([3, 1]);
    expect(Array.from(symmetricEigen(new Float64Array(9), 3).values)).toEqual([0, 0, 0]);
  });
});

describe('PCA', () => {
  it('scores a point off the training cloud as more abnormal', () => {
    const model = fitModel(cfg('PCA'), randomMatrix(200, 4, 1));
    const scores = scoreModel(model, matrix([[5, 5, 5, 5], [50, -40, 30, 90]]));
    expect(scores[1]).toBe(1);
    expect(scores[0]!).toBeLessThan(0.5);
  });

  it('survives a constant column and constant data (scale kept at 1, no NaN)', () => {
    const rows = randomMatrix(50, 3, 2);
    for (let i = 0; i < rows.n; i++) {
      rows.data[i * 3 + 1] = 7;
    }
    const model = fitModel(cfg('PCA'), rows);
    expect(Number.isFinite(model.trainMax)).toBe(true);
    const flat = fitModel(cfg('PCA'), matrix(Array.from({ length: 20 }, () => [1, 1, 1])));
    expect(Array.from(scoreModel(flat, matrix([[1, 1, 1], [9, 9, 9]])))).toEqual([0, 0]);
  });

  it('keeps the last n_selected_components of n_components', () => {
    const X = randomMatrix(100, 5, 4);
    const model = fitModel(cfg('PCA', { n_components: 3, n_selected_components: 2 }), X);
    expect((model.state as { weights: Float64Array }).weights.length).toBe(2);
    expect(() => fitModel(cfg('PCA', { n_components: 6 }), X)).toThrow(/exceeds/);
  });
});

describe('KNN', () => {
  it('uses the k-th, mean or median distance, excluding a training row itself', () => {
    const X = matrix([[0], [1], [2], [3], [10]]);
    const largest = fitModel(cfg('KNN', { n_neighbors: 2 }), X);
    expect([largest.trainMin, largest.trainMax]).toEqual([1, 8]);
    expect(Array.from(decisionScores(largest, matrix([[1.5], [20]])))).toEqual([0.5, 17]);
    const mean = fitModel(cfg('KNN', { n_neighbors: 3, method: 'mean' }), X);
    expect(Array.from(decisionScores(mean, matrix([[0]])))).toEqual([1]); // 0, 1, 2
    const median = fitModel(cfg('KNN', { n_neighbors: 4, method: 'median' }), X);
    expect(Array.from(decisionScores(median, matrix([[0]])))).toEqual([1.5]); // 0, 1, 2, 3
  });

  /** Brute force: every distance summed in column order, sorted, the k smallest (skipping the row itself for self). */
  function bruteNearest(R: FeatureMatrix, Q: FeatureMatrix, k: number, self: boolean): Float64Array {
    const out = new Float64Array(Q.n * k);
    for (let q = 0; q < Q.n; q++) {
      const distances: number[] = [];
      for (let r = 0; r < R.n; r++) {
        if (self && r === q) {
          continue;
        }
        let sum = 0;
        for (let j = 0; j < R.d; j++) {
          const delta = Q.data[q * Q.d + j]! - R.data[r * R.d + j]!;
          sum += delta * delta;
        }
        distances.push(sum);
      }
      distances.sort((a, b) => a - b);
      out.set(distances.slice(0, k).map(Math.sqrt), q * k);
    }
    return out;
  }

  it('gives the brute-force distances bit for bit, duplicates and both distance kernels included', () => {
    for (const [n, d, k] of [[700, 6, 5], [700, 3, 6], [20, 6, 5], [300, 2, 1]] as const) {
      const X = randomMatrix(n, d, n + d);
      X.data.copyWithin(d * (n >> 1), 0, d * (n >> 3)); // exact duplicate rows
      const queries = randomMatrix(150, d, 6);
      const reference = partition(X.data, X.n, X.d);
      expect(kNearestOthers(reference, k)).toEqual(bruteNearest(X, X, k, true));
      // 150 queries take the tree, 20 the direct comparison.
      expect(kNearest(X.data, X.n, queries.data, queries.n, d, k)).toEqual(bruteNearest(X, queries, k, false));
      expect(kNearest(X.data, X.n, queries.data, 20, d, k)).toEqual(bruteNearest(X, { ...queries, n: 20 }, k, false));
    }
  });

  it('needs more training rows than neighbours', () => {
    expect(() => fitModel(cfg('KNN'), randomMatrix(5, 2, 1))).toThrow(/n_neighbors=5/);
  });
});

describe('IForest', () => {
  it('uses sklearn average path lengths', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    expect(averagePathLength(256)).toBeCloseTo(10.244770920, 8);
  });

  it('is reproducible for a seed and isolates an outlier', () => {
    const X = randomMatrix(300, 3, 7);
    const a = fitModel(cfg('IForest'), X);
    const b = fitModel(cfg('IForest'), X);
    const c = fitModel(cfg('IForest', { random_state: 1 }), X);
    const probe = matrix([[5, 5, 5], [100, 100, 100]]);
    expect(decisionScores(a, probe)).toEqual(decisionScores(b, probe));
    expect(decisionScores(a, probe)).not.toEqual(decisionScores(c, probe));
    const scores = scoreModel(a, probe);
    expect(scores[1]).toBe(1);
    expect(scores[0]!).toBeLessThan(0.3);
  });
});

// Expected values from scripts/parity/reference.py (transcriptions of PyOD's ecod.py and mad.py).
describe('ECOD, COPOD and MAD', () => {
  const train = matrix([[1, 10], [2, 20], [3, 30], [4, 45], [100, 50]]);
  const test = matrix([[2.5, 25], [200, 0]]);

  it('ECOD scores training rows alone and new rows against training + batch', () => {
    const { state, trainScores } = ecodDetector.fit(train, {});
    const expectedTrain = [2.4141568686511503, 1.4860078734683375, 1.0216512475319814, 1.4860078734683375, 2.4141568686511503];
    expectedTrain.forEach((v, i) => expect(trainScores[i]).toBeCloseTo(v, 12));
    const scores = ecodDetector.decision(state, test, {});
    expect(scores[0]).toBeCloseTo(1.1515008364396309, 12);
    expect(scores[1]).toBeCloseTo(2.9188652235829697, 12);
    const copod = fitModel(cfg('COPOD'), train);
    expect(Array.from(decisionScores(copod, test))).toEqual(Array.from(scores));
  });

  it('MAD is 0.6745·|x − median| / MAD on the first column', () => {
    const model = fitModel(cfg('MAD', { threshold: 3 }), train);
    expect(Array.from(decisionScores(model, test)).map((v) => +v.toFixed(6))).toEqual([0.33725, 132.8765]);
    expect([model.trainMin, model.trainMax]).toEqual([0, 65.4265]);
  });

  it('MAD follows numpy nan_to_num when the MAD is 0', () => {
    const model = fitModel(cfg('MAD'), matrix([[1], [1], [1], [2]]));
    expect(Array.from(decisionScores(model, matrix([[1], [3]])))).toEqual([0, Number.MAX_VALUE]);
  });
});
