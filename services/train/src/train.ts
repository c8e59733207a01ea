import { skipped, type JobCore } from '../../../shared/job.js';
import { createModelStore, type ModelToSave } from '../../../shared/model-store.js';
import { trainMany } from '../../../shared/models/pool.js';
import { logSink, startProgress } from '../../../shared/progress.js';
import type { Point } from '../../../shared/models/index.js';
import { renderSql } from '../../../shared/templates.js';
import { groupSeries, type SeriesRow } from '../../../shared/models/series.js';
import { withoutFalseAlarms } from '../../../shared/feedback/feedback.js';
import { readVerdicts } from '../../../shared/feedback/read.js';

/**
 * Train: per metric, the training window from train_sql (newest train_max_n points within
 * train_metric_timestamp_max_days_ago), preprocessed and fitted with every model config. A
 * metric with too little data is skipped with a reason; the others are trained.
 */
export const trainBatch: JobCore = async (batch, context) => {
  if (batch.disabled.train) {
    return skipped(batch, 'train', 'disable_train is set');
  }
  // Through a cursor, grouped as the rows come: the row objects of a large batch are never all held.
  const grouped = new Map<string, Point[]>();
  await context.db.forEachChunk<SeriesRow>(renderSql(batch, 'train_sql', { now: context.now }), TRAIN_READ_CHUNK_ROWS, (rows) => {
    groupSeries(rows, grouped);
  });
  // Points the user thumbed down as false alarms stay out of training (shared/feedback).
  const since = new Date(context.now.getTime() - batch.config.train_metric_timestamp_max_days_ago * 86_400_000);
  const verdicts = await readVerdicts(context.db, batch.config.table_key, batch.name, since);
  const { series, excluded: falseAlarmsExcluded } = withoutFalseAlarms(grouped, verdicts);
  if (series.size === 0) {
    return skipped(batch, 'train', 'no metric rows in the training window');
  }
  const minN = batch.config.train_min_n;
  const skippedMetrics: Record<string, string> = {};
  const tasks: { key: string; points: Point[] }[] = [];
  for (const [metric, points] of series) {
    if (points.length < minN) {
      skippedMetrics[metric] = `${points.length} points, train_min_n is ${minN}`;
    } else {
      tasks.push({ key: metric, points });
    }
  }
  const results = await trainInChunks(batch.name, tasks.map((task) => ({ ...task, preprocess: batch.config.preprocess_params, configs: batch.config.model_configs })), context.log);
  const store = createModelStore(context.db, batch.config.model_path);
  const version = await store.nextVersion(batch.name, Math.max(context.now.getTime(), Date.now()));
  const trained: string[] = [];
  const toSave: ModelToSave[] = [];
  for (const result of results) {
    if (result.models.length === 0) {
      skippedMetrics[result.key] =
        result.errors.length > 0 ? result.errors.join('; ') : `no rows left after preprocessing (${result.nTrain})`;
      continue;
    }
    if (result.errors.length > 0) {
      context.log.warn({ metric: result.key, errors: result.errors }, 'some models did not fit');
    }
    trained.push(result.key);
    toSave.push(...result.models.map((model) => ({ metric: result.key, model, nTrain: result.nTrain })));
  }
  // One write for the batch (files in parallel, one insert): per-model round trips and fsyncs in series cost more than the fits.
  if (!context.dryRun) {
    await store.saveMany(batch.name, toSave, version);
  }
  const saved = toSave.length;
  for (const [metric, reason] of Object.entries(skippedMetrics)) {
    context.log.info({ metric, reason }, 'metric not trained');
  }
  return {
    batch: batch.name,
    job: 'train',
    status: trained.length > 0 ? 'ok' : 'skipped',
    rows: saved,
    ...(trained.length === 0 ? { reason: 'no metric had enough data to train' } : {}),
    details: { trained: trained.length, models: saved, version, skipped: skippedMetrics, falseAlarmsExcluded },
  };
};

/** Rows of train_sql read at a time. */
const TRAIN_READ_CHUNK_ROWS = 10_000;

/** From this many metrics a train logs its progress (start, every 5 s, end): a first train over many metrics takes a while. */
export const TRAIN_PROGRESS_MIN_METRICS = 100;
/** Metrics per trainMany call: enough for the worker pool to use every thread, small enough for a progress line every few seconds. */
const TRAIN_CHUNK = 256;

async function trainInChunks(
  batchName: string,
  tasks: Parameters<typeof trainMany>[0],
  log: Parameters<typeof logSink>[0],
): Promise<Awaited<ReturnType<typeof trainMany>>> {
  if (tasks.length < TRAIN_PROGRESS_MIN_METRICS) {
    return trainMany(tasks);
  }
  const progress = startProgress(logSink(log), { task: `train ${batchName}`, unit: 'metrics', total: tasks.length });
  const results: Awaited<ReturnType<typeof trainMany>> = [];
  for (let at = 0; at < tasks.length; at += TRAIN_CHUNK) {
    const chunk = tasks.slice(at, at + TRAIN_CHUNK);
    results.push(...(await trainMany(chunk)));
    progress.add(chunk.length);
  }
  progress.end(`${results.filter((r) => r.models.length > 0).length} fitted`);
  return results;
}
