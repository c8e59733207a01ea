import type { MetricBatch } from '../../../../shared/config/metric-batch.js';
import type { Db } from '../../../../shared/db/db.js';
import { upsertMetricRows } from '../../../../shared/db/metrics-store.js';
import type { Window } from './window.js';

/**
 * What the dashboard reads, each through a named statement of shared/db/sql/dashboard_*.sql on
 * the metrics table's (batch, type, timestamp, name) index or the job-runs index.
 */

export class UserInputError extends Error {
  override name = 'UserInputError';
}

const UNDEFINED_TABLE = '42P01';
const INVALID_REGEX = '2201B';

const codeOf = (error: unknown): string | undefined => (error as { code?: string }).code;

/** A batch whose table was never created has no rows yet: read as empty. */
async function orEmpty<T>(read: () => Promise<T[]>): Promise<T[]> {
  try {
    return await read();
  } catch (error) {
    if (codeOf(error) === UNDEFINED_TABLE) {
      return [];
    }
    if (codeOf(error) === INVALID_REGEX) {
      throw new UserInputError(`not a valid regular expression: ${(error as Error).message}`);
    }
    throw error;
  }
}

const toNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export interface BatchSummary {
  newest: Date | null;
  metrics: number;
  alerts: number;
  changes: number;
  tholdalerts: number;
  falseAlarms: number;
  meanScore: number | null;
}

export async function batchSummary(db: Db, batch: MetricBatch, since: Date): Promise<BatchSummary> {
  const [row] = await orEmpty(() => db.run<Record<string, unknown>>('dashboard_batch_summary', [batch.name, since], { table: batch.config.table_key }));
  return {
    newest: (row?.newest as Date | null | undefined) ?? null,
    metrics: Number(row?.metrics ?? 0),
    alerts: Number(row?.alerts ?? 0),
    changes: Number(row?.changes ?? 0),
    tholdalerts: Number(row?.tholdalerts ?? 0),
    falseAlarms: Number(row?.false_alarms ?? 0),
    meanScore: toNumber(row?.mean_score),
  };
}

export interface FailedRun {
  id: number;
  batch: string;
  job: string;
  startedAt: Date;
  error: string | null;
  failures: number;
}

export async function failedRunsByBatch(db: Db, since: Date): Promise<Map<string, FailedRun>> {
  const rows = await db.run<Record<string, unknown>>('dashboard_failed_runs', [since]);
  return new Map(
    rows.map((r) => [
      String(r.metric_batch),
      { id: Number(r.id), batch: String(r.metric_batch), job: String(r.job), startedAt: r.started_at as Date, error: (r.error as string | null) ?? null, failures: Number(r.failures) },
    ]),
  );
}

export interface MetricStat {
  name: string;
  points: number;
  newest: Date;
  alerts: number;
  changes: number;
  tholdalerts: number;
  meanScore: number | null;
  anomalyRate: number;
}

/** Every metric of the batch in the window, matching `pattern` (a Postgres regex), highest anomaly rate first. */
export async function metricStats(db: Db, batch: MetricBatch, window: Window, pattern: string | null): Promise<MetricStat[]> {
  const rows = await orEmpty(() =>
    db.run<Record<string, unknown>>('dashboard_metric_stats', [batch.name, window.since, pattern, window.points], { table: batch.config.table_key }),
  );
  return rows.map((r) => ({
    name: String(r.metric_name),
    points: Number(r.points),
    newest: r.newest as Date,
    alerts: Number(r.alerts),
    changes: Number(r.changes),
    tholdalerts: Number(r.tholdalerts),
    meanScore: toNumber(r.mean_score),
    anomalyRate: Number(r.anomaly_rate),
  }));
}

