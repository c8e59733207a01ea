/**
 * Failure notifications: when a job fails for the last time (an input error, or no retries
 * left), one message per batch, job and UTC day to every configured channel, with the reason
 * and a link to the run in Bull Board. Exactly once through the delivery ledger: the key is
 * (batch, job as metric_name, `failure`, the UTC day, channel), so later failures of that job
 * and batch on the same day find it sent. The queue adapter calls this; job cores know nothing
 * of it.
 */
import { failureNotice, type JobFailure } from '../../../shared/alerts/message.js';
import type { AppEnv } from '../../../shared/config/env.js';
import type { Db } from '../../../shared/db/db.js';
import type { FinalFailure } from '../../../shared/job.js';
import type { Logger } from '../../../shared/logger.js';
import { CHANNEL_NAMES, createChannels, type AlertDeps, type ChannelName } from './channels.js';
import { deliverOnce, deliveryKeyText, type DeliveryKey, type DeliveryOutcome } from './deliveries.js';

const utcDay = (t: Date): Date => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));

export function failureDeliveryKey(batch: string, job: string, failedAt: Date, channel: ChannelName): DeliveryKey {
  return { batch, metricName: job, metricType: 'failure', timestamp: utcDay(failedAt), channel };
}

/** The run's page in Bull Board: `<base>/queue/<queue>/<job id>`. */
export function runUrl(bullBoardUrl: string, queue: string, jobId: string): string {
  return `${bullBoardUrl}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

export interface FailureNotifierOptions {
  env: AppEnv;
  db: Db;
  log: Logger;
  deps?: AlertDeps;
  /** The failure's time (its UTC day is the key); default: now. */
  clock?: () => Date;
}

/**
 * Sends the failure to every configured channel, once per batch, job and day. Never throws for
 * a send failure (the delivery stays pending and the next failure that day sends it); a
 * partly configured channel or a database error does throw: the caller logs it.
 */
export function createFailureNotifier(options: FailureNotifierOptions): (failure: FinalFailure) => Promise<Partial<Record<ChannelName, DeliveryOutcome>>> {
  return async (failure) => {
    const failedAt = (options.clock ?? (() => new Date()))();
    const job: JobFailure = {
      batch: failure.batch,
      job: failure.queue,
      jobId: failure.jobId,
      slot: failure.slot,
      attempt: failure.attempt,
      attempts: failure.attempts,
      inputError: failure.inputError,
      reason: failure.reason,
      runUrl: runUrl(options.env.bullBoardUrl, failure.queue, failure.jobId),
      failedAt,
    };
    const notice = failureNotice(job);
    const channels = (options.deps?.createChannels ?? createChannels)(options.env, options.log);
    const outcomes: Partial<Record<ChannelName, DeliveryOutcome>> = {};
    try {
      for (const name of CHANNEL_NAMES) {
        const channel = channels.get(name);
        if (channel === null) {
          continue;
        }
        const key = failureDeliveryKey(failure.batch, failure.queue, failedAt, name);
        const outcome = await deliverOnce(options.db, key, () => channel.notice(notice, deliveryKeyText(key)));
        outcomes[name] = outcome;
        const where = { batch: failure.batch, job: failure.queue, channel: name, status: outcome.status };
        if (outcome.status === 'failed') {
          options.log.warn({ ...where, error: outcome.error }, 'failure notification not sent; the next failure today sends it');
        } else {
          options.log.info(where, 'failure notification');
        }
      }
    } finally {
      await channels.close();
    }
    return outcomes;
  };
}
