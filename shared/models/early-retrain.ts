import { allCalibrated } from './registry.js';

/** The share of a young model's rows in new points that asks for its retrain: its history has grown by half. */
const EARLY_RETRAIN_GROWTH = 0.5;

/**
 * Short histories (docs/behaviour.md, "Chaining"): a new metric's first model is fitted on
 * `train_min_n` points and would otherwise be kept until the next train cron (a day, by default),
 * so the first day is judged against a few minutes of history. While a metric's model was fitted
 * on fewer than `train_early_retrain_n` rows, the score run that finds the metric has half as many
 * new points as the model was fitted on (its history has grown by half) asks for a retrain. That
 * costs about nine extra fits per new metric (16, 24, 36, 54, ... rows), not one per point.
 *
 * Why half, not doubling: a young model judges new points against a reference of only its own few
 * rows, so a metric that drifts (a trend, a random walk, a counter) soon leaves that reference and
 * every new level looks rare. With doubling, a model judged as many new points as it had seen; with
 * half, at most half as many (on the parity set: 17 -> 10 false alerts, docs/nab-scoring.md).
 *
 * The score job and the backtest replay both decide here, from the same inputs: the model's row
 * count and training time, and the timestamps of the score window (oldest first, newest last).
 */
export function earlyRetrainDue(nTrain: number, trainedAt: number, windowTimes: ArrayLike<number>, earlyRetrainN: number): boolean {
  if (nTrain >= earlyRetrainN || windowTimes.length === 0) {
    return false;
  }
  return pointsSince(trainedAt, windowTimes) >= Math.ceil(nTrain * EARLY_RETRAIN_GROWTH);
}

/**
 * Points newer than `trainedAt`: counted in the window when it reaches back past `trainedAt`, else
 * the window's count plus the time before it at the window's median spacing (the score window holds
 * only score_max_n + a few points, fewer than a model may have been fitted on).
 */
function pointsSince(trainedAt: number, t: ArrayLike<number>): number {
  const n = t.length;
  let newer = 0;
  while (newer < n && t[n - 1 - newer]! > trainedAt) {
    newer++;
  }
  if (newer < n || n < 2) {
    return newer;
  }
  const gaps: number[] = [];
  for (let i = 1; i < n; i++) {
    gaps.push(t[i]! - t[i - 1]!);
  }
  gaps.sort((a, b) => a - b);
  const spacing = gaps[gaps.length >> 1]!;
  // The points strictly between the fit and the window's first point.
  return spacing > 0 ? n + Math.max(0, Math.ceil((t[0]! - trainedAt) / spacing) - 1) : n;
}

/** Points the score job reads per metric (defaults/sql/score.sql): the newest `score_max_n` plus the history preprocessing needs. */
export function scoreWindowN(config: { score_max_n: number; preprocess_params: { diff_n: number; smooth_n: number; lags_n: number } }): number {
  const { diff_n, smooth_n, lags_n } = config.preprocess_params;
  return config.score_max_n + diff_n + smooth_n + lags_n;
}

/**
 * The batch's `train_early_retrain_n`, or 0 (off) when any of its models is one of the original's
 * (PCA, KNN, ...): those batches keep the original's train schedule and so today's scores. At most
 * half of `train_max_n`: a model fitted on the capped window is never fitted on more rows, so a
 * larger limit would chain a whole-batch train every time that many points arrived, for ever.
 */
export function earlyRetrainLimit(config: { train_early_retrain_n: number; train_max_n: number; model_configs: readonly { model_name: string }[] }): number {
  return allCalibrated(config.model_configs.map((c) => c.model_name)) ? Math.min(config.train_early_retrain_n, Math.floor(config.train_max_n / 2)) : 0;
}
