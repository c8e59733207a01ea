/**
 * The change job: per metric, the newest change_max_n values, smoothed; the MAD score of the
 * newest change_detect_last_n against the earlier ones (change-detect.ts); a `change` row and a
 * message per channel for each change, sent exactly once (deliveries.ts).
 */
import type { AlertMessage } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { renderSql } from '../../../shared/templates.js';
import { detectChanges, type ChangeDetectConfig } from './change-detect.js';
import { defaultAlertDeps, type AlertDeps } from './channels.js';
import { notify } from './notify.js';
import { groupByMetric, lastN, sameTime } from './window.js';

export type { ChangeDetectConfig, ChangeDetection, ChangeInputPoint } from './change-detect.js';

interface ChangeRow {
  metric_timestamp: Date;
  metric_name: string;
  metric_value: number;
  metric_change: number;
}

export function changeConfig(batch: MetricBatch): ChangeDetectConfig {
  return {
    threshold: batch.config.change_threshold,
    smoothN: batch.config.change_smooth_n,
    detectLastN: batch.config.change_detect_last_n,
    snoozeN: batch.config.change_snooze_n,
  };
}

/**
 * MAD scores are unbounded (x/0 is about 1.8e308); the chart's score axis shows them up to this
 * multiple of the threshold so the rest of the series stays readable.
 */
const CHART_SCORE_CAP = 3;

export function createChangeBatch(deps: AlertDeps = defaultAlertDeps): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.change) {
      return skipped(batch, 'change', 'change alerts are disabled (disable_change)');
    }
    const config = changeConfig(batch);
    const maxPlotted = batch.config.alert_max_n;
    const rows = await context.db.query<ChangeRow>(renderSql(batch, 'change_sql', { now: context.now }));

    const metrics = new Map<string, { rows: ChangeRow[]; smoothed: number[]; scores: number[]; changed: boolean[] }>();
    const newRows: MetricRow[] = [];
    const found: { metric: string; timestamp: string; value: number; score: number }[] = [];
    const notChecked: Record<string, string> = {};
    for (const [metricName, metricRows] of groupByMetric(rows)) {
      const detection = detectChanges(
        metricRows.map((row) => ({ t: row.metric_timestamp, value: row.metric_value, change: row.metric_change > 0 })),
        config,
      );
      if (detection.reason !== undefined) {
        notChecked[metricName] = detection.reason;
      }
      const changed = metricRows.map((row) => row.metric_change > 0);
      for (const index of detection.changes) {
        const row = metricRows[index]!;
        changed[index] = true;
        const score = detection.scores[index]!;
        found.push({ metric: metricName, timestamp: row.metric_timestamp.toISOString(), value: row.metric_value, score });
        newRows.push({
          metric_timestamp: row.metric_timestamp,
          metric_batch: batch.name,
          metric_name: metricName,
          metric_type: 'change',
          metric_value: 1,
          metadata: { mad_score: score, metric_value_smooth: detection.smoothed[index], change_threshold: config.threshold },
        });
      }
      metrics.set(metricName, { rows: metricRows, smoothed: detection.smoothed, scores: detection.scores, changed });
    }

    const buildMessage = (metricName: string, timestamp: Date): AlertMessage | null => {
      const data = metrics.get(metricName);
      const index = data?.rows.findIndex((row) => sameTime(row.metric_timestamp, timestamp)) ?? -1;
      if (data === undefined || index < 0) {
        return null;
      }
      const row = data.rows[index]!;
      const score = data.scores[index] ?? null;
      const cap = config.threshold * CHART_SCORE_CAP;
      const points = data.rows.map((r, i) => ({
        t: r.metric_timestamp,
        value: r.metric_value,
        score: Math.min(data.scores[i] ?? 0, cap),
        scoreSmooth: null,
        alert: false,
        change: data.changed[i] ?? false,
      }));
      return {
        kind: 'change',
        batch: batch.name,
        metric: metricName,
        timestamp: row.metric_timestamp,
        value: row.metric_value,
        // The MAD score is computed on smoothed values: it is the score compared with the threshold.
        score,
        scoreSmooth: score,
        threshold: config.threshold,
        tags: { ...batch.config.metric_tags[metricName] },
        details: { smoothed_value: Number((data.smoothed[index] ?? Number.NaN).toPrecision(10)) },
        points: lastN(points, maxPlotted),
      };
    };

    return notify(batch, context, deps, {
      job: 'change',
      metricType: 'change',
      methods: batch.config.alert_methods,
      rows: newRows,
      notify: newRows.map((row) => ({ metricName: row.metric_name, timestamp: row.metric_timestamp })),
      buildMessage,
      chartThreshold: () => config.threshold,
      details: { metrics: metrics.size, changes: found, notChecked },
    });
  };
}

export const changeBatch: JobCore = createChangeBatch();
