/**
 * The summary job: one email a day per deployment listing every batch's alerts, changes and
 * threshold alerts of the last summary_metric_timestamp_max_days_ago days, read from every
 * batch's table (the original read only the first batch's). Every batch may schedule it; the
 * delivery row (metric_batch '*', metric_name 'summary', metric_type 'summary', the UTC day,
 * channel 'email') makes the first run of the day send it and the others skip.
 */
import type { SummaryItem } from '../../../shared/alerts/message.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import { firstTime } from '../../../shared/logger.js';
import { renderSql } from '../../../shared/templates.js';
import { defaultAlertDeps, type AlertDeps } from './channels.js';
import { deliverOnce, deliveryKeyParams, deliveryKeyText, type DeliveryKey } from './deliveries.js';
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

export function summaryDeliveryKey(now: Date): DeliveryKey {
  return { batch: '*', metricName: 'summary', metricType: 'summary', timestamp: summaryDay(now), channel: 'email' };
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
    const key = summaryDeliveryKey(context.now);
    const day = key.timestamp.toISOString().slice(0, 10);
    const [state] = await context.db.run<{ status: string }>('select_delivery', deliveryKeyParams(key));
    if (state?.status === 'sent') {
      return skipped(batch, 'summary', `the summary for ${day} was already sent`);
    }
    const channels = openChannels(batch, 'summary', context, deps);
    try {
      const send = channels.summary;
      if (send === null) {
        if (firstTime('not configured: summary email')) {
          context.log.info('email is not configured (no ANOMSTACK_ALERT_EMAIL_* settings); no summary (said once per process)');
        }
        return skipped(batch, 'summary', 'email is not configured (ANOMSTACK_ALERT_EMAIL_*)');
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
        return { batch: batch.name, job: 'summary', status: 'ok', rows: 0, details: { ...details, wouldSend: true } };
      }
      const outcome = await deliverOnce(context.db, key, () => send(items, since, deliveryKeyText(key)));
      if (outcome.status === 'failed') {
        throw new Error(`${batch.name} summary: the email for ${day} failed: ${outcome.error}`);
      }
      if (outcome.status !== 'sent') {
        return skipped(batch, 'summary', `the summary for ${day} was ${outcome.status === 'busy' ? 'being sent by another run' : 'already sent'}`);
      }
      return { batch: batch.name, job: 'summary', status: 'ok', rows: 0, details: { ...details, sent: true } };
    } finally {
      await channels.close();
    }
  };
}

export const summaryBatch: JobCore = createSummaryBatch();
