/**
 * Exactly once per channel: every notification is a row of `anomstack_alert_deliveries` keyed
 * (batch, metric, metric_type, time, channel), recorded as pending in the same transaction that
 * writes the alert row, then sent and marked sent. A crash between writing and sending leaves a
 * pending row the next run sends; a re-run finds it sent and sends nothing; a failure on one
 * channel is recorded and the others still go, and the job then fails so the queue retries it.
 */
import type { Db } from '../../../shared/db/db.js';
import { upsertMetricRows } from '../../../shared/db/metrics-store.js';
import type { Logger } from '../../../shared/logger.js';
import type { MetricRow } from '../../../shared/metric-row.js';
import { ResumableError, type AlertChannel, type ResumeState } from './channels.js';
import { DeliveryRejectedError } from '../../../shared/alerts/rejected.js';
import type { AlertMessage } from '../../../shared/alerts/message.js';

export interface DeliveryKey {
  batch: string;
  metricName: string;
  /** `alert`, `change`, `tholdalert` or `summary`. */
  metricType: string;
  timestamp: Date;
  channel: string;
}

export type DeliveryOutcome =
  | { status: 'sent' }
  /** Marked sent by an earlier run. */
  | { status: 'already-sent' }
  /** Another run holds it right now; that run sends it. */
  | { status: 'busy' }
  | { status: 'failed'; error: string }
  /** Refused for good by the receiver: marked rejected, never sent again. */
  | { status: 'rejected'; error: string };

/** Tallies of one job's sending, for its result details. */
export interface DeliveryReport {
  sent: number;
  /** Deliveries not attempted, with why (already sent, channel not configured, ...). */
  skipped: { metric: string; timestamp: string; channel: string; reason: string }[];
  failed: { metric: string; timestamp: string; channel: string; error: string }[];
  /** Refused for good (SMTP 5xx, HTTP 4xx): recorded with the reason, not retried. */
  rejected: { metric: string; timestamp: string; channel: string; error: string }[];
}

export const emptyReport = (): DeliveryReport => ({ sent: 0, skipped: [], failed: [], rejected: [] });

/** The key as the `$1..$5` parameters of the delivery statements. */
export const deliveryKeyParams = (key: DeliveryKey): unknown[] => [key.batch, key.metricName, key.metricType, key.timestamp, key.channel];

/** The key as one string (email derives its Message-ID from it). */
export function deliveryKeyText(key: DeliveryKey): string {
  return `${key.batch}|${key.metricName}|${key.metricType}|${key.timestamp.toISOString()}|${key.channel}`;
}

/** Records deliveries as pending; already recorded ones (pending or sent) are left as they are. */
export async function recordPending(db: Db, keys: readonly DeliveryKey[]): Promise<void> {
  for (const key of keys) {
    await db.run('claim_delivery', deliveryKeyParams(key));
  }
}

/**
 * Writes a job's metric rows and records their deliveries as pending, in one transaction: a
 * crash after it leaves pending deliveries for the next run; before it, nothing.
 * Returns the metric rows written (inserted or changed).
 */
export async function writeRowsAndRecordDeliveries(
  db: Db,
  table: string,
  rows: readonly MetricRow[],
  keys: readonly DeliveryKey[],
): Promise<number> {
  if (rows.length === 0 && keys.length === 0) {
    return 0;
  }
  return db.transaction(async (tx) => {
    const written = await upsertMetricRows(tx, table, rows);
    await recordPending(tx, keys);
    return written;
  });
}

/**
 * The most one delivery attempt may take in all. The clients' own timeouts are per phase
 * (connect, greeting, each read), so a server that keeps answering a byte at a time, or that
 * takes the message and never says so, could hold the job for ever without this.
 */
export const DELIVERY_ATTEMPT_TIMEOUT_MS = 120_000;

