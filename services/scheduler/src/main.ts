import type { Redis } from 'ioredis';
import type { LoadResult } from '../../../shared/config/load-batches.js';
import type { Logger } from '../../../shared/logger.js';
import { reloadChannel, schedulerLockKey } from '../../../shared/redis.js';
import { LeaderLock } from '../../../shared/scheduler-lock.js';
import type { QueueMap } from '../../../shared/worker.js';
import { existingSchedules, readOverrides, reconcileSchedules, type ReconcileOutcome } from '../../../shared/schedules/store.js';
import { definedSchedules, shouldRun } from '../../../shared/schedules/plan.js';
import { slotJobId } from '../../../shared/jobs.js';
import type { MetricBatch } from '../../../shared/config/metric-batch.js';

export interface SchedulerDeps {
  /** Reads the metrics directory afresh (on start, on a reload request). */
  load: () => LoadResult;
  queues: QueueMap;
  /** Fail-fast connection for the lock and the paused set. */
  redis: Redis;
  /** A connection this scheduler may put in subscriber mode. */
  subscriber: Redis;
  prefix: string;
  log: Logger;
  /** `ANOMSTACK_SCHEDULER_LOCK_MS`, default 15000: a dead leader is replaced within this time. */
  lockTtlMs?: number;
  /**
   * Whether a batch has data yet. When given, a batch whose ingest schedule runs but which has
   * no data is ingested at once when this instance starts leading, not at the next cron tick.
   */
  hasData?: (batch: MetricBatch) => Promise<boolean>;
  /** The clock (tests). */
  now?: () => Date;
}

export interface SchedulerHandle {
  readonly isLeader: boolean;
  /** Completed reconciles (tests and logs). */
  readonly reconciles: number;
  /** Re-reads the metrics directory and reconciles, if this instance leads. */
  reload(): Promise<ReconcileOutcome | null>;
  close(): Promise<void>;
}

/**
 * Every config error and warning, with its text: a broken batch is not scheduled, the good ones
 * are, and the log says which and why (at start and on every reload).
 */
export function reportConfig(load: LoadResult, log: Logger): void {
  for (const p of load.problems) {
    log.error({ file: p.file, key: p.key }, `config error, batch not scheduled: ${p.file}: ${p.key}: ${p.reason}`);
  }
  for (const w of load.warnings) {
    log.warn({ file: w.file, key: w.key }, `config warning: ${w.file}: ${w.key}: ${w.reason}`);
  }
  for (const u of load.unsupported) {
    log.warn({ file: u.file, key: u.key }, `batch not scheduled: ${u.file}: ${u.key}: ${u.reason}`);
  }
}

/** One line per schedule: when it runs next, so nobody wonders why nothing happens yet. */
async function logNextRuns(queues: QueueMap, log: Logger): Promise<void> {
  for (const schedule of await existingSchedules(queues)) {
    const next = schedule.next ? new Date(schedule.next).toISOString() : 'not planned';
    log.info({ schedule: schedule.id, cron: schedule.pattern, next }, `${schedule.id}: next run ${next} (cron ${schedule.pattern ?? '-'})`);
  }
}

/**
 * A RUNNING batch with no data yet is ingested now rather than at its next cron tick (up to a
 * whole interval away), through the queue like any manual run.
 */
async function ingestEmptyBatches(load: LoadResult, deps: SchedulerDeps): Promise<void> {
  if (!deps.hasData) {
    return;
  }
  const overrides = await readOverrides(deps.redis, deps.prefix);
  const slot = (deps.now?.() ?? new Date()).toISOString();
  for (const schedule of definedSchedules(load.batches)) {
    const batch = load.batches.find((b) => b.name === schedule.batch);
    if (schedule.queue !== 'ingest' || !batch || !shouldRun(schedule, overrides) || (await deps.hasData(batch))) {
      continue;
    }
    const jobId = slotJobId('ingest', batch.name, slot, '+first');
    await deps.queues.ingest.add('ingest', { batch: batch.name, slot }, { jobId });
    deps.log.info({ batch: batch.name, jobId }, `${batch.name} has no data yet: ingesting now, not at the next cron tick`);
  }
}

/**
 * The scheduler service: one job scheduler per batch and job, reconciled by whichever instance
 * holds the leader lock; the others stand by and take over when the leader stops or dies.
 * A batch file with errors is reported and left out; the good batches run.
 */
export async function startScheduler(deps: SchedulerDeps): Promise<SchedulerHandle> {
  let load = deps.load();
  reportConfig(load, deps.log);

  let reconciles = 0;
  let chain: Promise<unknown> = Promise.resolve();
  // One reconcile at a time; a request during one runs after it, against fresh config.
  const reconcile = (reason: string, reread: boolean, report = true): Promise<ReconcileOutcome | null> => {
    const next = chain.then(async () => {
      if (!lock.isLeader) {
        return null;
      }
      if (reread) {
        load = deps.load();
        if (report) {
          reportConfig(load, deps.log);
        }
      }
      const outcome = await reconcileSchedules(deps.queues, deps.redis, deps.prefix, load);
      reconciles += 1;
      deps.log.info({ reason, batches: load.batches.length, problems: load.problems.length, ...outcome }, 'schedules reconciled');
      await logNextRuns(deps.queues, deps.log);
      if (reason === 'became leader') {
        await ingestEmptyBatches(load, deps);
      }
      return outcome;
    });
    chain = next.catch((error: unknown) => deps.log.error({ err: error, reason }, 'reconcile failed'));
    return next;
  };

  const lock = new LeaderLock(deps.redis, {
    key: schedulerLockKey(deps.prefix),
    ttlMs: deps.lockTtlMs ?? 15_000,
    onAcquired: () => {
      deps.log.info('scheduler leads: reconciling schedules');
      // The config may have changed while this instance stood by.
      // The first time, the load at start has just been reported.
      void reconcile('became leader', true, reconciles > 0).catch(() => {});
    },
    onLost: () => deps.log.warn('scheduler lost the leader lock: standing by'),
    onError: (error) => deps.log.warn({ err: error }, 'scheduler lock: Redis unreachable'),
  });

  const channel = reloadChannel(deps.prefix);
  const onMessage = (received: string): void => {
    if (received === channel) {
      void reconcile('reload requested', true).catch(() => {});
    }
  };
  deps.subscriber.on('message', onMessage);
  await deps.subscriber.subscribe(channel);
  lock.start();

  return {
    get isLeader() {
      return lock.isLeader;
    },
    get reconciles() {
      return reconciles;
    },
    reload: () => reconcile('reload called', true),
    async close() {
      deps.subscriber.off('message', onMessage);
      await deps.subscriber.unsubscribe(channel).catch(() => {});
      await chain;
      const led = lock.isLeader;
      await lock.stop();
      deps.log.info(led ? 'scheduler stopped: leader lock released for a standby' : 'scheduler stopped');
    },
  };
}
