import fs from 'node:fs';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv, type AppEnv } from '../shared/config/env.js';
import { JOB_NAMES, type JobName } from '../shared/jobs.js';
import { createDb, type Db } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { InputError } from '../shared/errors.js';
import type { JobCore, JobResult } from '../shared/job.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, createJobProcessor, openQueues, slotOf, startWorker, type QueueMap } from '../shared/worker.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, waitFor, type TestDatabase } from './support/processes.js';

describe('job processor on a real queue', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let env: AppEnv;
  let db: Db;
  let producer: Redis;
  let consumer: Redis;
  let queues: QueueMap;
  let worker: Worker;
  let dir: string;
  const calls: { job: JobName; batch: string; now: Date }[] = [];
  let transientFailuresLeft = 2;

  const ok = (job: JobName): JobCore => async (batch, context) => {
    calls.push({ job, batch: batch.name, now: context.now });
    return { batch: batch.name, job, status: 'ok', rows: 1 } satisfies JobResult;
  };
  const cores = Object.fromEntries(JOB_NAMES.map((job) => [job, ok(job)])) as Record<JobName, JobCore>;
  cores.train = async () => {
    throw new InputError('train_sql references a missing column');
  };
  cores.score = async (batch) => {
    if (transientFailuresLeft > 0) {
      transientFailuresLeft -= 1;
      throw new Error('connection terminated unexpectedly');
    }
    return { batch: batch.name, job: 'score', status: 'ok', rows: 7 };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({ w_batch: { ingest_sql: 'select 1' }, off_batch: { ingest_sql: 'select 1', disable_alert: true } });
    env = loadEnv(serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }));
    db = createDb(env.databaseUrl);
    producer = queueConnection(REDIS_URL);
    consumer = workerConnection(REDIS_URL);
    // Short backoff so the retry test runs in well under a second.
    queues = openQueues(producer, prefix, { jobAttempts: 4, jobBackoffMs: 20 });
    const catalog = createBatchCatalog(env);
    const processor = (queue: JobName) => createJobProcessor(queue, { env, db, catalog, cores });
    worker = startWorker('ingest', processor('ingest'), { connection: consumer, prefix, concurrency: 2, lockDuration: env.workerLockMs });
    workers.push(
      startWorker('train', processor('train'), { connection: consumer, prefix, concurrency: 1, lockDuration: env.workerLockMs }),
      startWorker('score', processor('score'), { connection: consumer, prefix, concurrency: 1, lockDuration: env.workerLockMs }),
      startWorker('alert', processor('alert'), { connection: consumer, prefix, concurrency: 1, lockDuration: env.workerLockMs }),
    );
  });
  const workers: Worker[] = [];

  afterAll(async () => {
    await Promise.all([worker, ...workers].map((w) => w.close()));
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    consumer.disconnect();
    await cleanRedisPrefix(prefix);
    await closePool();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const finished = async (queue: JobName, id: string) =>
    waitFor(async () => {
      const state = await queues[queue].getJobState(id);
      // Read the job after its state is final: a copy read while it ran has no result yet.
      const job = state === 'completed' || state === 'failed' ? await queues[queue].getJob(id) : undefined;
      return job ? { job, state } : undefined;
    }, 10_000, `${queue} job ${id} to finish`);

  it('runs the core with now = the slot and returns its result as the job value', async () => {
    const slot = '2026-03-01T10:03:00.000Z';
    await queues.ingest.add('ingest', { batch: 'w_batch', slot }, { jobId: 'ingest:w_batch:a' });
    const { job, state } = await finished('ingest', 'ingest:w_batch:a');
    expect(state).toBe('completed');
    expect(job.returnvalue).toEqual({ batch: 'w_batch', job: 'ingest', status: 'ok', rows: 1 });
    expect(calls.find((c) => c.job === 'ingest')?.now.toISOString()).toBe(slot);
    // The run is recorded in anomstack_job_runs.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const runs = await client.query<{ status: string; detail: { jobId: string; slot: string } }>(
      "select status, detail from anomstack_job_runs where job = 'ingest'",
    );
    await client.end();
    expect(runs.rows).toMatchObject([{ status: 'ok', detail: { jobId: 'ingest:w_batch:a', slot } }]);
  });

  it('fails an InputError at once: one attempt, no retry', async () => {
    await queues.train.add('train', { batch: 'w_batch', slot: new Date().toISOString() }, { jobId: 'train:w_batch:bad' });
    const { job, state } = await finished('train', 'train:w_batch:bad');
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('missing column');
  });

  it('fails an unknown batch at once', async () => {
    await queues.ingest.add('ingest', { batch: 'nope', slot: new Date().toISOString() }, { jobId: 'ingest:nope:x' });
    const { job, state } = await finished('ingest', 'ingest:nope:x');
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('unknown batch "nope"');
  });

  it('retries a transient error with backoff until it succeeds', async () => {
    await queues.score.add('score', { batch: 'w_batch', slot: new Date().toISOString() }, { jobId: 'score:w_batch:flaky' });
    const { job, state } = await finished('score', 'score:w_batch:flaky');
    expect(state).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    expect(job.returnvalue).toMatchObject({ status: 'ok', rows: 7 });
  });

  it('skips a job the batch disables, without calling its core', async () => {
    const before = calls.length;
    await queues.alert.add('alert', { batch: 'off_batch', slot: new Date().toISOString() }, { jobId: 'alert:off_batch:x' });
    const { job, state } = await finished('alert', 'alert:off_batch:x');
    expect(state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ status: 'skipped', reason: 'disable_alert is set' });
    expect(calls.length).toBe(before);
  });

  it("reads a scheduled run's slot from its id", () => {
    expect(slotOf({ data: { batch: 'b' } as never, id: 'repeat:ingest:b:1767225600000', timestamp: 1, delay: 0 }).toISOString()).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });
});
