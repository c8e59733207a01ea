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

/** What a manual run request did: enqueued a new job, or found the slot's run already there. */
export interface RunRequest {
  jobId: string;
  /** Set when the slot already had a run: its BullMQ state (waiting, active, completed, failed...). */
  existing?: { state: string };
}

/**
 * One manual run with id `<job>:<batch>:<slot>`, as the API enqueues it. Idempotent: a slot that
 * already has a run answers that run's state instead of a silent second enqueue (BullMQ would drop
 * the duplicate id, but a completed and removed run would run again). `force` adds another run
 * of the slot with its own id `...+forced-<ms>`.
 */
export async function enqueueRun(deps: ActionDeps, job: JobName, batch: MetricBatch, slot: string, options: { force?: boolean } = {}): Promise<RunRequest> {
  const queue = deps.queues[job];
  if (options.force) {
    const jobId = slotJobId(job, batch.name, slot, `+forced-${Date.now()}`);
    await queue.add(job, { batch: batch.name, slot }, { jobId });
    return { jobId };
  }
  const jobId = slotJobId(job, batch.name, slot);
  const found = await queue.getJob(jobId);
  if (found) {
    return { jobId, existing: { state: await found.getState() } };
  }
  await queue.add(job, { batch: batch.name, slot }, { jobId });
  return { jobId };
}

/** A manual run's slot when none is given: the current minute, so repeated clicks are one run. */
export const manualSlot = (now: Date): string => new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();
