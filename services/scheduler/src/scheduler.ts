import type { JobName, MetricBatch } from '../../../shared/config/metric-batch.js';
import { QUEUE_NAMES } from '../../../shared/queues.js';

/** One BullMQ job scheduler a batch defines (whether or not it should run now). */
export interface DesiredSchedule {
  /** `${job}:${batch}`: stable, so an upsert updates instead of duplicating. */
  id: string;
  queue: JobName;
  batch: string;
  /** Cron, evaluated in UTC. */
  pattern: string;
  /** `<job>_default_schedule_status: RUNNING` in the config. */
  running: boolean;
}

/** A job scheduler as it exists in Redis. */
export interface ExistingSchedule {
  id: string;
  queue: JobName;
  pattern: string | null;
  tz: string | null;
  /** Next run, ms since the epoch. */
  next?: number | null;
}

/** Pause/resume through the API, kept in Redis sets so they survive reconciles and restarts. */
export interface ScheduleOverrides {
  /** Paused through the API: never scheduled, whatever the config says. */
  paused: ReadonlySet<string>;
  /** Resumed through the API although the config says STOPPED. */
  started: ReadonlySet<string>;
}

export interface ReconcilePlan {
  upsert: DesiredSchedule[];
  remove: ExistingSchedule[];
  /** Defined and paused through the API. */
  paused: string[];
}

export const scheduleId = (job: JobName, batch: string): string => `${job}:${batch}`;

/** Jobs with a cron of their own per batch (tholdalert runs after ingest; summary is global). */
const PER_BATCH_JOBS = ['ingest', 'train', 'score', 'alert', 'change', 'plot', 'delete'] as const satisfies readonly JobName[];

/**
 * Every schedule the loaded batches define: one per batch and job whose `disable_<job>` is not set
 * (a disabled job is never scheduled, even when resumed). The summary is one global job, as in the
 * original: it is keyed by the first batch (in path order), whose `summary_cron_schedule` and
 * `disable_summary` apply, and its core reads every batch.
 */
export function definedSchedules(batches: readonly MetricBatch[]): DesiredSchedule[] {
  const defined: DesiredSchedule[] = [];
  for (const batch of batches) {
    for (const job of PER_BATCH_JOBS) {
      const schedule = batch.schedules[job];
      if (schedule && !batch.disabled[job]) {
        defined.push({ id: scheduleId(job, batch.name), queue: job, batch: batch.name, pattern: schedule.cron, running: schedule.running });
      }
    }
  }
  const first = batches[0];
  const summary = first?.schedules.summary;
  if (first && summary && !first.disabled.summary) {
    defined.push({ id: scheduleId('summary', first.name), queue: 'summary', batch: first.name, pattern: summary.cron, running: summary.running });
  }
  return defined;
}

/** Whether a defined schedule should be in Redis now. */
export const shouldRun = (schedule: DesiredSchedule, overrides: ScheduleOverrides): boolean =>
  !overrides.paused.has(schedule.id) && (schedule.running || overrides.started.has(schedule.id));

/** The schedules that should run: RUNNING in the config or resumed, and not paused. */
export function desiredSchedules(batches: readonly MetricBatch[], overrides: ScheduleOverrides = NO_OVERRIDES): DesiredSchedule[] {
  return definedSchedules(batches).filter((s) => shouldRun(s, overrides));
}

export const NO_OVERRIDES: ScheduleOverrides = { paused: new Set(), started: new Set() };

/**
 * What to change so Redis holds exactly the schedules that should run. Unchanged schedules are
 * not upserted again (an upsert recomputes the next run). With `keepUnknown` (the config had
 * errors, so a missing batch may only be a broken file) only paused ones are removed.
 */
export function planReconcile(
  defined: readonly DesiredSchedule[],
  existing: readonly ExistingSchedule[],
  overrides: ScheduleOverrides,
  options: { keepUnknown?: boolean } = {},
): ReconcilePlan {
  const key = (s: { queue: string; id: string }): string => `${s.queue}/${s.id}`;
  const byKey = new Map(existing.map((e) => [key(e), e]));
  const wanted = defined.filter((d) => shouldRun(d, overrides));
  const wantedKeys = new Set(wanted.map(key));
  const upsert = wanted.filter((d) => {
    const current = byKey.get(key(d));
    return !current || current.pattern !== d.pattern || current.tz !== 'UTC';
  });
  const remove = existing.filter(
    (e) => !wantedKeys.has(key(e)) && (overrides.paused.has(e.id) || !options.keepUnknown || defined.some((d) => key(d) === key(e))),
  );
  return { upsert, remove, paused: defined.filter((d) => overrides.paused.has(d.id)).map((d) => d.id) };
}

/** Boot check (STYLE.md point 6): every schedule targets a queue that exists. */
export function unknownQueues(defined: readonly DesiredSchedule[]): string[] {
  return [...new Set(defined.map((d) => d.queue))].filter((q) => !QUEUE_NAMES.includes(q));
}
