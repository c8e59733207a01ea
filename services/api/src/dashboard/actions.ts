import type { Redis } from 'ioredis';
import type { MetricBatch } from '../../../../shared/config/metric-batch.js';
import { slotJobId, type JobName } from '../../../../shared/jobs.js';
import { manualRunKey, pausedSchedulesKey, startedSchedulesKey } from '../../../../shared/redis.js';
import { definedSchedules, scheduleOf, type DesiredSchedule } from '../../../../shared/schedules/plan.js';
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
  return scheduleOf(new Map(definedSchedules(deps.catalog.get().batches).map((s) => [s.id, s])), job, batch) ?? null;
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

/** What a manual run request did: enqueued it, or found the slot's run already there. */
export interface ManualRun {
  jobId: string;
  queue: JobName;
  created: boolean;
  /** The existing run's BullMQ state (`removed` when its record has expired). */
  state?: string;
  finishedAt?: string | null;
  failedReason?: string | null;
}

/** A claim outlives the queue's record of a completed run (shared/worker.ts keeps those 7 days). */
const CLAIM_TTL_S = 8 * 24 * 3600;

/** The slot of a manual run without one: the current minute, so repeated clicks are one run. */
export const manualSlot = (now: Date): string => new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();

/**
 * One manual run of `<job>:<batch>:<slot>`. The first request claims the id in Redis (SET NX)
 * and enqueues it; any other, concurrent or later, gets the existing run's state instead of a
 * second run. `force` runs the slot again under a fresh id.
 */
export async function enqueueRun(deps: ActionDeps, job: JobName, batch: MetricBatch, slot: string, force = false): Promise<ManualRun> {
  const jobId = slotJobId(job, batch.name, slot, force ? `+force-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}` : '');
  const claimKey = manualRunKey(deps.prefix, job, jobId);
  const claimed = force || (await deps.redis.set(claimKey, 'adding', 'EX', CLAIM_TTL_S, 'NX')) === 'OK';
  if (claimed) {
    try {
      await deps.queues[job].add(job, { batch: batch.name, slot }, { jobId });
      await deps.redis.set(claimKey, 'added', 'EX', CLAIM_TTL_S);
    } catch (error) {
      await deps.redis.del(claimKey).catch(() => 0); // not enqueued: let a retry claim it
      throw error;
    }
    return { jobId, queue: job, created: true };
  }
  const existing = await deps.queues[job].getJob(jobId);
  if (!existing) {
    // Claimed by a request still adding it, or run and since expired from the queue.
    const adding = (await deps.redis.get(claimKey)) === 'adding';
    return { jobId, queue: job, created: false, state: adding ? 'waiting' : 'removed', finishedAt: null, failedReason: null };
  }
  return {
    jobId,
    queue: job,
    created: false,
    state: await existing.getState(),
    finishedAt: existing.finishedOn ? new Date(existing.finishedOn).toISOString() : null,
    failedReason: existing.failedReason ?? null,
  };
}
