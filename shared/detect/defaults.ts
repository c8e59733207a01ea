import type { ModelConfig, PreprocessParams } from '../models/types.js';

/**
 * Features for the Conformal detector: raw lag windows (no diff, no smoothing), so a spike is
 * flagged at the spike and a level shift shows as a level never seen.
 */
export const DEFAULT_DETECT_PREPROCESS: PreprocessParams = { diff_n: 0, smooth_n: 0, lags_n: 5, freq: null, freq_agg: 'mean' };

export function defaultDetectConfigs(): ModelConfig[] {
  return [{ model_name: 'Conformal', model_tag: 'conformal_default', model_params: {} }];
}
