/**
 * The second half of the alert, change and threshold-alert jobs, once detection has decided:
 * write the new rows and record their deliveries (one transaction), then send everything of
 * that kind still pending, and fail the job if a channel failed (the retry sends only that).
 */
import { renderAlertChart } from '../../../shared/alerts/chart.js';
import { alertSubject, type AlertMessage } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { alertMethods, routeFor } from '../../../shared/config/schema.js';
import { InputError } from '../../../shared/errors.js';
import type { JobContext, JobResult } from '../../../shared/job.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { createChannels, selectChannels, type AlertDeps, type ChannelName, type Channels } from './channels.js';
import {
  deliveryKeyParams,
  sendPending,
  throwIfFailed,
  writeRowsAndRecordDeliveries,
  type DeliveryKey,
} from './deliveries.js';

export interface NotifyPlan {
  job: 'alert' | 'change' | 'tholdalert' | 'llmalert';
  metricType: 'alert' | 'change' | 'tholdalert' | 'llmalert';
  /**
   * The batch's `alert_methods` (or `tholdalert_methods`) as written; a metric's `alert_methods`
   * tag replaces it for that metric (routeFor).
   */
  methods: string;
  /** New rows to write (alert, change or tholdalert rows). */
  rows: MetricRow[];
  /** Points to notify about: this run's new rows, plus any earlier ones not yet delivered. */
  notify: { metricName: string; timestamp: Date }[];
  buildMessage: (metricName: string, timestamp: Date) => AlertMessage | null;
  /** The threshold line of the chart's score panel. */
  chartThreshold: (message: AlertMessage) => number | null;
  /** Job-specific facts for the result. */
  details: Record<string, unknown>;
}

/** Builds the channels from the environment; a partly configured channel is a config error. */
export function openChannels(batch: MetricBatch, job: string, context: JobContext, deps: AlertDeps): Channels {
  try {
    return (deps.createChannels ?? createChannels)(context.env, context.log);
  } catch (error) {
    throw new InputError(`${batch.name} ${job}: ${(error as Error).message}`);
  }
}

export function chartFor(message: AlertMessage, threshold: number | null): Promise<Buffer> {
  return renderAlertChart({ title: alertSubject(message), threshold, points: message.points, focus: message.timestamp });
}

export async function notify(batch: MetricBatch, context: JobContext, deps: AlertDeps, plan: NotifyPlan): Promise<JobResult> {
  const channels = openChannels(batch, plan.job, context, deps);
  try {
    const routes = new Map(plan.notify.map(({ metricName }) => [metricName, routeFor(batch.config.metric_tags, metricName, plan.methods)]));
    const wanted: ChannelName[] = [...alertMethods(plan.methods), ...[...routes.values()].flat()];
    const { selected, unconfigured } = selectChannels(channels, wanted, context.log);
    const keys: DeliveryKey[] = plan.notify.flatMap(({ metricName, timestamp }) =>
      selected
        .filter((channel) => routes.get(metricName)!.includes(channel.name))
        .map((channel) => ({ batch: batch.name, metricName, metricType: plan.metricType, timestamp, channel: channel.name })),
    );
    const details = { ...plan.details, channels: selected.map((c) => c.name), notConfigured: unconfigured };
    if (context.dryRun) {
      // Read-only: which of the deliveries this run would record are not sent yet.
      const wouldSend: { metric: string; timestamp: string; channel: string }[] = [];
      for (const key of keys) {
        const [state] = await context.db.run<{ status: string }>('select_delivery', deliveryKeyParams(key));
        if (state?.status !== 'sent') {
          wouldSend.push({ metric: key.metricName, timestamp: key.timestamp.toISOString(), channel: key.channel });
        }
      }
      return {
        batch: batch.name,
        job: plan.job,
        status: 'ok',
        rows: plan.rows.length,
        details: { ...details, wouldSend },
        wouldWrite: plan.rows,
      };
    }
    const written = await writeRowsAndRecordDeliveries(context.db, batch.config.table_key, plan.rows, keys);
    // Every new alert reaches the log too, so one shows even with no channel configured.
    const kind = { alert: 'anomaly', change: 'change', tholdalert: 'threshold', llmalert: 'LLM alert' }[plan.metricType];
    for (const row of plan.rows) {
      context.log.warn(
        { metric: row.metric_name, metricTimestamp: row.metric_timestamp.toISOString(), metricType: plan.metricType, channels: details.channels },
        `[${batch.name}] ${row.metric_name} ${kind}`,
      );
    }
    const report = await sendPending(context.db, {
      batch: batch.name,
      metricType: plan.metricType,
      channels: selected,
      buildMessage: plan.buildMessage,
      renderChart: (message) => chartFor(message, plan.chartThreshold(message)),
      log: context.log,
    });
    throwIfFailed(batch.name, plan.job, report);
    return {
      batch: batch.name,
      job: plan.job,
      status: 'ok',
      rows: written,
      details: { ...details, deliveries: report },
    };
  } finally {
    await channels.close();
  }
}
