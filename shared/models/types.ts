/** Row-major feature matrix: `n` rows of `d` features, one timestamp (epoch ms) per row. */
export interface FeatureMatrix {
  n: number;
  d: number;
  data: Float64Array;
  timestamps: Float64Array;
}

/** Parameters of the default preprocess (`preprocess_params` in the batch YAML). */
export interface PreprocessParams {
  /** @defaultValue 1 */
  diff_n: number;
  /** @defaultValue 3 */
  smooth_n: number;
  /** @defaultValue 5 */
  lags_n: number;
  /** pandas offset alias ('5min', '1h', 'D', ...); null keeps the points as they are. @defaultValue null */
  freq: string | null;
  /** @defaultValue 'mean' */
  freq_agg: 'mean' | 'sum';
}

export const DEFAULT_PREPROCESS: PreprocessParams = {
  diff_n: 1,
  smooth_n: 3,
  lags_n: 5,
  freq: null,
  freq_agg: 'mean',
};

/** One entry of `model_configs`: a PyOD class name and its constructor parameters. */
export interface ModelConfig {
  model_name: string;
  model_tag: string;
  model_params: Record<string, unknown>;
}

/** A trained model: enough to score new rows and to scale raw scores to 0-1. */
export interface FittedModel {
  modelName: string;
  modelTag: string;
  params: Record<string, unknown>;
  /** Number of features the model was trained on. */
  d: number;
  /** Min and max of the raw decision scores on the training rows (PyOD's predict_proba scaling). */
  trainMin: number;
  trainMax: number;
  /** Model-specific state made of numbers, strings and typed arrays only (so it encodes compactly). */
  state: unknown;
}

export type CombineMethod = 'mean' | 'min' | 'max';

/** Creates a matrix view over `rows` of `X` (copies). */
export function sliceRows(X: FeatureMatrix, start: number, end: number): FeatureMatrix {
  return {
    n: end - start,
    d: X.d,
    data: X.data.slice(start * X.d, end * X.d),
    timestamps: X.timestamps.slice(start, end),
  };
}
