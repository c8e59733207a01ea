import { upsertMetricRows } from '../../../shared/db/metrics-store.js';
import { skipped, type JobCore } from '../../../shared/job.js';
import { roundHalfEven, storedScore, type MetricRow } from '../../../shared/metric-row.js';
import { createModelStore, forgetUnconfiguredBatches } from '../../../shared/model-store.js';
import { allCalibrated, type FittedModel } from '../../../shared/models/index.js';
import { earlyRetrainDue, earlyRetrainLimit } from '../../../shared/models/early-retrain.js';
import type { ScoreTask } from '../../../shared/models/model-tasks.js';
import { scoreMany } from '../../../shared/models/pool.js';
import { renderSql } from '../../../shared/templates.js';
import { groupSeries, type SeriesRow } from '../../../shared/models/series.js';

/** Below this many points to score per metric on average, the models score in this thread. */
const POOL_MIN_POINTS_PER_METRIC = 8;

interface ScoreWindowRow extends SeriesRow {
  metric_score: number | null;
  metric_recency_rank: number;
}

/**
 * Score: per metric, the newest score_max_n points that have no score yet (the original
 * re-scored every point every run), each preprocessed with the history before it, scored by
 * the metric's newest complete models and combined. A metric without a model is skipped with
 * a reason while the others are scored.
 */
