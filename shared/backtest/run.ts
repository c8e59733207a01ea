import { performance } from 'node:perf_hooks';
import { detectAlerts } from '../detect/alert-detect.js';
import { roundHalfEven, storedScore } from '../metric-row.js';
import type { MetricRow } from '../models/backtest.js';
import type { PackedSeries } from '../models/preprocess.js';
import { allCalibrated } from '../models/registry.js';
import { replaySeries } from '../nab/replay.js';
import { trainRuns } from './schedule.js';
import type { BacktestSettings } from './settings.js';

/** One metric's replay, for progress and the report. */
export interface MetricSummary {
  name: string;
  /** Input rows, and distinct timestamps (points) among them. */
  rows: number;
  points: number;
  scored: number;
  alerts: number;
  fits: number;
  errors: string[];
  seconds: number;
}

export interface BacktestResult {
  /** Per input row, input order: the stored score, NaN before the metric's first model. */
  score: Float64Array;
  /** Per input row: 1 when the alert job would have alerted at that row's point. */
  alert: Uint8Array;
  metrics: MetricSummary[];
}

/**
 * Replays a history through the pipeline a batch configures (`anomstack backtest`): per metric, the
 * points the store would hold (duplicate timestamps averaged, values rounded as ingest rounds them),
 * train and score as the jobs would on the train cron (shared/nab/replay.ts), scores rounded as the
 * score job stores them, and the alert job's rule over them (shared/detect/alert-detect.ts). Every
 * input row gets its point's score and alert. `onMetric` is called as each metric finishes.
 */
export function runBacktest(
  rows: readonly MetricRow[],
  settings: BacktestSettings,
  onMetric?: (summary: MetricSummary, done: number, total: number) => void,
): BacktestResult {
  const result: BacktestResult = { score: new Float64Array(rows.length).fill(NaN), alert: new Uint8Array(rows.length), metrics: [] };
  const groups = rowsByMetric(rows);
  for (const [name, indexes] of groups) {
    const started = performance.now();
    const { points, rowPoint } = storeView(rows, indexes, settings.ingestRounding);
    const replay = replaySeries(name, points, settings.pipeline, trainRuns(settings.trainCron, points.t));
    const exact = allCalibrated(settings.pipeline.configs.map((c) => c.model_name));
    const scores = replay.scores.map((s) => (Number.isNaN(s) ? s : storedScore(s, settings.scoreRounding, exact)));
    const alerted = settings.alertsDisabled ? new Uint8Array(scores.length) : alertPoints(points, scores, settings);
    indexes.forEach((row, j) => {
      const p = rowPoint[j]!;
      result.score[row] = scores[p]!;
      result.alert[row] = alerted[p]!;
    });
    const summary: MetricSummary = {
      name,
      rows: indexes.length,
      points: points.t.length,
      scored: scores.reduce((count, s) => (Number.isNaN(s) ? count : count + 1), 0),
      alerts: alerted.reduce((count, a) => count + a, 0),
      fits: replay.fits,
      errors: [...replay.errors],
      seconds: (performance.now() - started) / 1000,
    };
    result.metrics.push(summary);
    onMetric?.(summary, result.metrics.length, groups.size);
  }
  return result;
}

/** The alert job only ever sees scored points, oldest first; returns a 0/1 flag per point. */
function alertPoints(points: PackedSeries, scores: Float64Array, settings: BacktestSettings): Uint8Array {
  const scored: number[] = [];
  for (let p = 0; p < scores.length; p++) {
    if (!Number.isNaN(scores[p]!)) {
      scored.push(p);
    }
  }
  const detection = detectAlerts(
    scored.map((p) => ({ t: new Date(points.t[p]!), value: points.v[p]!, score: scores[p]!, alert: false })),
    settings.alert,
  );
  const out = new Uint8Array(scores.length);
  detection.alerts.forEach((i) => (out[scored[i]!] = 1));
  return out;
}

/** Row indexes per metric, metrics in order of first appearance. */
function rowsByMetric(rows: readonly MetricRow[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const list = groups.get(row.metric_name);
    if (list === undefined) {
      groups.set(row.metric_name, [i]);
    } else {
      list.push(i);
    }
  });
  return groups;
}

/**
 * One metric's points as the store would hand them to the jobs: sorted by time, duplicate
 * timestamps averaged then rounded (docs/behaviour.md, "Ingest", step 3); `rowPoint[j]` is the point
 * of the metric's j-th row.
 */
function storeView(rows: readonly MetricRow[], indexes: readonly number[], rounding: number): { points: PackedSeries; rowPoint: Int32Array } {
  const order = indexes.map((_, j) => j).sort((a, b) => rows[indexes[a]!]!.metric_timestamp - rows[indexes[b]!]!.metric_timestamp || a - b);
  const t: number[] = [];
  const v: number[] = [];
  const rowPoint = new Int32Array(indexes.length);
  let sum = 0;
  let count = 0;
  const close = (): void => {
    if (count > 0) {
      v.push(roundHalfEven(sum / count, rounding));
    }
  };
  for (const j of order) {
    const row = rows[indexes[j]!]!;
    if (t.length === 0 || row.metric_timestamp !== t[t.length - 1]) {
      close();
      t.push(row.metric_timestamp);
      sum = 0;
      count = 0;
    }
    sum += row.metric_value;
    count++;
    rowPoint[j] = t.length - 1;
  }
  close();
  return { points: { t: Float64Array.from(t), v: Float64Array.from(v) }, rowPoint };
}
