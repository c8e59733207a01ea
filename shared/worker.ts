import { Queue, UnrecoverableError, Worker, type DefaultJobOptions, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadEnv, type AppEnv } from './config/env.js';
import { loadBatches, type LoadResult } from './config/load-batches.js';
import { type MetricBatch } from './config/metric-batch.js';
import { type JobName } from './jobs.js';
import type { Db } from './db/db.js';
import { isInputError } from './errors.js';
import type { FinalFailure, JobContext, JobCore, JobResult } from './job.js';
import { withJobRun } from './job-runs.js';
import { logger as rootLogger, type Logger } from './logger.js';
import { isConnectionError } from './redis-health.js';
import { type BatchJobData } from './queues.js';
import { JOB_NAMES } from './jobs.js';

/**
 * Retry policy of every queue: transient failures (Postgres or SMTP down) are retried with
 * exponential backoff; bad input fails at once through UnrecoverableError. Finished jobs are kept
 * a while for Bull Board and `GET /api/jobs`, and so that a chained job id
 * (`score:<batch>:<slot>`) still dedupes.
 */
export function defaultJobOptions(env: Pick<AppEnv, 'jobAttempts' | 'jobBackoffMs'>): DefaultJobOptions {
  return {
    attempts: env.jobAttempts,
    backoff: { type: 'exponential', delay: env.jobBackoffMs },
    removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
    removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
  };
}

export type QueueMap = Readonly<Record<JobName, Queue<BatchJobData>>>;

/** Producer handles on every queue, sharing one fail-fast connection (see shared/redis.ts). */
export function openQueues(connection: Redis, prefix: string, env: Pick<AppEnv, 'jobAttempts' | 'jobBackoffMs'> = loadEnv({})): QueueMap {
  const options = defaultJobOptions(env);
  return Object.fromEntries(
    JOB_NAMES.map((name) => {
      const queue = new Queue<BatchJobData>(name, { connection, prefix, defaultJobOptions: options });
      // Without a listener BullMQ prints every connection error's stack to stderr; the outage is
      // logged once per retry by shared/redis-health.ts, and a failed command rejects its caller.
      queue.on('error', () => {});
      return [name, queue];
    }),
  ) as Record<JobName, Queue<BatchJobData>>;
}

export async function closeQueues(queues: QueueMap): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close().catch(() => {})));
}

export interface StartWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /**
   * How long a worker holds a job's lock between renewals: a worker that dies (kill -9) gives
   * its active jobs back to the queue once the lock lapses.
   */
  lockDuration: number;
  log?: Logger;
}

/**
 * Starts a BullMQ worker and attaches the failed/error/stalled logging once, here, so that
 * processors never catch-log-rethrow.
 */
export function startWorker<Result>(
  queue: JobName,
  processor: Processor<BatchJobData, Result>,
  options: StartWorkerOptions,
): Worker<BatchJobData, Result> {
  const log = (options.log ?? rootLogger).child({ queue });
  const lockDuration = options.lockDuration;
  const worker = new Worker<BatchJobData, Result>(queue, processor, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration,
    // The stalled check runs as often as a lock can lapse, so a dead worker's jobs come back fast.
    stalledInterval: lockDuration,
    maxStalledCount: 2,
  });
  worker.on('failed', (job, error) => {
    const final = !job || error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    log[final ? 'error' : 'warn'](
      { jobId: job?.id, batch: job?.data.batch, attempt: job?.attemptsMade, final, err: error },
      final ? 'job failed' : 'job failed, will retry',
    );
  });
  // Redis being down is logged once per retry by shared/redis-health.ts, not once per worker.
  worker.on('error', (error) => (isConnectionError(error) ? log.debug({ err: error.message }, 'worker: Redis unreachable') : log.error({ err: error }, 'worker error')));
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled (its worker died or blocked); it runs again'));
  return worker;
}

/** Loaded batches, kept until a reload is asked for (or a job names a batch not seen yet). */
export interface BatchCatalog {
  get(): LoadResult;
  find(name: string): MetricBatch | undefined;
  invalidate(): void;
}

export function createBatchCatalog(env: AppEnv, load: () => LoadResult = () => loadAppBatches(env)): BatchCatalog {
  let current: LoadResult | null = null;
  const get = (): LoadResult => (current ??= load());
  return {
    get,
    find(name) {
      const found = get().batches.find((b) => b.name === name);
      if (found) {
        return found;
      }
      // A batch added since the last load: read the directory again before giving up.
      current = null;
      return get().batches.find((b) => b.name === name);
    },
    invalidate() {
      current = null;
    },
  };
}

export function loadAppBatches(env: AppEnv): LoadResult {
  return loadBatches({ metricsDir: env.metricsDir, defaultsDir: env.defaultsDir, ignoreExamples: env.ignoreExamples, limits: env.configLimits });
}

/**
 * The slot a job stands for: `data.slot` for manual and chained runs; for a job scheduler's run
 * the time in its id (`repeat:<scheduler id>:<ms>`), else when it was due.
 */
