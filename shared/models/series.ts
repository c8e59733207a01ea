import type { Point } from './index.js';

export interface SeriesRow {
  metric_timestamp: Date;
  metric_name: string;
  metric_value: number;
}

/** Rows of many metrics (ordered by name, then time) into one series of points per metric; added to `series` when given (rows read in chunks). */
export function groupSeries(rows: readonly SeriesRow[], series = new Map<string, Point[]>()): Map<string, Point[]> {
  for (const row of rows) {
    let points = series.get(row.metric_name);
    if (!points) {
      points = [];
      series.set(row.metric_name, points);
    }
    points.push({ t: row.metric_timestamp.getTime(), v: Number(row.metric_value) });
  }
  return series;
}
