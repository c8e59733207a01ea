/**
 * What the ingest job needs to write threshold alerts on what it has just ingested: the
 * batch's thresholded metrics, the snooze context read from the table, and the breaches. Kept
 * apart from the tholdalert job so an ingest worker does not load the alert channels and charts.
 */
import { type MetricBatch } from '../config/metric-batch.js';
import type { Db } from '../db/db.js';
import { detectThresholdBreaches, type ThresholdBreach, type ThresholdInputRow } from './detect.js';

/** The metrics of a batch that have thresholds, less `tholdalert_exclude_metrics`. */
export function thresholdMetrics(batch: MetricBatch): string[] {
  const excluded = new Set(batch.config.tholdalert_exclude_metrics);
  return Object.keys(batch.config.tholdalert_thresholds)
    .filter((name) => !excluded.has(name))
    .sort();
}

/** What the snooze needs from the table: per metric, its newest points and tholdalert rows. */
export interface ThresholdContext {
  /** Timestamps of the tholdalert rows among the points read. */
  existing: Map<string, Date[]>;
  /** Timestamps of the points read. */
  history: Map<string, Date[]>;
}

/**
 * Reads, for each thresholded metric of the batch, its newest points (enough for
 * `tholdalert_recent_n` + `tholdalert_snooze_n`, with room for rows ingested out of order) up
 * to `now`, and which of them have a tholdalert row. Pass the result as `existing`/`history`
 * to `detectThresholdBreaches`.
 */
export async function loadThresholdContext(db: Db, batch: MetricBatch, now: Date): Promise<ThresholdContext> {
  const metrics = thresholdMetrics(batch);
  const existing = new Map<string, Date[]>();
  const history = new Map<string, Date[]>();
  if (metrics.length === 0) {
    return { existing, history };
  }
  const n = 2 * (batch.config.tholdalert_recent_n + batch.config.tholdalert_snooze_n) + 10;
  const rows = await db.run<{ metric_name: string; metric_timestamp: Date; metric_tholdalert: number }>(
    'select_metric_window',
    [batch.name, metrics, now, batch.config.alert_metric_timestamp_max_days_ago, n],
    { table: batch.config.table_key },
  );
  for (const row of rows) {
    history.set(row.metric_name, [...(history.get(row.metric_name) ?? []), row.metric_timestamp]);
    if (row.metric_tholdalert > 0) {
      existing.set(row.metric_name, [...(existing.get(row.metric_name) ?? []), row.metric_timestamp]);
    }
  }
  return { existing, history };
}

/**
 * For the ingest job: the threshold breaches among `rows` (the metric rows it has just
 * ingested), snoozed by the tholdalert rows already in the table. Empty when threshold alerts
 * are disabled or the batch has no thresholds. Upsert `breach.row` for each. `newest`: the
 * newest timestamp ingested, of any metric (a streamed ingest passes only the thresholded
 * metrics' rows); by default the newest of `rows`.
 */
export async function thresholdBreachesForIngest(
  db: Db,
  batch: MetricBatch,
  rows: readonly ThresholdInputRow[],
  newest?: Date,
): Promise<ThresholdBreach[]> {
  if (batch.disabled.tholdalert || thresholdMetrics(batch).length === 0 || rows.length === 0) {
    return [];
  }
  if (newest === undefined) {
    // A loop, not Math.max(...rows): an ingest can return more rows than fit as arguments.
    let newestTime = -Infinity;
    for (const row of rows) {
      newestTime = Math.max(newestTime, row.metric_timestamp.getTime());
    }
    newest = new Date(newestTime);
  }
  const { existing, history } = await loadThresholdContext(db, batch, newest);
  return detectThresholdBreaches(rows, batch.config.tholdalert_thresholds, {
    batch: batch.name,
    recentN: batch.config.tholdalert_recent_n,
    snoozeN: batch.config.tholdalert_snooze_n,
    existing,
    history,
    exclude: batch.config.tholdalert_exclude_metrics,
  });
}
