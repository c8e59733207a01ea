/**
 * The rows the alert-side jobs read (one per metric and time, oldest first, as alerts.sql,
 * plot.sql and select_metric_window.sql return them) and what is drawn from them.
 */
import type { ChartPoint } from '../../../shared/alerts/chart.js';
import { readBand } from '../../../shared/alerts/message.js';
import { trailingMean } from '../../../shared/detect/alert-detect.js';

/** One point of a metric with its score and the alert rows at that time. */
export interface WindowRow {
  metric_timestamp: Date;
  metric_name: string;
  metric_value: number;
  metric_score: number | null;
  /** 1 when an `alert` row exists at this time, else 0. */
  metric_alert: number;
  metric_change: number;
  metric_tholdalert: number;
  /** alerts.sql and plot.sql (a user's SQL may leave it out): the score row's metadata. */
  score_metadata?: Record<string, unknown> | null;
  /** select_metric_window.sql only: the tholdalert row's metadata. */
  tholdalert_metadata?: Record<string, unknown> | null;
}

/** Rows per metric, each list sorted by time (oldest first); metrics in name order. */
export function groupByMetric<Row extends { metric_name: string; metric_timestamp: Date }>(
  rows: readonly Row[],
): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const list = groups.get(row.metric_name);
    if (list === undefined) {
      groups.set(row.metric_name, [row]);
    } else {
      list.push(row);
    }
  }
  for (const list of groups.values()) {
    list.sort((a, b) => a.metric_timestamp.getTime() - b.metric_timestamp.getTime());
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The smoothed score of each row as the alert job computes it (mean of the score at t and the
 * `smoothN` scored points before it), null where a row has no score.
 */
export function smoothScores(rows: readonly { metric_score: number | null }[], smoothN: number): (number | null)[] {
  const scored = rows.flatMap((row, index) => (row.metric_score === null ? [] : [{ index, score: row.metric_score }]));
  const smooth = trailingMean(
    scored.map((entry) => entry.score),
    smoothN,
  );
  const out: (number | null)[] = rows.map(() => null);
  scored.forEach((entry, k) => {
    out[entry.index] = smooth[k]!;
  });
  return out;
}

/** Chart points for rows (all flags from the rows), the smoothed score computed with `smoothN`. */
export function toChartPoints(rows: readonly WindowRow[], smoothN: number): ChartPoint[] {
  const smooth = smoothScores(rows, smoothN);
  return rows.map((row, index) => ({
    t: row.metric_timestamp,
    value: row.metric_value,
    score: row.metric_score,
    scoreSmooth: smooth[index] ?? null,
    alert: row.metric_alert > 0,
    change: row.metric_change > 0,
    tholdalert: row.metric_tholdalert > 0,
    band: readBand(row.score_metadata),
  }));
}

/** The last `n` items (all of them when n >= length). */
export function lastN<T>(items: readonly T[], n: number): T[] {
  return n <= 0 ? [] : items.slice(Math.max(0, items.length - n));
}

export const sameTime = (a: Date, b: Date): boolean => a.getTime() === b.getTime();
