import type { Redis } from 'ioredis';
import type { LoadResult } from '../../../shared/config/load-batches.js';
import type { Logger } from '../../../shared/logger.js';
import { reloadChannel, schedulerLockKey } from '../../../shared/redis.js';
import { LeaderLock } from '../../../shared/scheduler-lock.js';
import type { QueueMap } from '../../../shared/worker.js';
import { reconcileSchedules, type ReconcileOutcome } from '../../../shared/schedules/store.js';

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
}

export interface SchedulerHandle {
  readonly isLeader: boolean;
  /** Completed reconciles (tests and logs). */
  readonly reconciles: number;
  /** Re-reads the metrics directory and reconciles, if this instance leads. */
  reload(): Promise<ReconcileOutcome | null>;
  close(): Promise<void>;
}

export class SchedulerConfigError extends Error {
  override name = 'SchedulerConfigError';
}

/**
 * The scheduler service: one job scheduler per batch and job, reconciled by whichever instance
 * holds the leader lock; the others stand by and take over when the leader stops or dies.
 * Bad batch config stops it at boot, not a job at 3 a.m.
 */
export async function startScheduler(deps: SchedulerDeps): Promise<SchedulerHandle> {
  let load = deps.load();
  if (load.problems.length > 0) {
    throw new SchedulerConfigError(
      `the scheduler will not start with config errors (run anomstack validate):\n${load.problems
        .map((p) => `  ${p.file}: ${p.key}: ${p.reason}`)
        .join('\n')}`,
    );
  }

  let reconciles = 0;
  let chain: Promise<unknown> = Promise.resolve();
  // One reconcile at a time; a request during one runs after it, against fresh config.
  const reconcile = (reason: string, reread: boolean): Promise<ReconcileOutcome | null> => {
    const next = chain.then(async () => {
      if (!lock.isLeader) {
        return null;
      }
      if (reread) {
        load = deps.load();
      }
      const outcome = await reconcileSchedules(deps.queues, deps.redis, deps.prefix, load);
      reconciles += 1;
      deps.log.info({ reason, batches: load.batches.length, problems: load.problems.length, ...outcome }, 'schedules reconciled');
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
      void reconcile('became leader', true).catch(() => {});
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
