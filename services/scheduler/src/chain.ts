import type { JobName, MetricBatch } from '../../../shared/config/metric-batch.js';
import type { JobResult } from '../../../shared/job.js';

/** A job to enqueue because another one finished. */
export interface FollowUp {
  queue: JobName;
  /** Dedupes: a second enqueue of the same id is a no-op while the first is kept. */
  jobId: string;
}

/**
 * Job id of a slot's run: `${job}:${batch}:${slot}` with the slot in ISO form without colons
 * (`2026-02-03T040500.000Z`): BullMQ accepts a custom id with colons only as exactly three parts.
 */
export const slotJobId = (job: JobName, batch: string, slot: string, suffix = ''): string =>
  `${job}:${batch.replaceAll(':', '_')}:${slot.replaceAll(':', '')}${suffix}`;

/** Suffix of the score run that follows a first training. */
const AFTER_TRAIN = '+after-train';

/** The score named metrics it could not score (as opposed to finding nothing new to score). */
const hasSkippedMetrics = (result: JobResult): boolean => {
  const skipped = result.details?.skipped;
  return typeof skipped === 'object' && skipped !== null && Object.keys(skipped).length > 0;
};

/**
 * The whole job graph in one place (as Immich's onDone switch). After a slot's ingest writes rows,
 * its score and threshold check follow at once, and its alert follows the score, so a fresh point
 * is alerted on within seconds instead of waiting for the next score and alert crons. When a chained
 * score leaves metrics unscored (no model yet, the newcomer's first run), train follows, then one
 * more score. Disabled jobs are never chained; schedule status (RUNNING/STOPPED) only governs crons.
 */
export function followUps(job: JobName, jobId: string, batch: MetricBatch, slot: string, result: JobResult): FollowUp[] {
  const next = (queue: JobName, suffix = ''): FollowUp[] =>
    batch.disabled[queue] ? [] : [{ queue, jobId: slotJobId(queue, batch.name, slot, suffix) }];
  switch (job) {
    case 'ingest':
      return result.status === 'ok' && result.rows > 0 ? [...next('score'), ...next('tholdalert')] : [];
    case 'score':
      if (result.rows > 0) {
        return next('alert');
      }
      // A chained score that left metrics unscored (no model yet: the newcomer's first run) gets
      // one training and one more score. Scheduled scores with nothing new never train.
      return jobId === slotJobId('score', batch.name, slot) && result.status === 'skipped' && hasSkippedMetrics(result)
        ? next('train')
        : [];
    case 'train':
      return result.status === 'ok' && result.rows > 0 && jobId === slotJobId('train', batch.name, slot)
        ? next('score', AFTER_TRAIN)
        : [];
    case 'alert':
    case 'change':
    case 'tholdalert':
    case 'plot':
    case 'summary':
    case 'delete':
      return [];
  }
}
