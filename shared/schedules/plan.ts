import { type MetricBatch } from '../config/metric-batch.js';
import { jobKind, jobsScheduled, type JobName } from '../jobs.js';

/** One BullMQ job scheduler a batch defines (whether or not it should run now). */
export interface DesiredSchedule {
  /** `scheduleId(job, batch)`: stable, so an upsert updates instead of duplicating. */
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
  /** The batch its runs carry (a global job's changes when another batch comes to sort first). */
  batch?: string | null;
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

/**
 * A batch job's schedule is `<job>:<batch>`. A global job's is its name alone: it must not depend
 * on which batch sorts first, or adding a batch would change it and lose a pause.
 */
export const scheduleId = (job: JobName, batch: string): string => (jobKind(job).schedule === 'global' ? job : `${job}:${batch}`);

/**
 * Every schedule the loaded batches define (shared/jobs.ts says which jobs have which kind): one
 * per batch and `batch` job whose `disable_<job>` is not set (a disabled job is never scheduled,
 * even when resumed), and one per `global` job, as the original's summary: keyed by the first
 * batch (in path order), whose cron and `disable_<job>` apply; its core reads every batch.
 */
export function definedSchedules(batches: readonly MetricBatch[]): DesiredSchedule[] {
  const defined: DesiredSchedule[] = [];
  const add = (batch: MetricBatch, job: JobName): void => {
    const schedule = batch.schedules[job];
    if (schedule && !batch.disabled[job]) {
      defined.push({ id: scheduleId(job, batch.name), queue: job, batch: batch.name, pattern: schedule.cron, running: schedule.running });
    }
  };
  for (const batch of batches) {
    jobsScheduled('batch').forEach((job) => add(batch, job));
  }
  const first = batches[0];
  if (first) {
    jobsScheduled('global').forEach((job) => add(first, job));
  }
  return defined;
}

/** The schedule of `job` that `batch` carries (a global job's is carried by the first batch), if defined. */
export function scheduleOf(defined: ReadonlyMap<string, DesiredSchedule>, job: JobName, batch: string): DesiredSchedule | undefined {
  const schedule = defined.get(scheduleId(job, batch));
  return schedule?.batch === batch ? schedule : undefined;
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
    return !current || current.pattern !== d.pattern || current.tz !== 'UTC' || (current.batch !== undefined && current.batch !== d.batch);
  });
  const remove = existing.filter(
    (e) => !wantedKeys.has(key(e)) && (overrides.paused.has(e.id) || !options.keepUnknown || defined.some((d) => key(d) === key(e))),
  );
  return { upsert, remove, paused: defined.filter((d) => overrides.paused.has(d.id)).map((d) => d.id) };
}
