import { preprocess, type PackedSeries, type Point } from './preprocess.js';
import type { ExpectedBand } from './detector.js';
import { combineScores, expectedBand, firedDetectors, fitModel, scoreModel } from './registry.js';
import { sliceRows, type CombineMethod, type FeatureMatrix, type FittedModel, type ModelConfig, type PreprocessParams } from './types.js';

/** Train one metric: preprocess its points and fit every config on the newest `trainMaxN` rows. */
export interface TrainTask {
  key: string;
  points: readonly Point[] | PackedSeries;
  preprocess: PreprocessParams;
  configs: readonly ModelConfig[];
  /** @defaultValue all rows */
  trainMaxN?: number;
}

export interface TrainResult {
  key: string;
  /** Preprocessed rows the models were fitted on. */
  nTrain: number;
  /** Fitted models, in config order; a config that failed is missing here and listed in `errors`. */
  models: FittedModel[];
  errors: string[];
}

/** Score one metric: preprocess its points and score the rows at or after `since` with every model. */
export interface ScoreTask {
  key: string;
  points: readonly Point[] | PackedSeries;
  preprocess: PreprocessParams;
  models: readonly FittedModel[];
  /** Epoch ms; rows before it only serve as history for the features. @defaultValue all rows */
  since?: number;
  /** @defaultValue 'mean' */
  combination?: CombineMethod;
}

export interface ScoreResult {
  key: string;
  timestamps: Float64Array;
  /** 0-1 scores per model, in the order of the task's models; null where that model failed (see errors). */
  scores: (Float64Array | null)[];
  /** Combined 0-1 score per row; empty when no model could score (see errors). */
  combined: Float64Array;
  /**
   * Per row, the expected range of the value (union over the models that give one), or null: only
   * on raw features (diff_n 0, smooth_n 0), where a model's newest column is the value itself.
   */
  band: ExpectedBand | null;
  /** Per row, `<model_tag>:<detector>` of the models that name their detectors (Conformal) where they score >= 0.99, '+'-joined ('' elsewhere); null when none does. */
  fired: string[] | null;
  errors: string[];
}

export function runTrainTask(task: TrainTask): TrainResult {
  const X = preprocess(task.points, task.preprocess);
  const start = Math.max(0, X.n - (task.trainMaxN ?? X.n));
  const train = start === 0 ? X : sliceRows(X, start, X.n);
  const result: TrainResult = { key: task.key, nTrain: train.n, models: [], errors: [] };
  for (const cfg of task.configs) {
    try {
      result.models.push(fitModel(cfg, train));
    } catch (error) {
      result.errors.push(withModelName(cfg.model_name, (error as Error).message));
    }
  }
  return result;
}

export function runScoreTask(task: ScoreTask): ScoreResult {
  const X = preprocess(task.points, task.preprocess);
  const since = task.since ?? -Infinity;
  let first = X.n;
  while (first > 0 && X.timestamps[first - 1]! >= since) {
    first--;
  }
  const rows = sliceRows(X, first, X.n);
  const result: ScoreResult = { key: task.key, timestamps: rows.timestamps, scores: [], combined: new Float64Array(0), band: null, fired: null, errors: [] };
  if (task.models.length === 0) {
    result.errors.push('no models to score with');
    return result;
  }
  for (const model of task.models) {
    try {
      result.scores.push(scoreModel(model, rows));
    } catch (error) {
      result.scores.push(null);
      result.errors.push(withModelName(model.modelName, (error as Error).message));
    }
  }
  // Models that failed are left out of the combination, as the original skips models that fail to load.
  const usable = result.scores.filter((s): s is Float64Array => s !== null);
  result.combined = usable.length > 0 ? combineScores(usable, task.combination ?? 'mean') : new Float64Array(0);
  if (task.preprocess.diff_n === 0 && task.preprocess.smooth_n === 0) {
    result.band = unionBand(task.models, rows, result.errors);
  }
  result.fired = firedBy(task.models, rows, result.scores, result.errors);
  return result;
}

/** Below this score nothing fired: the detector is named only for unusual rows, so scoring does not pay twice for every row. */
const FIRED_MIN_SCORE = 0.99;

function firedBy(models: readonly FittedModel[], rows: FeatureMatrix, scores: readonly (Float64Array | null)[], errors: string[]): string[] | null {
  let out: string[] | null = null;
  models.forEach((model, k) => {
    const own = scores[k];
    if (own === null || own === undefined) {
      return;
    }
    try {
      for (let i = 0; i < rows.n; i++) {
        const name = own[i]! >= FIRED_MIN_SCORE ? firedDetectors(model, sliceRows(rows, i, i + 1))?.[0] : undefined;
        if (name === undefined) {
          continue;
        }
        out ??= new Array<string>(rows.n).fill('');
        out[i] = `${out[i] === '' ? '' : `${out[i]}+`}${model.modelTag}:${name}`;
      }
    } catch (error) {
      errors.push(withModelName(model.modelName, `detector: ${(error as Error).message}`));
    }
  });
  return out;
}

function unionBand(models: readonly FittedModel[], rows: FeatureMatrix, errors: string[]): ExpectedBand | null {
  let band: ExpectedBand | null = null;
  for (const model of models) {
    let own: ExpectedBand | null = null;
    try {
      own = expectedBand(model, rows);
    } catch (error) {
      errors.push(withModelName(model.modelName, `expected range: ${(error as Error).message}`));
    }
    if (own === null) {
      continue;
    }
    if (band === null) {
      band = own;
    } else {
      for (let i = 0; i < rows.n; i++) {
        band.lo[i] = Math.min(band.lo[i]!, own.lo[i]!);
        band.hi[i] = Math.max(band.hi[i]!, own.hi[i]!);
      }
    }
  }
  return band;
}

/** Model errors mostly start with the model name already; add it where they do not. */
function withModelName(name: string, message: string): string {
  return message.startsWith(`${name}:`) ? message : `${name}: ${message}`;
}