export function slotOf(job: Pick<Job<BatchJobData>, 'data' | 'id' | 'timestamp' | 'delay'>): Date {
  if (job.data.slot) {
    const slot = new Date(job.data.slot);
    if (!Number.isNaN(slot.getTime())) {
      return slot;
    }
  }
  const millis = /^repeat:.*:(\d{10,})$/.exec(job.id ?? '')?.[1];
  return new Date(millis ? Number(millis) : job.timestamp + (job.delay ?? 0));
}

/** What a processor needs besides the job; built once per process by `services/start.ts`. */
export interface ProcessorDeps {
  env: AppEnv;
  db: Db;
  catalog: BatchCatalog;
  cores: Readonly<Record<JobName, JobCore>>;
  /** Called after a run succeeds, before the job completes: chaining (at least once). */
  onResult?: (event: { queue: JobName; jobId: string; batch: MetricBatch; slot: string; result: JobResult }) => Promise<void>;
  /**
   * Called once when a run fails for the last time (an input error, or its last attempt), before
   * the job is failed: the failure notification. Its own errors are logged, never the job's.
   */
  onFinalFailure?: (failure: FinalFailure) => Promise<unknown>;
  log?: Logger;
}

/** Whether a failure of this attempt is the job's last: unrecoverable, or no attempts left. */
export function isFinalAttempt(job: Pick<Job<BatchJobData>, 'attemptsMade' | 'opts'>, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * The queue adapter of every job kind: find the batch, run its core as
 * `anomstack run` does with now = the slot, record the run, map errors onto BullMQ's retry rules.
 */
export function createJobProcessor(queue: JobName, deps: ProcessorDeps): Processor<BatchJobData, JobResult> {
  const baseLog = (deps.log ?? rootLogger).child({ queue });
  const run = runJob(queue, deps);
  return async (job) => {
    const log = baseLog.child({ jobId: job.id ?? '', batch: job.data.batch });
    try {
      return await run(job, log);
    } catch (error) {
      if (deps.onFinalFailure !== undefined && isFinalAttempt(job, error)) {
        const failure: FinalFailure = {
          queue,
          jobId: job.id ?? '',
          batch: String(job.data.batch),
          slot: slotOf(job).toISOString(),
          attempt: job.attemptsMade + 1,
          attempts: job.opts.attempts ?? 1,
          inputError: error instanceof UnrecoverableError,
          reason: error instanceof Error ? error.message : String(error),
        };
        await deps.onFinalFailure(failure).catch((notifyError: unknown) => log.warn({ err: notifyError }, 'failure notification failed'));
      }
      throw error;
    }
  };
}

function runJob(queue: JobName, deps: ProcessorDeps): (job: Job<BatchJobData>, log: Logger) => Promise<JobResult> {
  return async (job, log) => {
    const jobId = job.id ?? '';
    const batch = typeof job.data.batch === 'string' ? deps.catalog.find(job.data.batch) : undefined;
    if (!batch) {
      const load = deps.catalog.get();
      const reason = load.disabled.includes(job.data.batch)
        ? `batch "${job.data.batch}" has disable_batch: true`
        : `unknown batch "${String(job.data.batch)}" (not in ${deps.env.metricsDir}${load.problems.length ? '; some batch files have errors: run anomstack validate' : ''})`;
      throw new UnrecoverableError(reason);
    }
    const now = slotOf(job);
    const slot = now.toISOString();
    if (batch.disabled[queue]) {
      log.info({ slot }, `skipped: disable_${queue} is set`);
      return { batch: batch.name, job: queue, status: 'skipped', rows: 0, reason: `disable_${queue} is set` };
    }
    // Lines for the job's own log (Bull Board's Logs tab), written before the job completes.
    const jobLogWrites: Promise<unknown>[] = [];
    const context: JobContext = {
      env: deps.env,
      db: deps.db,
      batches: deps.catalog.get().batches,
      now,
      dryRun: false,
      log,
      jobLog: (line) => jobLogWrites.push(job.log(line).catch(() => 0)),
    };
    const started = Date.now();
    let result: JobResult;
    try {
      result = await withJobRun(
        deps.db,
        batch.name,
        queue,
        { via: 'queue', queue, jobId, slot, attempt: job.attemptsMade + 1 },
        () => deps.cores[queue](batch, context),
      );
    } catch (error) {
      await Promise.all(jobLogWrites);
      throw toQueueError(error, batch.name, queue);
    }
    await Promise.all(jobLogWrites);
    log.info({ slot, status: result.status, rows: result.rows, reason: result.reason, ms: Date.now() - started }, 'job done');
    await deps.onResult?.({ queue, jobId, batch, slot, result });
    // The return value is stored in Redis in clear text: no rows, only the summary.
    const { wouldWrite: _omit, ...summary } = result;
    return summary;
  };
}

/** Bad input (config, templates, user SQL or functions) is not retried; anything else is. */
export function toQueueError(error: unknown, batch: string, queue: JobName): Error {
  if (isInputError(error)) {
    return new UnrecoverableError(`${batch} ${queue}: ${error.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
