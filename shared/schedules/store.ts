import type { Redis } from 'ioredis';
import type { LoadResult } from '../config/load-batches.js';
import { pausedSchedulesKey, startedSchedulesKey } from '../redis.js';
import { type BatchJobData } from '../queues.js';
import { JOB_NAMES } from '../jobs.js';
import type { QueueMap } from '../worker.js';
import { definedSchedules, planReconcile, shouldRun, type DesiredSchedule, type ExistingSchedule, type ScheduleOverrides } from '../schedules/plan.js';

export interface ReconcileOutcome {
  upserted: string[];
  removed: string[];
  paused: string[];
  /** Schedules kept although no batch asks for them: the config had errors. */
  kept: number;
}

/** The job schedulers now in Redis, across every queue. */
export async function existingSchedules(queues: QueueMap): Promise<ExistingSchedule[]> {
  const lists = await Promise.all(
    JOB_NAMES.map(async (queue) =>
      (await queues[queue].getJobSchedulers(0, -1)).map(
        (s): ExistingSchedule => ({
          id: s.key,
          queue,
          pattern: s.pattern ?? null,
          tz: s.tz ?? null,
          batch: (s.template?.data as BatchJobData | undefined)?.batch ?? null,
          next: s.next ?? null,
        }),
      ),
    ),
  );
  return lists.flat();
}

export async function upsertSchedule(queues: QueueMap, schedule: DesiredSchedule): Promise<void> {
  await queues[schedule.queue].upsertJobScheduler(
    schedule.id,
    { pattern: schedule.pattern, tz: 'UTC' },
    // No slot in a template (it would be the same for every run): the worker reads it from the
    // run's id, `repeat:<scheduler id>:<ms>` (shared/worker.ts slotOf).
    { name: schedule.queue, data: { batch: schedule.batch } as BatchJobData },
  );
}

export async function readOverrides(redis: Redis, prefix: string): Promise<ScheduleOverrides> {
  const [paused, started] = await Promise.all([redis.smembers(pausedSchedulesKey(prefix)), redis.smembers(startedSchedulesKey(prefix))]);
  return { paused: new Set(paused), started: new Set(started) };
}

/**
 * Makes Redis hold the schedules the loaded batches ask for, as paused or resumed through the
 * API. Idempotent, so a leader that lost its lock mid-way does no harm: the next reconcile
 * gives the same result.
 */
export async function reconcileSchedules(queues: QueueMap, redis: Redis, prefix: string, load: LoadResult): Promise<ReconcileOutcome> {
  const defined = definedSchedules(load.batches);
  const [existing, overrides] = await Promise.all([existingSchedules(queues), readOverrides(redis, prefix)]);
  const keepUnknown = load.problems.length > 0;
  const plan = planReconcile(defined, existing, overrides, { keepUnknown });
  for (const schedule of plan.upsert) {
    await upsertSchedule(queues, schedule);
  }
  for (const schedule of plan.remove) {
    await queues[schedule.queue].removeJobScheduler(schedule.id);
  }
  const wanted = new Set(defined.filter((d) => shouldRun(d, overrides)).map((d) => `${d.queue}/${d.id}`));
  const removed = new Set(plan.remove.map((s) => `${s.queue}/${s.id}`));
  return {
    upserted: plan.upsert.map((s) => s.id),
    removed: plan.remove.map((s) => s.id),
    paused: plan.paused,
    kept: existing.filter((e) => !wanted.has(`${e.queue}/${e.id}`) && !removed.has(`${e.queue}/${e.id}`)).length,
  };
}