/** Columns of one metric's chart, uPlot's shape: times in seconds, null where absent. */
export interface Series {
  t: number[];
  value: number[];
  score: (number | null)[];
  alert: number[];
  change: number[];
  tholdalert: number[];
  llmalert: number[];
  thumbsup: number[];
  thumbsdown: number[];
  /** The expected band (value units) where the score row's metadata has `band: {lo, hi}`; else null. */
  lo: (number | null)[];
  hi: (number | null)[];
}

const FLAGS = ['alert', 'change', 'tholdalert', 'llmalert', 'thumbsup', 'thumbsdown'] as const;

export async function seriesOf(db: Db, batch: MetricBatch, names: readonly string[], window: Window): Promise<Map<string, Series>> {
  const out = new Map<string, Series>();
  if (names.length === 0) {
    return out;
  }
  const rows = await orEmpty(() =>
    db.run<Record<string, unknown>>('dashboard_series', [batch.name, names, window.since, window.points], { table: batch.config.table_key }),
  );
  for (const r of rows) {
    const name = String(r.metric_name);
    let s = out.get(name);
    if (!s) {
      s = { t: [], value: [], score: [], alert: [], change: [], tholdalert: [], llmalert: [], thumbsup: [], thumbsdown: [], lo: [], hi: [] };
      out.set(name, s);
    }
    s.t.push((r.metric_timestamp as Date).getTime() / 1000);
    s.value.push(Number(r.metric_value));
    s.score.push(toNumber(r.metric_score));
    s.lo.push(toNumber(r.band_lo));
    s.hi.push(toNumber(r.band_hi));
    for (const flag of FLAGS) {
      s[flag].push(Number(r[`metric_${flag}`]) > 0 ? 1 : 0);
    }
  }
  return out;
}

