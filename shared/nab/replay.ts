import { earlyRetrainDue } from '../models/early-retrain.js';
import { runTrainTask } from '../models/model-tasks.js';
import { preprocess, type PackedSeries } from '../models/preprocess.js';
import { combineScores, scoreModel } from '../models/registry.js';
import { sliceRows, type CombineMethod, type FeatureMatrix, type FittedModel, type ModelConfig, type PreprocessParams } from '../models/types.js';

/** What the train and score jobs run for one metric (a batch's config, shared/backtest/settings.ts). */
export interface ReplayPipeline {
  preprocess: PreprocessParams;
  configs: readonly ModelConfig[];
  combination: CombineMethod;
  /** `train_max_n`: the newest points a fit sees. */
  trainMaxN: number;
  /** `train_metric_timestamp_max_days_ago`: nor points older than this before the fit. */
  trainMaxDays: number;
  /** `train_min_n`: no fit on fewer points. */
  trainMinN: number;
  /** `train_early_retrain_n`: while the models were fitted on fewer rows, a score run that finds the history grown by half chains a retrain (shared/models/early-retrain.ts). */
  earlyRetrainN: number;
  /** Points the score job reads per metric: `score_max_n` plus the history preprocessing needs. */
  scoreWindowN: number;
}

export interface Replay {
  /** Per point of the series: its combined score, NaN where no model could score it yet. */
  scores: Float64Array;
  /** How many times models were fitted (cron runs that found new points, and chained first fits). */
  fits: number;
  errors: Set<string>;
}

/** ECOD and COPOD score a row against the training rows plus its batch; production scores ~1 new point per run. */
const BATCH_DEPENDENT = new Set(['ECOD', 'COPOD']);
const DAY_MS = 86_400_000;

/**
 * Walks a (sorted, de-duplicated) series forward as the train and score jobs would, causally: every
 * point is scored only by models fitted on points before it.
 *  - `trainTimes` are the train cron's runs (epoch ms, ascending): each refits on the newest
 *    `trainMaxN` points at or before it (within `trainMaxDays`), and its models score the points after
 *    it until the next run;
 *  - until a metric has its first model, every point's score run finds none and chains a train
 *    (docs/behaviour.md, "Chaining"), so the first fit comes as soon as `trainMinN` points exist. In
 *    production that train also sees the point being scored; here it sees only the points before it.
 * Preprocessing is causal (diff, trailing mean, lags), so the features of the whole series, computed
 * once, equal those the score job builds from the history before each point.
 */
export function replaySeries(key: string, series: PackedSeries, pipeline: ReplayPipeline, trainTimes: ArrayLike<number>): Replay {
  if (pipeline.preprocess.freq !== null) {
    // Resampled bins are not the input's points, so there is no score per input row to give back.
    throw new Error('preprocess_params.freq is not supported by the replay (scores land on bins, not points)');
  }
  const X = preprocess(series, pipeline.preprocess);
  const n = series.t.length;
  const firstRowPoint = n - X.n;
  const replay: Replay = { scores: new Float64Array(n).fill(NaN), fits: 0, errors: new Set() };
  const refits = refitPoints(series.t, trainTimes);
  const fit: Fit = { models: new Map(), nTrain: 0, at: -Infinity };
  let next = 0;
  let i = 0;
  let early = false;
  while (i < n) {
    for (; next < refits.length && refits[next]!.k <= i; next++) {
      retrain(key, series, refits[next]!, pipeline, fit, replay);
    }
    if (fit.models.size === 0 || early) {
      // The chained train of a metric without a model, or of a short history that has grown by half, run just before point i.
      retrain(key, series, { k: i, at: early ? series.t[i - 1]! : series.t[i]! }, pipeline, fit, replay);
      early = false;
      if (fit.models.size === 0) {
        i++;
        continue;
      }
    }
    let end = next < refits.length ? refits[next]!.k : n;
    const from = Math.max(i, firstRowPoint);
    // The score run at point j sees the newest scoreWindowN points; when it finds the history grown by half, train follows it.
    for (let j = from; j < end && fit.nTrain < pipeline.earlyRetrainN; j++) {
      if (earlyRetrainDue(fit.nTrain, fit.at, series.t.subarray(Math.max(0, j + 1 - pipeline.scoreWindowN), j + 1), pipeline.earlyRetrainN)) {
        end = j + 1;
        early = true;
      }
    }
    if (from < end) {
      const combined = scoreRows(sliceRows(X, from - firstRowPoint, end - firstRowPoint), [...fit.models.values()], pipeline.combination);
      replay.scores.set(combined, from);
    }
    i = end;
  }
  return replay;
}

/** A train run at time `at`, which sees the points before index `k`. */
interface Refit {
  k: number;
  at: number;
}

/** The train runs that see new points: a run with no point since the previous one would fit the same model. */
function refitPoints(t: Float64Array, trainTimes: ArrayLike<number>): Refit[] {
  const out: Refit[] = [];
  let k = 0;
  for (let j = 0; j < trainTimes.length; j++) {
    const at = trainTimes[j]!;
    while (k < t.length && t[k]! <= at) {
      k++;
    }
    if (k >= t.length) {
      break;
    }
    const last = out[out.length - 1];
    if (k > 0 && (last === undefined || last.k < k)) {
      out.push({ k, at });
    } else if (last !== undefined && last.k === k) {
      last.at = at; // A later run over the same points: its day window is the one that counts.
    }
  }
  return out;
}

/** The models in use, the rows they were fitted on and when. */
interface Fit {
  models: Map<string, FittedModel>;
  nTrain: number;
  at: number;
}

/** Fits every config on the train window before `k` into `fit`; a config that fails keeps its previous model, as production does. */
function retrain(key: string, series: PackedSeries, refit: Refit, pipeline: ReplayPipeline, fit: Fit, replay: Replay): void {
  const { k, at } = refit;
  let start = Math.max(0, k - pipeline.trainMaxN);
  const oldest = at - pipeline.trainMaxDays * DAY_MS;
  while (start < k && series.t[start]! < oldest) {
    start++;
  }
  if (k - start < pipeline.trainMinN || k === start) {
    return; // The train job skips the metric (fewer than train_min_n points).
  }
  const result = runTrainTask({
    key,
    points: { t: series.t.subarray(start, k), v: series.v.subarray(start, k) },
    preprocess: pipeline.preprocess,
    configs: pipeline.configs,
  });
  replay.fits++;
  result.errors.forEach((e) => replay.errors.add(e));
  result.models.forEach((m) => fit.models.set(m.modelTag, m));
  if (result.models.length > 0) {
    fit.nTrain = result.nTrain;
    fit.at = at;
  }
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
