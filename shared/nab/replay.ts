import { runTrainTask } from '../models/model-tasks.js';
import { preprocess, type PackedSeries } from '../models/preprocess.js';
import { combineScores, scoreModel } from '../models/registry.js';
import { sliceRows, type CombineMethod, type FeatureMatrix, type FittedModel, type ModelConfig, type PreprocessParams } from '../models/types.js';

/** What the train and score jobs run for one metric. */
export interface ReplayPipeline {
  preprocess: PreprocessParams;
  configs: readonly ModelConfig[];
  combination: CombineMethod;
  /** Points between refits (the train job's cadence in points). */
  retrainEvery: number;
  /** `train_max_n`: the newest points a fit sees. */
  trainMaxN: number;
  /** `train_min_n`: no fit on fewer points. */
  trainMinN: number;
}

export interface Replay {
  /** Per point of the series: its combined score, NaN where no model could score it yet. */
  scores: Float64Array;
  errors: Set<string>;
}

/** ECOD and COPOD score a row against the training rows plus its batch; production scores ~1 new point per run. */
const BATCH_DEPENDENT = new Set(['ECOD', 'COPOD']);

/**
 * Walks a (sorted, de-duplicated) series forward as the train and score jobs would: every
 * `retrainEvery` points the models are refitted on the newest `trainMaxN` points seen so far, and
 * the points until the next refit are scored with them; the first fit comes after `retrainEvery`
 * points, as a daily train job's first run over a new metric would. Preprocessing is causal (diff,
 * trailing mean, lags), so the features of the whole series, computed once, equal those production
 * builds from the history before each point. So every point is scored only by models fitted on
 * points before it.
 */
export function replaySeries(key: string, series: PackedSeries, pipeline: ReplayPipeline): Replay {
  const X = preprocess(series, pipeline.preprocess);
  const n = series.t.length;
  const firstRowPoint = n - X.n;
  const replay: Replay = { scores: new Float64Array(n).fill(NaN), errors: new Set() };
  let models = new Map<string, FittedModel>();
  for (let k = pipeline.retrainEvery; k < n; k += pipeline.retrainEvery) {
    models = retrain(key, series, k, pipeline, models, replay);
    if (models.size === 0) {
      continue; // No model yet: the score job skips the metric.
    }
    const from = Math.max(k, firstRowPoint);
    const to = Math.min(k + pipeline.retrainEvery, n);
    if (from < to) {
      const combined = scoreRows(sliceRows(X, from - firstRowPoint, to - firstRowPoint), [...models.values()], pipeline.combination);
      replay.scores.set(combined, from);
    }
  }
  return replay;
}

/** Fits every config on the points before `k`; a config that fails keeps its previous model, as production does. */
function retrain(
  key: string,
  series: PackedSeries,
  k: number,
  pipeline: ReplayPipeline,
  previous: Map<string, FittedModel>,
  replay: Replay,
): Map<string, FittedModel> {
  if (k < pipeline.trainMinN) {
    return previous;
  }
  const start = Math.max(0, k - pipeline.trainMaxN);
  const result = runTrainTask({
    key,
    points: { t: series.t.subarray(start, k), v: series.v.subarray(start, k) },
    preprocess: pipeline.preprocess,
    configs: pipeline.configs,
  });
  result.errors.forEach((e) => replay.errors.add(e));
  const models = new Map(previous);
  result.models.forEach((m) => models.set(m.modelTag, m));
  return models;
}

function scoreRows(rows: FeatureMatrix, models: readonly FittedModel[], combination: CombineMethod): Float64Array {
  const perModel = models.map((model) => (BATCH_DEPENDENT.has(model.modelName) ? scoreOneByOne(model, rows) : scoreModel(model, rows)));
  return combineScores(perModel, combination);
}

function scoreOneByOne(model: FittedModel, rows: FeatureMatrix): Float64Array {
  const out = new Float64Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    out[i] = scoreModel(model, sliceRows(rows, i, i + 1))[0]!;
  }
  return out;
}