export const scoreBatch: JobCore = async (batch, context) => {
  if (batch.disabled.score) {
    return skipped(batch, 'score', 'disable_score is set');
  }
  const { diff_n, smooth_n, lags_n, freq } = batch.config.preprocess_params;
  const rows = await context.db.query<ScoreWindowRow>(
    renderSql(batch, 'score_sql', { now: context.now }, { score_history_n: diff_n + smooth_n + lags_n }),
  );
  const maxN = batch.config.score_max_n;
  // With a resample frequency, scores land on bin timestamps that never match a raw point, so
  // every bin of the window is scored again (the upsert keeps one row per bin).
  const toScore = new Map<string, Set<number>>();
  for (const row of rows) {
    if (row.metric_recency_rank <= maxN && (freq !== null || row.metric_score === null)) {
      let set = toScore.get(row.metric_name);
      if (!set) {
        set = new Set();
        toScore.set(row.metric_name, set);
      }
      set.add(row.metric_timestamp.getTime());
    }
  }
  if (toScore.size === 0) {
    return skipped(batch, 'score', rows.length === 0 ? 'no metric rows in the scoring window' : 'every recent point is already scored');
  }

  forgetUnconfiguredBatches([batch.name, ...context.batches.map((b) => b.name)]);
  const store = createModelStore(context.db, batch.config.model_path);
  const stored = await store.loadCurrent(batch.name);
  const configured = new Set(batch.config.model_configs.map((c) => c.model_tag));
  const modelsByMetric = new Map<string, FittedModel[]>();
  // Per metric, the smallest training set and the latest training time of its models (short histories retrain early).
  const trainedOn = new Map<string, { nTrain: number; at: number }>();
  for (const m of stored.models) {
    if (configured.has(m.tag)) {
      modelsByMetric.set(m.metric, [...(modelsByMetric.get(m.metric) ?? []), m.model]);
      const seen = trainedOn.get(m.metric);
      trainedOn.set(m.metric, { nTrain: Math.min(seen?.nTrain ?? Infinity, m.nTrain), at: Math.max(seen?.at ?? -Infinity, m.trainedAt.getTime()) });
    }
  }
  // As the original, a model that cannot be read is left out and the metric's other models score.
  const modelErrors = stored.errors.map((e) => `${e.metric} ${e.tag}: ${e.reason}`);
  if (modelErrors.length > 0) {
    context.log.warn({ modelErrors }, 'some models could not be read');
  }
  const skippedMetrics: Record<string, string> = {};
  const series = groupSeries(rows);
  const tasks: ScoreTask[] = [];
  for (const [metric, wanted] of toScore) {
    const models = modelsByMetric.get(metric);
    if (!models || models.length === 0) {
      skippedMetrics[metric] = stored.errors.some((e) => e.metric === metric)
        ? 'no readable model (see modelErrors)'
        : 'no model yet (train has not run for it, or it had too little data)';
      continue;
    }
    tasks.push({
      key: metric,
      points: series.get(metric) ?? [],
      preprocess: batch.config.preprocess_params,
      models,
      since: Math.min(...wanted),
      combination: batch.config.model_combination_method,
    });
  }

  const earlyN = earlyRetrainLimit(batch.config);
  const earlyRetrain = tasks
    .filter((task) => {
      const fit = trainedOn.get(task.key);
      return fit !== undefined && earlyRetrainDue(fit.nTrain, fit.at, (series.get(task.key) ?? []).map((p) => p.t), earlyN);
    })
    .map((task) => task.key);
  const rounding = batch.config.score_metric_rounding;
  const scores: MetricRow[] = [];
  const tags = new Map(tasks.map((task) => [task.key, task.models.map((m) => m.modelTag)]));
  const calibrated = new Map(tasks.map((task) => [task.key, allCalibrated(task.models.map((m) => m.modelName))]));
  // A steady run scores a point or two per metric: copying every model to the worker threads
  // then costs more than the scoring itself (1,000 metrics x 1 point: 3-5x slower in the pool).
  const points = [...toScore.values()].reduce((sum, set) => sum + set.size, 0);
  const mode = points < POOL_MIN_POINTS_PER_METRIC * tasks.length ? 'in-process' : 'auto';
  for (const result of await scoreMany(tasks, { mode })) {
    const wanted = toScore.get(result.key);
    const modelTags = tags.get(result.key) ?? [];
    if (result.errors.length > 0) {
      context.log.warn({ metric: result.key, errors: result.errors }, 'some models did not score');
    }
    if (result.combined.length === 0) {
      skippedMetrics[result.key] ??= result.errors.join('; ') || 'not enough history before the points to score';
      continue;
    }
    result.timestamps.forEach((t, i) => {
      if (freq === null && !wanted?.has(t)) {
        return;
      }
      const exact = calibrated.get(result.key) === true;
      const value = storedScore(result.combined[i] ?? 0, rounding, exact);
      const perModel: Record<string, number> = {};
      modelTags.forEach((tag, k) => {
        const score = result.scores[k]?.[i];
        if (score !== undefined) {
          perModel[tag] = roundHalfEven(score, exact ? rounding : 4);
        }
      });
      scores.push({
        metric_timestamp: new Date(t),
        metric_batch: batch.name,
        metric_name: result.key,
        metric_type: 'score',
        metric_value: value,
        // The expected range (value units) when the models give one: the alert message and the chart show it.
        metadata: {
          models: perModel,
          ...(result.band === null ? {} : { band: { lo: roundHalfEven(result.band.lo[i]!, 6), hi: roundHalfEven(result.band.hi[i]!, 6) } }),
          // Which detector gave the score (Conformal: window, jump or flatline), for the alert's "why".
          ...(result.fired === null || result.fired[i] === '' ? {} : { detector: result.fired[i] }),
        },
      });
    });
  }
  for (const [metric, reason] of Object.entries(skippedMetrics)) {
    context.log.info({ metric, reason }, 'metric not scored');
  }
  const written = context.dryRun ? scores.length : await upsertMetricRows(context.db, batch.config.table_key, scores);
  return {
    batch: batch.name,
    job: 'score',
    status: scores.length > 0 ? 'ok' : 'skipped',
    rows: written,
    ...(scores.length === 0 ? { reason: 'no metric could be scored' } : {}),
    details: { metrics: new Set(scores.map((s) => s.metric_name)).size, skipped: skippedMetrics, modelErrors, ...(earlyRetrain.length > 0 ? { earlyRetrain } : {}) },
    ...(context.dryRun ? { wouldWrite: scores } : {}),
  };
};
