import type { ParamReader } from './params.js';
import type { FeatureMatrix, PreprocessParams } from './types.js';

/** One PyOD model: parameter parsing, fit (state + raw training scores) and raw decision scores. */
export interface Detector<P, S> {
  readonly name: string;
  /** Preprocess keys this detector is meant for, over DEFAULT_PREPROCESS, when a batch does not set them. */
  readonly preprocess?: Partial<PreprocessParams>;
  /** The detector reads a row's columns by position from the first (newest value, then older lags), so a model fitted on shorter rows still scores longer ones. */
  readonly readsRowPrefix?: true;
  readParams(reader: ParamReader): P;
  fit(X: FeatureMatrix, params: P): { state: S; trainScores: Float64Array };
  /** Raw decision scores, higher = more abnormal (PyOD's `decision_function`), in a new array the caller owns. */
  decision(state: S, X: FeatureMatrix, params: P): Float64Array;
  /** Optional: per row, the range the newest value was expected in (value units), for the alert's "why". */
  expected?(state: S, X: FeatureMatrix, params: P): ExpectedBand;
  /** Optional: per row, which of the model's own detectors gave its score (the alert's "which detector fired"). */
  fired?(state: S, X: FeatureMatrix, params: P): string[];
}

/** Per row, the low and high end of the expected range of the newest value. */
export interface ExpectedBand {
  lo: Float64Array;
  hi: Float64Array;
}
