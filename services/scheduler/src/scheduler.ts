import type { JobName, MetricBatch } from '../../../shared/config/metric-batch.js';
import { QUEUE_NAMES } from '../../../shared/queues.js';

/** One BullMQ job scheduler the deployment should have. */
export interface DesiredSchedule {
  /** `${job}:${batch}`: stable, so an upsert updates instead of duplicating. */
  id: string;
  queue: JobName;
  batch: string;
  /** Cron, evaluated in UTC. */
  pattern: string;
}

/** A job scheduler as it exists in Redis. */
export interface ExistingSchedule {
  id: string;
  queue: JobName;
  pattern: string | null;
  tz: string | null;
}

export interface ReconcilePlan {
  upsert: DesiredSchedule[];
  remove: ExistingSchedule[];
  /** Desired but paused through the API: left out (and removed if present). */
  paused: string[];
}

export const scheduleId = (job: JobName, batch: string): string => `${job}:${batch}`;

/** Jobs with a cron of their own per batch (tholdalert runs inside ingest; summary is global). */
const PER_BATCH_JOBS = ['ingest', 'train', 'score', 'alert', 'change', 'plot', 'delete'] as const satisfies readonly JobName[];

/**
 * The schedules the loaded batches ask for: one per batch and job whose schedule is RUNNING and
 * whose `disable_<job>` is not set. The summary is one global job, as in the original: it is
 * keyed by the first batch (in path order), whose `summary_cron_schedule` and
 * `disable_summary` apply, and its core reads every batch.
 */
export function desiredSchedules(batches: readonly MetricBatch[]): DesiredSchedule[] {
  const desired: DesiredSchedule[] = [];
  for (const batch of batches) {
    for (const job of PER_BATCH_JOBS) {
      const schedule = batch.schedules[job];
      if (schedule?.running && !batch.disabled[job]) {
        desired.push({ id: scheduleId(job, batch.name), queue: job, batch: batch.name, pattern: schedule.cron });
      }
    }
  }
  const first = batches[0];
  const summary = first?.schedules.summary;
  if (first && summary?.running && !first.disabled.summary) {
    desired.push({ id: scheduleId('summary', first.name), queue: 'summary', batch: first.name, pattern: summary.cron });
  }
  return desired;
}

/**
 * What to change so Redis holds exactly the desired, unpaused schedules. Unchanged schedules are
 * not upserted again (an upsert recomputes the next run). With `keepUnknown` (the config had
 * errors, so a missing batch may only be a broken file) nothing is removed.
 */
export function planReconcile(
  desired: readonly DesiredSchedule[],
  existing: readonly ExistingSchedule[],
  paused: ReadonlySet<string>,
  options: { keepUnknown?: boolean } = {},
): ReconcilePlan {
  const byKey = new Map(existing.map((e) => [`${e.queue}/${e.id}`, e]));
  const wanted = desired.filter((d) => !paused.has(d.id));
  const wantedKeys = new Set(wanted.map((d) => `${d.queue}/${d.id}`));
  const upsert = wanted.filter((d) => {
    const current = byKey.get(`${d.queue}/${d.id}`);
    return !current || current.pattern !== d.pattern || current.tz !== 'UTC';
  });
  const remove = existing.filter((e) => {
    if (wantedKeys.has(`${e.queue}/${e.id}`)) {
      return false;
    }
    return paused.has(e.id) || !options.keepUnknown;
  });
  return { upsert, remove, paused: desired.filter((d) => paused.has(d.id)).map((d) => d.id) };
}

/** Boot check (STYLE.md point 6): every schedule targets a queue that exists. */
export function unknownQueues(desired: readonly DesiredSchedule[]): string[] {
  return [...new Set(desired.map((d) => d.queue))].filter((q) => !QUEUE_NAMES.includes(q));
}
