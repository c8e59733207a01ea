import type { Detector } from './detector.js';
import { symmetricEigen } from './jacobi.js';
import type { FeatureMatrix } from './types.js';

export interface PcaParams {
  nComponents: number | null;
  nSelectedComponents: number | null;
  weighted: boolean;
  standardization: boolean;
}

export interface PcaState {
  mean: Float64Array;
  scale: Float64Array;
  /** Selected components, row-major k x d. */
  components: Float64Array;
  /** Divisor per selected component: explained variance ratio, or 1 when not weighted. */
  weights: Float64Array;
}

/**
 * Components whose explained variance ratio is below this carry only rounding noise (constant or
 * collinear features). PyOD would divide by ~0 and return inf/huge scores; we leave them out.
 */
const MIN_VARIANCE_RATIO = 1e-12;

/** PyOD PCA: sum over components of ‖x_std − component‖ / explained_variance_ratio. */
export const pcaDetector: Detector<PcaParams, PcaState> = {
  name: 'PCA',
  readParams(r) {
    r.checkKnown([
      'n_components',
      'n_selected_components',
      'weighted',
      'standardization',
      'contamination',
      'copy',
      'whiten',
      'svd_solver',
      'tol',
      'iterated_power',
      'random_state',
    ]);
    r.contamination();
    r.oneOf('svd_solver', 'auto', ['auto', 'full', 'arpack', 'randomized', 'covariance_eigh']);
    return {
      nComponents: r.optionalInteger('n_components', 1),
      nSelectedComponents: r.optionalInteger('n_selected_components', 1),
      weighted: r.boolean('weighted', true),
      standardization: r.boolean('standardization', true),
    };
  },
  fit(X, p) {
    const { n, d } = X;
    const kept = p.nComponents ?? Math.min(n, d);
    const selected = p.nSelectedComponents ?? kept;
    if (kept > Math.min(n, d)) {
      throw new Error(`PCA: n_components=${kept} exceeds min(n_samples, n_features)=${Math.min(n, d)}`);
    }
    if (selected > kept) {
      throw new Error(`PCA: n_selected_components=${selected} exceeds n_components=${kept}`);
    }
    const { mean, scale } = p.standardization ? standardScaler(X) : identityScaler(d);
    const Z = transform(X, mean, scale);
    const { values, vectors } = symmetricEigen(scatterMatrix(Z), d);
    let total = 0;
    for (const v of values) {
      total += Math.max(v, 0);
    }
    // PyOD keeps the *last* n_selected_components of the n_components kept by sklearn.
    const rows: number[] = [];
    for (let j = kept - selected; j < kept; j++) {
      const ratio = total > 0 ? Math.max(values[j]!, 0) / total : 0;
      if (ratio >= MIN_VARIANCE_RATIO) {
        rows.push(j);
      }
    }
    const components = new Float64Array(rows.length * d);
    const weights = new Float64Array(rows.length);
    rows.forEach((j, k) => {
      const row = vectors.subarray(j * d, (j + 1) * d);
      components.set(row, k * d);
      flipSign(components.subarray(k * d, (k + 1) * d));
      weights[k] = p.weighted ? values[j]! / total : 1;
    });
    const state: PcaState = { mean, scale, components, weights };
    return { state, trainScores: distanceScores(Z, state) };
  },
  decision(state, X) {
    return distanceScores(transform(X, state.mean, state.scale), state);
  },
};

/**
 * sklearn's StandardScaler with population variance. A (near-)constant column keeps scale 1,
 * using sklearn's `_is_constant_feature` test.
 */
function standardScaler(X: FeatureMatrix): { mean: Float64Array; scale: Float64Array } {
  const { n, d, data } = X;
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += data[i * d + j]!;
    }
    const mu = sum / n;
    let squares = 0;
    let deviations = 0;
    for (let i = 0; i < n; i++) {
      const dev = data[i * d + j]! - mu;
      squares += dev * dev;
      deviations += dev;
    }
    // Same correction term as sklearn's _incremental_mean_and_var.
    const variance = (squares - (deviations * deviations) / n) / n;
    const eps = Number.EPSILON;
    const constant = variance <= n * eps * variance + (n * mu * eps) ** 2;
    mean[j] = mu;
    scale[j] = constant ? 1 : Math.sqrt(variance);
  }
  return { mean, scale };
}

function identityScaler(d: number): { mean: Float64Array; scale: Float64Array } {
  return { mean: new Float64Array(d), scale: new Float64Array(d).fill(1) };
}

function transform(X: FeatureMatrix, mean: Float64Array, scale: Float64Array): FeatureMatrix {
  const { n, d, data } = X;
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      out[i * d + j] = (data[i * d + j]! - mean[j]!) / scale[j]!;
    }
  }
  return { n, d, data: out, timestamps: X.timestamps };
}

/** Xcᵀ Xc of the column-centred matrix (sklearn's PCA centres again before its SVD). */
function scatterMatrix(Z: FeatureMatrix): Float64Array {
  const { n, d, data } = Z;
  const centre = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      centre[j]! += data[i * d + j]!;
    }
  }
  for (let j = 0; j < d; j++) {
    centre[j]! /= n;
  }
  const scatter = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      row[j] = data[i * d + j]! - centre[j]!;
    }
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      for (let b = a; b < d; b++) {
        scatter[a * d + b]! += ra * row[b]!;
      }
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < a; b++) {
      scatter[a * d + b] = scatter[b * d + a]!;
    }
  }
  return scatter;
}

/** sklearn >= 1.5 sign rule: the entry of largest magnitude in each component is positive. */
function flipSign(component: Float64Array): void {
  let best = 0;
  for (let k = 1; k < component.length; k++) {
    if (Math.abs(component[k]!) > Math.abs(component[best]!)) {
      best = k;
    }
  }
  if (component[best]! < 0) {
    for (let k = 0; k < component.length; k++) {
      component[k] = -component[k]!;
    }
  }
}

function distanceScores(Z: FeatureMatrix, state: PcaState): Float64Array {
  const { n, d, data } = Z;
  const k = state.weights.length;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let score = 0;
    for (let c = 0; c < k; c++) {
      let squared = 0;
      for (let j = 0; j < d; j++) {
        const delta = data[i * d + j]! - state.components[c * d + j]!;
        squared += delta * delta;
      }
      score += Math.sqrt(squared) / state.weights[c]!;
    }
    scores[i] = score;
  }
  return scores;
}
