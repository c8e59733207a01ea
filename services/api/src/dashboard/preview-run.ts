/**
 * The Preview page's work, without HTTP: the form's settings parsed (errors name the field), a
 * history (the batch's stored points or an uploaded CSV) replayed through `anomstack backtest`'s
 * core (shared/backtest) with the batch's config and the edited alert settings, and per metric
 * the chart columns with the alerts it would have sent. Bounded: runBacktest is synchronous on
 * the api's event loop, so the input is capped and metrics stop once the time budget is spent.
 */
import { performance } from 'node:perf_hooks';
import { runBacktest } from '../../../../shared/backtest/run.js';
import { backtestSettings, type BacktestSettings } from '../../../../shared/backtest/settings.js';
import type { MetricBatch } from '../../../../shared/config/metric-batch.js';
import type { MetricRow } from '../../../../shared/models/backtest.js';
import type { Series } from './queries.js';

export const PREVIEW_LIMITS = {
  /** Metrics replayed per request (the first by name among those matched). */
  metrics: 12,
  /** Newest points per metric read from the store; the default of the form. */
  points: 1000,
  maxPoints: 3000,
  /** Rows of an uploaded CSV, all metrics together. */
  csvRows: 20_000,
  /** Bytes of the form (the CSV is most of it). */
  bodyBytes: 1_500_000,
  /** Wall time for the replays; metrics after it are listed as not run. */
  budgetMs: 10_000,
} as const;

export class PreviewInputError extends Error {}

/** The form's fields. Empty means "the batch's own". */
export interface PreviewForm {
  batch: string;
  metric: string | null;
  points: number;
  threshold: number | null;
  smoothN: number | null;
  snoozeN: number | null;
  csv: string | null;
}

function numberField(body: Record<string, unknown>, key: string, check: (n: number) => boolean, rule: string): number | null {
  const raw = body[key];
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    return null;
  }
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(n) || !check(n)) {
    throw new PreviewInputError(`${key}: "${String(raw).slice(0, 40)}" is not ${rule}`);
  }
  return n;
}

const isCount = (max: number) => (n: number) => Number.isInteger(n) && n >= 0 && n <= max;

export function parsePreviewForm(body: Record<string, unknown>): PreviewForm {
  const batch = typeof body.batch === 'string' ? body.batch : '';
  if (batch === '') {
    throw new PreviewInputError('batch: pick a batch (its config is the one replayed)');
  }
  const metric = typeof body.metric === 'string' && body.metric.trim() !== '' ? body.metric.trim().slice(0, 500) : null;
  if (metric !== null) {
    try {
      new RegExp(metric);
    } catch (error) {
      throw new PreviewInputError(`metric: not a valid regular expression: ${(error as Error).message}`);
    }
  }
  const csv = typeof body.csv === 'string' && body.csv.trim() !== '' ? body.csv : null;
  return {
    batch,
    metric,
    points: numberField(body, 'points', (n) => Number.isInteger(n) && n >= 10 && n <= PREVIEW_LIMITS.maxPoints, `a whole number from 10 to ${PREVIEW_LIMITS.maxPoints}`) ?? PREVIEW_LIMITS.points,
    threshold: numberField(body, 'alert_threshold', (n) => n >= 0 && n <= 1, 'a number from 0 to 1'),
    smoothN: numberField(body, 'alert_smooth_n', isCount(1000), 'a whole number from 0 to 1000'),
    snoozeN: numberField(body, 'alert_snooze_n', isCount(100_000), 'a whole number from 0 to 100000'),
    csv,
  };
}

/** The batch's backtest settings with the form's alert settings over them. */
export function previewSettings(batch: MetricBatch, form: PreviewForm): BacktestSettings {
  let settings: BacktestSettings;
  try {
    settings = backtestSettings(batch);
  } catch (error) {
    throw new PreviewInputError((error as Error).message);
  }
  return {
    ...settings,
    // The preview is about what would be sent: alerts on even where the batch disables them.
    alertsDisabled: false,
    alert: {
      ...settings.alert,
      threshold: form.threshold ?? settings.alert.threshold,
      smoothN: form.smoothN ?? settings.alert.smoothN,
      snoozeN: form.snoozeN ?? settings.alert.snoozeN,
    },
  };
}

export interface PreviewMetric {
  name: string;
  series: Series;
  alerts: number;
  /** Times of the alerts, ISO. */
  alertTimes: string[];
  errors: string[];
}

export interface PreviewResult {
  threshold: number;
  metrics: PreviewMetric[];
  /** Metrics matched but not replayed: over the metric cap or the time budget. */
  notRun: string[];
  rows: number;
  seconds: number;
}

/** Rows of the metrics to replay, grouped and sorted by time; the others named in `notRun`. */
function pickMetrics(rows: readonly MetricRow[], pattern: string | null): { groups: Map<string, MetricRow[]>; notRun: string[] } {
  const match = pattern === null ? null : new RegExp(pattern);
  const all = new Map<string, MetricRow[]>();
  for (const row of rows) {
    if (match !== null && !match.test(row.metric_name)) {
      continue;
    }
    const list = all.get(row.metric_name) ?? [];
    list.push(row);
    all.set(row.metric_name, list);
  }
  const names = [...all.keys()].sort();
  const groups = new Map<string, MetricRow[]>();
  for (const name of names.slice(0, PREVIEW_LIMITS.metrics)) {
    groups.set(name, all.get(name)!.sort((a, b) => a.metric_timestamp - b.metric_timestamp));
  }
  return { groups, notRun: names.slice(PREVIEW_LIMITS.metrics) };
}

/** Replays `rows` with `settings`, one metric at a time, within the time budget. */
export function runPreview(rows: readonly MetricRow[], settings: BacktestSettings, form: Pick<PreviewForm, 'metric'>, budgetMs: number = PREVIEW_LIMITS.budgetMs): PreviewResult {
  const started = performance.now();
  const { groups, notRun } = pickMetrics(rows, form.metric);
  const metrics: PreviewMetric[] = [];
  const outOfTime: string[] = [];
  for (const [name, metricRows] of groups) {
    if (performance.now() - started > budgetMs) {
      outOfTime.push(name);
      continue;
    }
    const result = runBacktest(metricRows, settings);
    const n = metricRows.length;
    const zeros = (): number[] => new Array<number>(n).fill(0);
    const series: Series = {
      t: metricRows.map((r) => r.metric_timestamp / 1000),
      value: metricRows.map((r) => r.metric_value),
      score: Array.from(result.score, (s) => (Number.isNaN(s) ? null : s)),
      alert: Array.from(result.alert),
      change: zeros(),
      tholdalert: zeros(),
      llmalert: zeros(),
      thumbsup: zeros(),
      thumbsdown: zeros(),
      lo: new Array<number | null>(n).fill(null),
      hi: new Array<number | null>(n).fill(null),
    };
    const alertTimes = metricRows.filter((_, i) => result.alert[i] === 1).map((r) => new Date(r.metric_timestamp).toISOString());
    metrics.push({ name, series, alerts: alertTimes.length, alertTimes, errors: result.metrics[0]?.errors ?? [] });
  }
  return { threshold: settings.alert.threshold, metrics, notRun: [...outOfTime, ...notRun], rows: [...groups.values()].reduce((sum, g) => sum + g.length, 0), seconds: (performance.now() - started) / 1000 };
}