export const ALERT_TYPES = ['alert', 'change', 'tholdalert', 'llmalert'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

export interface Anomaly {
  batch: string;
  metric: string;
  type: AlertType;
  time: Date;
  metadata: Record<string, unknown> | null;
  value: number | null;
  verdict: 'up' | 'down' | null;
  spark: number[];
}

/**
 * The newest alert-type rows across batches, `offset` rows skipped. Batches may live in
 * different tables: each table gives its newest `offset + limit` and the lists are merged.
 */
export async function anomalies(
  db: Db,
  batches: readonly MetricBatch[],
  options: { types: readonly AlertType[]; limit: number; offset: number; metric?: string | null },
): Promise<Anomaly[]> {
  const byTable = new Map<string, string[]>();
  for (const batch of batches) {
    byTable.set(batch.config.table_key, [...(byTable.get(batch.config.table_key) ?? []), batch.name]);
  }
  const take = options.offset + options.limit;
  const lists = await Promise.all(
    [...byTable].map(([table, names]) =>
      orEmpty(() => db.run<Record<string, unknown>>('dashboard_anomalies', [names, options.types, take, options.metric ?? null], { table })),
    ),
  );
  return lists
    .flat()
    .map(
      (r): Anomaly => ({
        batch: String(r.metric_batch),
        metric: String(r.metric_name),
        type: String(r.metric_type) as AlertType,
        time: r.metric_timestamp as Date,
        metadata: (r.metadata as Record<string, unknown> | null) ?? null,
        value: toNumber(r.metric_value),
        verdict: r.thumbsdown ? 'down' : r.thumbsup ? 'up' : null,
        spark: ((r.spark as number[] | null) ?? []).map(Number),
      }),
    )
    .sort((a, b) => b.time.getTime() - a.time.getTime() || a.batch.localeCompare(b.batch) || a.metric.localeCompare(b.metric) || a.type.localeCompare(b.type))
    .slice(options.offset, take);
}

export type Vote = 'up' | 'down' | 'clear';

/**
 * Stores a verdict on an alert as the original does: a `thumbsup` or `thumbsdown` row at the
 * alert's (batch, metric, timestamp). Idempotent (the upsert key), and a new verdict replaces
 * the other one in the same transaction. Returns false when there is no alert there.
 */
export async function setFeedback(db: Db, batch: MetricBatch, metric: string, time: Date, vote: Vote): Promise<boolean> {
  const table = batch.config.table_key;
  return db.transaction(async (tx) => {
    const types = (await orEmpty(() => tx.run<{ metric_type: string }>('dashboard_alert_types', [batch.name, metric, time], { table }))).map((r) => r.metric_type);
    if (types.length === 0) {
      return false;
    }
    const remove = vote === 'up' ? ['thumbsdown'] : vote === 'down' ? ['thumbsup'] : ['thumbsup', 'thumbsdown'];
    await tx.execute('dashboard_delete_feedback', [batch.name, metric, time, remove], { table });
    if (vote !== 'clear') {
      await upsertMetricRows(tx, table, [
        {
          metric_timestamp: time,
          metric_batch: batch.name,
          metric_name: metric,
          metric_type: vote === 'up' ? 'thumbsup' : 'thumbsdown',
          metric_value: 1,
          metadata: { source: 'dashboard', judged: types.sort() },
        },
      ]);
    }
    return true;
  });
}

export interface JobRun {
  id: number;
  batch: string;
  job: string;
  status: string;
  startedAt: Date;
  finishedAt: Date | null;
  rows: number;
  detail: Record<string, unknown> | null;
  error: string | null;
}

const toRun = (r: Record<string, unknown>): JobRun => ({
  id: Number(r.id),
  batch: String(r.metric_batch),
  job: String(r.job),
  status: String(r.status),
  startedAt: r.started_at as Date,
  finishedAt: (r.finished_at as Date | null) ?? null,
  rows: Number(r.rows_written),
  detail: (r.detail as Record<string, unknown> | null) ?? null,
  error: (r.error as string | null) ?? null,
});

export interface RunFilter {
  batch: string | null;
  job: string | null;
  status: string | null;
}

export async function jobRuns(db: Db, filter: RunFilter, limit: number, offset: number): Promise<JobRun[]> {
  return (await db.run<Record<string, unknown>>('dashboard_job_runs', [filter.batch, filter.job, filter.status, limit, offset])).map(toRun);
}

export async function jobRun(db: Db, id: number): Promise<JobRun | null> {
  const [row] = await db.run<Record<string, unknown>>('dashboard_job_run', [id]);
  return row ? toRun(row) : null;
}

export interface ModelVersion {
  tag: string;
  model: string;
  version: number;
  trainedAt: Date;
  nTrain: number;
}

export async function modelVersions(db: Db, batch: string, metric: string): Promise<ModelVersion[]> {
  return (await db.run<Record<string, unknown>>('dashboard_models', [batch, metric])).map((r) => ({
    tag: String(r.model_tag),
    model: String(r.model_name),
    version: Number(r.version),
    trainedAt: r.trained_at as Date,
    nTrain: Number(r.n_train),
  }));
}

/** The Preview page's stored history of a batch (dashboard_preview_history.sql), epoch-ms rows. */
export async function previewHistory(
  db: Db,
  batch: MetricBatch,
  options: { metric: string | null; points: number; metrics: number },
): Promise<{ metric_name: string; metric_timestamp: number; metric_value: number }[]> {
  const rows = await orEmpty(() =>
    db.run<{ metric_name: string; metric_timestamp: Date; metric_value: number }>(
      'dashboard_preview_history',
      [batch.name, options.metric, options.points, options.metrics],
      { table: batch.config.table_key },
    ),
  );
  return rows.map((r) => ({ metric_name: r.metric_name, metric_timestamp: r.metric_timestamp.getTime(), metric_value: Number(r.metric_value) }));
}

/**
 * Throws UserInputError when `pattern` is not a Postgres regex. The batch page checks only this
 * and leaves the per-metric stats to its charts.json (they were read twice per page view).
 */
export async function checkRegex(db: Db, pattern: string): Promise<void> {
  await orEmpty(() => db.query({ text: "select '' ~ $1::text as ok", values: [pattern] }));
}
