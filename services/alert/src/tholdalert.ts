/**
 * Threshold alerts. The ingest job detects breaches on what it has just ingested
 * (`detectThresholdBreaches`, with `loadThresholdContext` for the snooze across runs) and writes
 * the tholdalert rows; this job sends the notifications for recent tholdalert rows not yet
 * delivered, and, run on its own (`anomstack run <batch> tholdalert`), also checks the newest
 * rows in the table and writes the breaches it finds.
 */
import type { AlertMessage } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { defaultAlertDeps, type AlertDeps } from './channels.js';
import { notify } from './notify.js';
import { thresholdMetrics } from '../../../shared/thresholds/context.js';
import { detectThresholdBreaches } from '../../../shared/thresholds/detect.js';
import { groupByMetric, lastN, sameTime, toChartPoints, type WindowRow } from './window.js';

interface BreachFacts {
  type: string;
  bound: number;
}

function breachFacts(metadata: Record<string, unknown> | null | undefined): BreachFacts | null {
  const type = metadata?.breached_threshold_type;
  const bound = metadata?.breached_threshold_value;
  return typeof type === 'string' && typeof bound === 'number' ? { type, bound } : null;
}

export function createTholdalertBatch(deps: AlertDeps = defaultAlertDeps): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.tholdalert) {
      return skipped(batch, 'tholdalert', 'threshold alerts are disabled (disable_tholdalert)');
    }
    const metrics = thresholdMetrics(batch);
    if (metrics.length === 0) {
      return skipped(batch, 'tholdalert', 'no tholdalert_thresholds');
    }
    const recentN = batch.config.tholdalert_recent_n;
    const snoozeN = batch.config.tholdalert_snooze_n;
    const maxN = batch.config.alert_max_n;
    const smoothN = batch.config.alert_smooth_n;
    const windowRows = await context.db.run<WindowRow>(
      'select_metric_window',
      [batch.name, metrics, context.now, batch.config.alert_metric_timestamp_max_days_ago, Math.max(maxN, 2 * (recentN + snoozeN) + 10)],
      { table: batch.config.table_key },
    );
    const byMetric = groupByMetric(windowRows);

    // Check the newest rows in the table, as the ingest does on what it ingests.
    const existing = new Map<string, Date[]>();
    const history = new Map<string, Date[]>();
    for (const [metricName, rows] of byMetric) {
      history.set(metricName, rows.map((row) => row.metric_timestamp));
      existing.set(metricName, rows.filter((row) => row.metric_tholdalert > 0).map((row) => row.metric_timestamp));
    }
    const breaches = detectThresholdBreaches(windowRows, batch.config.tholdalert_thresholds, {
      batch: batch.name,
      recentN,
      snoozeN,
      existing,
      history,
      exclude: batch.config.tholdalert_exclude_metrics,
    });
    const newRows: MetricRow[] = breaches.map((breach) => breach.row);
    const facts = new Map<string, BreachFacts>();
    for (const breach of breaches) {
      facts.set(`${breach.metricName}\u0000${breach.timestamp.getTime()}`, { type: breach.type, bound: breach.bound });
      const row = byMetric.get(breach.metricName)?.find((r) => sameTime(r.metric_timestamp, breach.timestamp));
      if (row !== undefined) {
        row.metric_tholdalert = 1;
      }
    }

    // Notify about the tholdalert rows among each metric's newest recent_n + snooze_n points
    // (the ingest's and this run's); already delivered ones are left alone by the delivery key.
    const toNotify: { metricName: string; timestamp: Date }[] = [];
    for (const [metricName, rows] of byMetric) {
      for (const row of lastN(rows, recentN + snoozeN)) {
        if (row.metric_tholdalert > 0) {
          toNotify.push({ metricName, timestamp: row.metric_timestamp });
        }
      }
    }

    const buildMessage = (metricName: string, timestamp: Date): AlertMessage | null => {
      const rows = byMetric.get(metricName);
      const index = rows?.findIndex((row) => sameTime(row.metric_timestamp, timestamp)) ?? -1;
      if (rows === undefined || index < 0) {
        return null;
      }
      const row = rows[index]!;
      const breach =
        facts.get(`${metricName}\u0000${timestamp.getTime()}`) ?? breachFacts(row.tholdalert_metadata) ?? null;
      const points = toChartPoints(rows, smoothN);
      const bounds = batch.config.tholdalert_thresholds[metricName] ?? {};
      const details: Record<string, string | number> = {};
      if (breach !== null) {
        details.bound = breach.type;
        details.bound_value = breach.bound;
      }
      if (bounds.upper !== undefined) {
        details.upper = bounds.upper;
      }
      if (bounds.lower !== undefined) {
        details.lower = bounds.lower;
      }
      return {
        kind: 'threshold',
        batch: batch.name,
        metric: metricName,
        timestamp: row.metric_timestamp,
        value: row.metric_value,
        score: row.metric_score,
        scoreSmooth: points[index]?.scoreSmooth ?? null,
        threshold: null,
        tags: { ...batch.config.metric_tags[metricName] },
        details,
        points: lastN(points, maxN),
      };
    };

    return notify(batch, context, deps, {
      job: 'tholdalert',
      metricType: 'tholdalert',
      methods: batch.config.tholdalert_methods,
      rows: newRows,
      notify: toNotify,
      buildMessage,
      // The score panel is the anomaly score's; its line stays alert_threshold.
      chartThreshold: () => batch.config.alert_threshold,
      details: {
        metrics: byMetric.size,
        breaches: breaches.map((b) => ({ metric: b.metricName, timestamp: b.timestamp.toISOString(), type: b.type, bound: b.bound, value: b.value })),
      },
    });
  };
}

export const tholdalertBatch: JobCore = createTholdalertBatch();
