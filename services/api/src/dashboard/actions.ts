import type { Redis } from 'ioredis';
import type { MetricBatch } from '../../../../shared/config/metric-batch.js';
import { slotJobId, type JobName } from '../../../../shared/jobs.js';
import { pausedSchedulesKey, startedSchedulesKey } from '../../../../shared/redis.js';
import { definedSchedules, scheduleId, type DesiredSchedule } from '../../../../shared/schedules/plan.js';
import { upsertSchedule } from '../../../../shared/schedules/store.js';
import type { BatchCatalog, QueueMap } from '../../../../shared/worker.js';

/**
 * The admin API's schedule and run actions (docs/contract.md, "Admin API": POST
 * /api/batches/:batch/schedules/:job/pause|resume and /api/batches/:batch/jobs/:job), on the
 * same shared functions and Redis sets, so a click and an API call leave the same state.
 */
export interface ActionDeps {
  catalog: BatchCatalog;
  queues: QueueMap;
  redis: Redis;
  prefix: string;
}

/** The schedule `<job>:<batch>` the loaded config defines, or null. */
export function definedSchedule(deps: ActionDeps, job: JobName, batch: string): DesiredSchedule | null {
  const id = scheduleId(job, batch);
  return definedSchedules(deps.catalog.get().batches).find((s) => s.id === id) ?? null;
}

/** Pause: into the paused set and out of Redis. Resume: out of it (into `started` if the config says STOPPED) and upserted. */
export async function setSchedulePaused(deps: ActionDeps, schedule: DesiredSchedule, paused: boolean): Promise<void> {
  const pausedKey = pausedSchedulesKey(deps.prefix);
  const startedKey = startedSchedulesKey(deps.prefix);
  if (paused) {
    await deps.redis.multi().sadd(pausedKey, schedule.id).srem(startedKey, schedule.id).exec();
    await deps.queues[schedule.queue].removeJobScheduler(schedule.id);
    return;
  }
  const multi = deps.redis.multi().srem(pausedKey, schedule.id);
  if (!schedule.running) {
    multi.sadd(startedKey, schedule.id);
  }
  await multi.exec();
  await upsertSchedule(deps.queues, schedule);
}

/** One manual run with id `<job>:<batch>:<slot>`, as the API enqueues it. */
export async function enqueueRun(deps: ActionDeps, job: JobName, batch: MetricBatch, slot: string): Promise<string> {
  const jobId = slotJobId(job, batch.name, slot);
  await deps.queues[job].add(job, { batch: batch.name, slot }, { jobId });
  return jobId;
}
