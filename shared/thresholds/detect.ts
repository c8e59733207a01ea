/**
 * Threshold alerts (docs/behaviour.md, "Threshold alerts" and "Differences from the original"): strict comparisons, upper
 * before lower, at most one breach per row, snoozed across runs by the tholdalert rows already in
 * the table (the original only looked inside the current run). Pure: no I/O.
 */
import type { MetricRow } from '../metric-row.js';

/** A metric value to check; `MetricRow`s of type `metric` fit. */
export interface ThresholdInputRow {
  metric_name: string;
  metric_timestamp: Date;
  metric_value: number;
}

/** `tholdalert_thresholds`: per metric, an upper and/or a lower bound. */
export type Thresholds = Readonly<Record<string, { upper?: number; lower?: number }>>;

export interface ThresholdDetectOptions {
  /** metric_batch of the rows written. */
  batch: string;
  /** `tholdalert_recent_n`: only the newest n rows of each metric in `rows` are checked. */
  recentN: number;
  /** `tholdalert_snooze_n`: no breach when a tholdalert exists within the n points before it. */
  snoozeN: number;
  /** Timestamps of the tholdalert rows already in the table, per metric. */
  existing?: ReadonlyMap<string, readonly Date[]>;
  /**
   * Timestamps of the metric's points already in the table, per metric (any order; may overlap
   * `rows`). With `rows` they make the timeline the snooze counts its points on; without them
   * only `rows` are counted.
   */
  history?: ReadonlyMap<string, readonly Date[]>;
  /** `tholdalert_exclude_metrics`. */
  exclude?: readonly string[];
}

export interface ThresholdBreach {
  metricName: string;
  timestamp: Date;
  value: number;
  type: 'upper' | 'lower';
  /** The bound that was crossed. */
  bound: number;
  thresholds: { upper?: number; lower?: number };
  /** The `tholdalert` row to write (value 1, breach metadata as the original's). */
  row: MetricRow;
}

/**
 * Finds threshold breaches among `rows`. For each metric with an entry in `thresholds` (and not
 * excluded), the newest `recentN` rows are checked oldest first: `value > upper` is an upper
 * breach, else `value < lower` a lower one. A breach is dropped when a tholdalert row exists at
 * that time already, or at one of the `snoozeN` points before it on the metric's timeline
 * (`rows` plus `history`), counting breaches found earlier in this call.
 *
 * The ingest job calls this on the rows it has just ingested, with `existing` and `history`
 * read from the table (see `loadThresholdContext` in tholdalert.ts), and upserts `breach.row`.
 */
export function detectThresholdBreaches(
  rows: readonly ThresholdInputRow[],
  thresholds: Thresholds,
  options: ThresholdDetectOptions,
): ThresholdBreach[] {
  const excluded = new Set(options.exclude ?? []);
  const byMetric = new Map<string, ThresholdInputRow[]>();
  for (const row of rows) {
    if (!Object.hasOwn(thresholds, row.metric_name) || excluded.has(row.metric_name)) {
      continue;
    }
    if (!Number.isFinite(row.metric_value) || !Number.isFinite(row.metric_timestamp.getTime())) {
      continue;
    }
    const list = byMetric.get(row.metric_name) ?? [];
    list.push(row);
    byMetric.set(row.metric_name, list);
  }
  const breaches: ThresholdBreach[] = [];
  const recentN = Math.max(0, Math.floor(options.recentN));
  const snoozeN = Math.max(0, Math.floor(options.snoozeN));
  if (recentN === 0) {
    return breaches;
  }
  for (const [metricName, metricRows] of [...byMetric].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const bounds = thresholds[metricName]!;
    // Duplicate timestamps: the later row wins, as an upsert would.
    const byTime = new Map<number, ThresholdInputRow>();
    for (const row of metricRows) {
      byTime.set(row.metric_timestamp.getTime(), row);
    }
    const candidates = [...byTime.values()]
      .sort((a, b) => a.metric_timestamp.getTime() - b.metric_timestamp.getTime())
      .slice(-recentN);
    const timeline = [
      ...new Set([...byTime.keys(), ...(options.history?.get(metricName) ?? []).map((date) => date.getTime())]),
    ].sort((a, b) => a - b);
    const alerted = new Set((options.existing?.get(metricName) ?? []).map((date) => date.getTime()));
    for (const row of candidates) {
      const t = row.metric_timestamp.getTime();
      const value = row.metric_value;
      const type =
        bounds.upper !== undefined && value > bounds.upper
          ? 'upper'
          : bounds.lower !== undefined && value < bounds.lower
            ? 'lower'
            : null;
      if (type === null || alerted.has(t)) {
        continue;
      }
      const position = timeline.indexOf(t);
      const before = timeline.slice(Math.max(0, position - snoozeN), position);
      if (before.some((earlier) => alerted.has(earlier))) {
        continue;
      }
      alerted.add(t);
      const bound = type === 'upper' ? bounds.upper! : bounds.lower!;
      const thresholdsCopy = { ...bounds };
      breaches.push({
        metricName,
        timestamp: row.metric_timestamp,
        value,
        type,
        bound,
        thresholds: thresholdsCopy,
        row: {
          metric_timestamp: row.metric_timestamp,
          metric_batch: options.batch,
          metric_name: metricName,
          metric_type: 'tholdalert',
          metric_value: 1,
          metadata: {
            thresholds: thresholdsCopy,
            breached_threshold_type: type,
            breached_threshold_value: bound,
            metric_value_at_breach: value,
          },
        },
      });
    }
  }
  return breaches;
}
