import type { Redis } from 'ioredis';
import type { LoadResult } from '../../../shared/config/load-batches.js';
import { pausedSchedulesKey } from '../../../shared/redis.js';
import { QUEUE_NAMES } from '../../../shared/queues.js';
import type { QueueMap } from '../../../shared/worker.js';
import { desiredSchedules, planReconcile, type DesiredSchedule, type ExistingSchedule } from './scheduler.js';

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
    QUEUE_NAMES.map(async (queue) =>
      (await queues[queue].getJobSchedulers(0, -1)).map(
        (s): ExistingSchedule => ({ id: s.key, queue, pattern: s.pattern ?? null, tz: s.tz ?? null }),
      ),
    ),
  );
  return lists.flat();
}

export async function upsertSchedule(queues: QueueMap, schedule: DesiredSchedule): Promise<void> {
  await queues[schedule.queue].upsertJobScheduler(
    schedule.id,
    { pattern: schedule.pattern, tz: 'UTC' },
    { name: schedule.queue, data: { batch: schedule.batch } },
  );
}

/**
 * Makes Redis hold the schedules the loaded batches ask for, minus the paused ones. Idempotent,
 * so a leader that lost its lock mid-way does no harm: the next reconcile gives the same result.
 */
export async function reconcileSchedules(queues: QueueMap, redis: Redis, prefix: string, load: LoadResult): Promise<ReconcileOutcome> {
  const desired = desiredSchedules(load.batches);
  const [existing, pausedIds] = await Promise.all([existingSchedules(queues), redis.smembers(pausedSchedulesKey(prefix))]);
  const keepUnknown = load.problems.length > 0;
  const plan = planReconcile(desired, existing, new Set(pausedIds), { keepUnknown });
  for (const schedule of plan.upsert) {
    await upsertSchedule(queues, schedule);
  }
  for (const schedule of plan.remove) {
    await queues[schedule.queue].removeJobScheduler(schedule.id);
  }
  const wanted = new Set(desired.map((d) => `${d.queue}/${d.id}`));
  return {
    upserted: plan.upsert.map((s) => s.id),
    removed: plan.remove.map((s) => s.id),
    paused: plan.paused,
    kept: keepUnknown ? existing.filter((e) => !wanted.has(`${e.queue}/${e.id}`) && !pausedIds.includes(e.id)).length : 0,
  };
}
