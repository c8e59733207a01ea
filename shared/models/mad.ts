import type { Detector } from './detector.js';
import type { FeatureMatrix } from './types.js';

export interface MadParams {
  threshold: number;
}

export interface MadState {
  median: number;
  medianDeviation: number;
}

/** Largest double: what numpy's nan_to_num turns +inf into. */
const MAX_DOUBLE = Number.MAX_VALUE;

/**
 * PyOD MAD, univariate: 0.6745 · |x − median| / median(|x − median|) on the first feature column
 * (the smoothed value; PyOD itself refuses more than one column). `threshold` only sets PyOD's labels.
 */
export const madDetector: Detector<MadParams, MadState> = {
  name: 'MAD',
  readParams(r) {
    r.checkKnown(['threshold', 'contamination']);
    r.contamination();
    return { threshold: r.number('threshold', 3.5, () => true, 'a number') };
  },
  fit(X) {
    if (X.n < 1) {
      throw new Error('MAD: no training rows');
    }
    const column = firstColumn(X);
    const median = medianOf(column.slice());
    const deviations = column.map((v) => Math.abs(v - median));
    const state: MadState = { median, medianDeviation: medianOf(deviations) };
    return { state, trainScores: modifiedZ(state, column) };
  },
  decision(state, X) {
    return modifiedZ(state, firstColumn(X));
  },
};

function firstColumn(X: FeatureMatrix): Float64Array {
  const out = new Float64Array(X.n);
  for (let i = 0; i < X.n; i++) {
    out[i] = X.data[i * X.d]!;
  }
  return out;
}

/** numpy median (mean of the two middle values for an even count); sorts `values` in place. */
function medianOf(values: Float64Array): number {
  values.sort();
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/** np.nan_to_num(0.6745 · diff / mad): 0/0 → 0, x/0 → largest double. */
function modifiedZ(state: MadState, column: Float64Array): Float64Array {
  return column.map((v) => {
    const z = (0.6745 * Math.abs(v - state.median)) / state.medianDeviation;
    return Number.isNaN(z) ? 0 : Math.min(z, MAX_DOUBLE);
  });
}