// The abandoned send is not cancelled: if it still completes, the receiver has the message and
// the retry sends it again with the same Message-ID / delivery id (at-least-once, docs/behaviour.md).
async function withinTotal(sending: Promise<void>, ms: number, channel: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${channel} delivery attempt took longer than ${ms} ms in all: abandoned`)), ms);
  });
  sending.catch(() => {}); // a late failure of the abandoned send is not an unhandled rejection
  try {
    await Promise.race([sending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends one delivery at most once: records it if needed, locks its row, and sends unless it is
 * marked sent (or another run holds it). Success marks it sent; failure records the error and
 * the attempt and leaves it pending. Never throws for a send failure (the caller decides); a
 * database failure does throw.
 */
export async function deliverOnce(
  db: Db,
  key: DeliveryKey,
  send: (resume: ResumeState) => Promise<void>,
  attemptTimeoutMs = DELIVERY_ATTEMPT_TIMEOUT_MS,
): Promise<DeliveryOutcome> {
  return db.transaction(async (tx) => {
    await tx.run('claim_delivery', deliveryKeyParams(key));
    const [row] = await tx.run<{ status: string; resume: ResumeState | null }>('lock_delivery', deliveryKeyParams(key));
    if (row === undefined) {
      return { status: 'busy' };
    }
    if (row.status === 'sent') {
      return { status: 'already-sent' };
    }
    try {
      await withinTotal(send(row.resume ?? {}), attemptTimeoutMs, key.channel);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof DeliveryRejectedError) {
        await tx.run('mark_delivery_rejected', [...deliveryKeyParams(key), message]);
        return { status: 'rejected', error: message };
      }
      const resume = error instanceof ResumableError ? error.resume : null;
      await tx.run('mark_delivery_failed', [...deliveryKeyParams(key), message, resume]);
      return { status: 'failed', error: message };
    }
    await tx.run('mark_delivery_sent', deliveryKeyParams(key));
    return { status: 'sent' };
  });
}

interface PendingRow {
  metric_name: string;
  metric_timestamp: Date;
  channel: string;
}

export interface SendPendingOptions {
  batch: string;
  metricType: 'alert' | 'change' | 'tholdalert' | 'llmalert';
  /** The configured channels; a pending delivery to another channel is skipped. */
  channels: readonly AlertChannel[];
  /** The message for a metric at a time, or null when the data for it is gone. */
  buildMessage: (metricName: string, timestamp: Date) => AlertMessage | null;
  renderChart: (message: AlertMessage) => Promise<Buffer>;
  log: Logger;
}

/**
 * Sends every pending delivery of a batch's metric_type (this run's and earlier runs' unsent
 * ones), one chart per (metric, time) shared by its channels. Returns the tallies; the caller
 * fails the job when `failed` is not empty.
 */
export async function sendPending(db: Db, options: SendPendingOptions): Promise<DeliveryReport> {
  const report = emptyReport();
  const pending = await db.run<PendingRow>('select_pending_deliveries', [options.batch, options.metricType]);
  const groups = new Map<string, PendingRow[]>();
  for (const row of pending) {
    const id = `${row.metric_name}\u0000${row.metric_timestamp.getTime()}`;
    groups.set(id, [...(groups.get(id) ?? []), row]);
  }
  for (const rows of groups.values()) {
    const { metric_name: metricName, metric_timestamp: timestamp } = rows[0]!;
    const where = { metric: metricName, timestamp: timestamp.toISOString() };
    const sendable = rows.filter((row) => {
      const ok = options.channels.some((channel) => channel.name === row.channel);
      if (!ok) {
        report.skipped.push({ ...where, channel: row.channel, reason: `${row.channel} is not configured` });
      }
      return ok;
    });
    if (sendable.length === 0) {
      continue;
    }
    const message = options.buildMessage(metricName, timestamp);
    if (message === null) {
      for (const row of sendable) {
        report.skipped.push({ ...where, channel: row.channel, reason: 'no data for this point in the window any more' });
      }
      continue;
    }
    let png: Buffer;
    try {
      png = await options.renderChart(message);
    } catch (error) {
      // Every channel carries the chart: count it as a failure on each, so the retry draws again.
      const reason = `chart: ${error instanceof Error ? error.message : String(error)}`;
      for (const row of sendable) {
        report.failed.push({ ...where, channel: row.channel, error: reason });
      }
      continue;
    }
    // One point's channels (at most one row each) go out in parallel, each in its own
    // transaction: a hung Slack must not hold the email and the webhook for its timeout.
    const outcomes = await Promise.all(
      sendable.map((row) => {
        const channel = options.channels.find((candidate) => candidate.name === row.channel)!;
        const key: DeliveryKey = {
          batch: options.batch,
          metricName,
          metricType: options.metricType,
          timestamp,
          channel: row.channel,
        };
        return deliverOnce(db, key, (resume) => channel.send(message, png, deliveryKeyText(key), resume));
      }),
    );
    sendable.forEach((row, index) => tally(report, where, row.channel, outcomes[index]!, options.log));
  }
  return report;
}

export function tally(
  report: DeliveryReport,
  where: { metric: string; timestamp: string },
  channel: string,
  outcome: DeliveryOutcome,
  log: Logger,
): void {
  switch (outcome.status) {
    case 'sent':
      report.sent += 1;
      log.info({ ...where, channel }, 'alert sent');
      return;
    case 'already-sent':
      report.skipped.push({ ...where, channel, reason: 'already sent' });
      return;
    case 'busy':
      report.skipped.push({ ...where, channel, reason: 'being sent by another run' });
      return;
    case 'failed':
      report.failed.push({ ...where, channel, error: outcome.error });
      log.warn({ ...where, channel, error: outcome.error }, 'alert delivery failed; the job will be retried');
      return;
    case 'rejected':
      report.rejected.push({ ...where, channel, error: outcome.error });
      log.error({ ...where, channel, error: outcome.error }, 'alert delivery rejected by the receiver; marked rejected, not retried');
      return;
  }
}

/** Fails the job (so the queue retries it) when any delivery failed; the retry sends only those. */
export function throwIfFailed(batch: string, job: string, report: DeliveryReport): void {
  if (report.failed.length === 0) {
    return;
  }
  const list = report.failed.map((f) => `${f.metric} at ${f.timestamp} by ${f.channel}: ${f.error}`).join('; ');
  throw new Error(
    `${batch} ${job}: ${report.failed.length} delivery(ies) failed (${report.sent} sent); the retry sends only the unsent: ${list}`,
  );
}
