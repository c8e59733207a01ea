/**
 * Metric rows for the dashboard tests: a few metrics of a batch with values, scores and alert,
 * change and threshold rows at known points, written through the one write path.
 */
import type { Db } from '../../shared/db/db.js';
import { ensureMetricsTable, upsertMetricRows } from '../../shared/db/metrics-store.js';
import type { MetricRow, MetricType } from '../../shared/metric-row.js';

export interface SeedOptions {
  batch: string;
  table: string;
  /** Metric name -> the point indexes (0 = oldest) that carry an alert row. */
  alerts: Record<string, readonly number[]>;
  changes?: Record<string, readonly number[]>;
  tholdalerts?: Record<string, readonly number[]>;
  points: number;
  /** The newest point's time; points are `stepMs` apart before it. */
  end: Date;
  stepMs?: number;
}

/** Index -> timestamp of the seeded points. */
export const pointTime = (options: Pick<SeedOptions, 'end' | 'points' | 'stepMs'>, index: number): Date =>
  new Date(options.end.getTime() - (options.points - 1 - index) * (options.stepMs ?? 60_000));

/** Writes the rows and returns how many; values are a deterministic wave per metric, spiking at alerts. */
export async function seedMetrics(db: Db, options: SeedOptions): Promise<number> {
  const rows: MetricRow[] = [];
  const row = (name: string, type: MetricType, index: number, value: number, metadata: Record<string, unknown> | null = null): void => {
    rows.push({ metric_timestamp: pointTime(options, index), metric_batch: options.batch, metric_name: name, metric_type: type, metric_value: value, metadata });
  };
  Object.keys(options.alerts).forEach((name, m) => {
    const alerts = new Set(options.alerts[name]);
    for (let i = 0; i < options.points; i++) {
      const spike = alerts.has(i) ? 40 : 0;
      const value = Math.round((100 + m * 10 + 10 * Math.sin(i / 6 + m) + ((i * 7919) % 13) / 4 + spike) * 100) / 100;
      const score = alerts.has(i) ? 0.97 : Math.round((0.1 + 0.15 * Math.abs(Math.sin(i / 5))) * 1000) / 1000;
      row(name, 'metric', i, value);
      row(name, 'score', i, score, { models: { pca: score } });
      if (alerts.has(i)) {
        row(name, 'alert', i, 1, { metric_score: score, metric_score_smooth: score, alert_threshold: 0.8 });
      }
    }
    for (const i of options.changes?.[name] ?? []) {
      row(name, 'change', i, 1, { mad_score: 5.2, metric_value_smooth: 101, change_threshold: 3.5 });
    }
    for (const i of options.tholdalerts?.[name] ?? []) {
      row(name, 'tholdalert', i, 1, { breached_threshold_type: 'upper', breached_threshold_value: 130 });
    }
  });
  await ensureMetricsTable(db, options.table);
  return upsertMetricRows(db, options.table, rows);
}

/** The thumbs rows of one metric, as (type, ISO time) pairs, sorted. */
export async function feedbackRows(db: Db, table: string, batch: string, metric: string): Promise<string[]> {
  const rows = await db.query<{ metric_type: string; metric_timestamp: Date }>({
    text: `select metric_type, metric_timestamp from ${table} where metric_batch = $1 and metric_name = $2 and metric_type in ('thumbsup', 'thumbsdown') order by 2, 1`,
    values: [batch, metric],
  });
  return rows.map((r) => `${r.metric_type} ${r.metric_timestamp.toISOString()}`);
}
