/**
 * The alert job: per metric, the newest scored points; smoothed score against alert_threshold
 * among the newest alert_recent_n, with the snooze (shared/detect/alert-detect.ts); an `alert` row per new
 * alert and one message per configured channel, sent exactly once (deliveries.ts).
 */
import { readBand, readModelScores, type AlertMessage, type ExpectedRange } from '../../../shared/alerts/message.js';
import { allCalibrated } from '../../../shared/models/registry.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { renderSql } from '../../../shared/templates.js';
import { alertDetectConfig, detectAlerts, explainSilence, type AlertDetectConfig, type Silence } from '../../../shared/detect/alert-detect.js';
import { feedbackRule, suppressedBy } from '../../../shared/feedback/feedback.js';
import { readVerdicts } from '../../../shared/feedback/read.js';
import { defaultAlertDeps, type AlertDeps } from './channels.js';
import { notify } from './notify.js';
import { groupByMetric, lastN, sameTime, type WindowRow } from './window.js';


export function alertConfig(batch: MetricBatch): AlertDetectConfig & { maxN: number } {
  return { ...alertDetectConfig(batch.config), maxN: batch.config.alert_max_n };
}

/** The alert job core with its effects given; `alertBatch` is it with the process's. */
export function createAlertBatch(deps: AlertDeps = defaultAlertDeps): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.alert) {
      return skipped(batch, 'alert', 'alerts are disabled (disable_alert)');
    }
    const config = alertConfig(batch);
    // Enough points to chart alert_max_n, smooth the oldest of them and look back over the snooze.
    const windowN = Math.max(config.maxN, config.recentN) + config.smoothN + config.snoozeN;
    const rows = await context.db.query<WindowRow>(
      renderSql(batch, 'alert_sql', { now: context.now }, { alert_window_n: windowN }),
    );

    // Thumbs-downs within the horizon suppress alerts no more unusual than them (shared/feedback).
    const rule = feedbackRule(batch.config);
    const since = new Date(context.now.getTime() - rule.horizonMs - batch.config.alert_metric_timestamp_max_days_ago * 86_400_000);
    const verdicts = rule.horizonMs > 0 ? await readVerdicts(context.db, batch.config.table_key, batch.name, since) : [];
    const suppressed: { metric: string; timestamp: string; scoreSmooth: number; falseAlarm: string; falseAlarmScore: number }[] = [];

    const metrics = new Map<string, { rows: WindowRow[]; scoreSmooth: number[]; alerted: boolean[] }>();
    const newRows: MetricRow[] = [];
    const found: { metric: string; timestamp: string; score: number; scoreSmooth: number }[] = [];
    let snoozed = 0;
    // Why the metrics near the threshold (or without enough data) sent nothing this run.
    const silent: Record<string, Silence> = {};
    let farBelow = 0;
    for (const [metricName, metricRows] of groupByMetric(rows)) {
      const scored = metricRows.filter((row) => row.metric_score !== null);
      const inputs = scored.map((row) => ({ t: row.metric_timestamp, value: row.metric_value, score: row.metric_score!, alert: row.metric_alert > 0 }));
      const detection = detectAlerts(inputs, config);
      const alerted = scored.map((row) => row.metric_alert > 0);
      snoozed += detection.snoozed.length;
      const silence = detection.alerts.length === 0 ? explainSilence(inputs, detection, config, metricRows.length) : null;
      if (silence) {
        silent[metricName] = silence;
      } else if (detection.alerts.length === 0) {
        farBelow += 1;
      }
      for (const index of detection.alerts) {
        const row = scored[index]!;
        const scoreSmooth = detection.scoreSmooth[index]!;
        const by = suppressedBy(verdicts, metricName, row.metric_timestamp, scoreSmooth, rule)?.by;
        if (by) {
          suppressed.push({ metric: metricName, timestamp: row.metric_timestamp.toISOString(), scoreSmooth, falseAlarm: by.t.toISOString(), falseAlarmScore: by.scoreSmooth! });
          continue;
        }
        alerted[index] = true;
        found.push({ metric: metricName, timestamp: row.metric_timestamp.toISOString(), score: row.metric_score!, scoreSmooth });
        newRows.push({
          metric_timestamp: row.metric_timestamp,
          metric_batch: batch.name,
          metric_name: metricName,
          metric_type: 'alert',
          metric_value: 1,
          metadata: {
            metric_score: row.metric_score,
            metric_score_smooth: scoreSmooth,
            alert_threshold: config.threshold,
            ...withBand(readBand(row.score_metadata)),
          },
        });
      }
      metrics.set(metricName, { rows: scored, scoreSmooth: detection.scoreSmooth, alerted });
    }

    const buildMessage = (metricName: string, timestamp: Date): AlertMessage | null => {
      const data = metrics.get(metricName);
      const index = data?.rows.findIndex((row) => sameTime(row.metric_timestamp, timestamp)) ?? -1;
      if (data === undefined || index < 0) {
        return null;
      }
      const row = data.rows[index]!;
      const points = data.rows.map((r, i) => ({
        t: r.metric_timestamp,
        value: r.metric_value,
        score: r.metric_score,
        scoreSmooth: data.scoreSmooth[i] ?? null,
        alert: data.alerted[i] ?? false,
        change: r.metric_change > 0,
        tholdalert: r.metric_tholdalert > 0,
        band: readBand(r.score_metadata),
      }));
      return {
        kind: 'anomaly',
        batch: batch.name,
        metric: metricName,
        timestamp: row.metric_timestamp,
        value: row.metric_value,
        score: row.metric_score,
        scoreSmooth: data.scoreSmooth[index] ?? null,
        threshold: config.threshold,
        tags: { ...batch.config.metric_tags[metricName] },
        details: {},
        points: lastN(points, config.maxN),
        ...withExpected(readBand(row.score_metadata)),
        models: readModelScores(row.score_metadata, batch.config.model_configs, (name) => allCalibrated([name])),
      };
    };

    return notify(batch, context, deps, {
      job: 'alert',
      metricType: 'alert',
      methods: batch.config.alert_methods,
      rows: newRows,
      notify: newRows.map((row) => ({ metricName: row.metric_name, timestamp: row.metric_timestamp })),
      buildMessage,
      chartThreshold: () => config.threshold,
      details: { metrics: metrics.size, alerts: found, snoozed, silent, farBelow, suppressed },
    });
  };
}

export const alertBatch: JobCore = createAlertBatch();

function withBand(band: ExpectedRange | null): { band?: ExpectedRange } {
  return band === null ? {} : { band };
}

function withExpected(band: ExpectedRange | null): { expected?: ExpectedRange } {
  return band === null ? {} : { expected: band };
}
