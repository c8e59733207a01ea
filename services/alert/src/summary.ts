/**
 * The summary job: one message a day per deployment and configured channel (email, Slack,
 * webhook) listing every batch's alerts, changes and threshold alerts of the last
 * summary_metric_timestamp_max_days_ago days, read from every batch's table (the original read
 * only the first batch's). Every batch may schedule it; the delivery rows (metric_batch '*',
 * metric_name 'summary', metric_type 'summary', the UTC day, one per channel) make the first
 * run of the day send it and the others skip; a channel that failed is retried alone.
 */
import { summaryNotice, type SummaryItem } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import { firstTime } from '../../../shared/logger.js';
import { renderSql } from '../../../shared/templates.js';
import { CHANNEL_NAMES, defaultAlertDeps, type AlertChannel, type AlertDeps, type ChannelName } from './channels.js';
import { deliverOnce, deliveryKeyParams, deliveryKeyText, type DeliveryKey, type DeliveryOutcome } from './deliveries.js';
import { openChannels } from './notify.js';

interface SummaryRow {
  metric_timestamp: Date;
  metric_batch: string;
  metric_name: string;
  metric_type: string;
  metric_value: number | null;
}

/** The day (UTC midnight) a summary run belongs to. */
export function summaryDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

export function summaryDeliveryKey(now: Date, channel: ChannelName = 'email'): DeliveryKey {
  return { batch: '*', metricName: 'summary', metricType: 'summary', timestamp: summaryDay(now), channel };
}

const SUMMARY_TYPES = new Set(['alert', 'change', 'tholdalert']);

/** Every batch's alert, change and tholdalert rows in its summary window, via its summary_sql. */
export async function collectSummaryItems(
  batches: readonly MetricBatch[],
  context: JobContext,
): Promise<{ items: SummaryItem[]; unreadable: Record<string, string> }> {
  const items: SummaryItem[] = [];
  const unreadable: Record<string, string> = {};
  for (const batch of batches) {
    try {
      const rows = await context.db.query<SummaryRow>(renderSql(batch, 'summary_sql', { now: context.now }));
      for (const row of rows) {
        if (!SUMMARY_TYPES.has(row.metric_type)) {
          continue;
        }
        items.push({
          batch: row.metric_batch,
          metric: row.metric_name,
          metricType: row.metric_type as SummaryItem['metricType'],
          timestamp: row.metric_timestamp,
          value: row.metric_value ?? Number.NaN,
        });
      }
    } catch (error) {
      // A batch whose table does not exist yet (never ingested, not migrated) has nothing to list;
      // any other failure fails the job.
      if ((error as { code?: string }).code !== '42P01') {
        throw error;
      }
      unreadable[batch.name] = (error as Error).message;
    }
  }
  return { items, unreadable };
}

export function createSummaryBatch(deps: AlertDeps = defaultAlertDeps): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.summary) {
      return skipped(batch, 'summary', 'the summary is disabled (disable_summary)');
    }
    const day = summaryDay(context.now).toISOString().slice(0, 10);
    const channels = openChannels(batch, 'summary', context, deps);
    try {
      const configured = CHANNEL_NAMES.flatMap((name): AlertChannel[] => {
        const channel = channels.get(name);
        return channel === null ? [] : [channel];
      });
      if (configured.length === 0) {
        if (firstTime('not configured: summary')) {
          context.log.info('no alert channel is configured (ANOMSTACK_ALERT_EMAIL_*, ANOMSTACK_SLACK_*, ANOMSTACK_WEBHOOK_*); no summary (said once per process)');
        }
        return skipped(batch, 'summary', 'no channel is configured (email, Slack or webhook)');
      }
      const pending: AlertChannel[] = [];
      for (const channel of configured) {
        const [state] = await context.db.run<{ status: string }>('select_delivery', deliveryKeyParams(summaryDeliveryKey(context.now, channel.name)));
        if (state?.status !== 'sent') {
          pending.push(channel);
        }
      }
      if (pending.length === 0) {
        return skipped(batch, 'summary', `the summary for ${day} was already sent`);
      }
      // Every loaded batch, this one included even if the caller's list lacks it.
      const batches = [...context.batches.filter((b) => b.name !== batch.name), batch].sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      const { items, unreadable } = await collectSummaryItems(batches, context);
      const days = batch.config.summary_metric_timestamp_max_days_ago;
      const since = new Date(context.now.getTime() - days * 86_400_000);
      const details = { day, batches: batches.length, items: items.length, since: since.toISOString(), unreadable };
      if (context.dryRun) {
        return { batch: batch.name, job: 'summary', status: 'ok', rows: 0, details: { ...details, wouldSend: pending.map((c) => c.name) } };
      }
      const notice = summaryNotice(items, since);
      const outcomes: Partial<Record<ChannelName, DeliveryOutcome['status']>> = {};
      const failures: string[] = [];
      for (const channel of pending) {
        const key = summaryDeliveryKey(context.now, channel.name);
        const outcome = await deliverOnce(context.db, key, () => channel.notice(notice, deliveryKeyText(key)));
        outcomes[channel.name] = outcome.status;
        if (outcome.status === 'failed') {
          failures.push(`${channel.name}: ${outcome.error}`);
        }
      }
      if (failures.length > 0) {
        throw new Error(`${batch.name} summary: the summary for ${day} failed (the retry sends only these): ${failures.join('; ')}`);
      }
      const sent = Object.entries(outcomes).filter(([, status]) => status === 'sent').map(([name]) => name);
      if (sent.length === 0) {
        return skipped(batch, 'summary', `the summary for ${day} was being sent by another run or already sent`);
      }
      return { batch: batch.name, job: 'summary', status: 'ok', rows: 0, details: { ...details, sent, outcomes } };
    } finally {
      await channels.close();
    }
  };
}

export const summaryBatch: JobCore = createSummaryBatch();
