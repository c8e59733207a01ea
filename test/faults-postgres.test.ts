import fs from 'node:fs';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueConnection } from '../shared/redis.js';
import type { BatchJobData } from '../shared/queues.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { slotJobId } from '../services/scheduler/src/chain.js';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  ingestOnlyBatch,
  minuteSlots,
  randomPrefix,
  REDIS_URL,
  serviceEnv,
  startService,
  startTcpProxy,
  stopAll,
  waitFor,
  type TcpProxy,
  type TestDatabase,
} from './support/processes.js';

const JOBS = 300;
const BATCH = 'pg_fault_batch';

// Postgres is cut off behind a TCP proxy (open connections reset, new ones refused), which is
// what a stopped server looks like to the workers, while the other test files keep using it.
describe('Postgres unreachable for a while', () => {
  const prefix = randomPrefix();
  let proxy: TcpProxy;
  let database: TestDatabase;
  let dir: string;
  let producer: Redis;
  let queues: QueueMap;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await startTcpProxy(Number(new URL(database.url).port || 5432));
    dir = createMetricsDir({ [BATCH]: ingestOnlyBatch('pg_fault_metrics') });
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    proxy.restore();
    await stopAll();
    await client.end();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await proxy.close();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails jobs while it is down, retries them with backoff, and loses nothing', async () => {
    const proxied = new URL(database.url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const env = serviceEnv({
      databaseUrl: proxied.toString(),
      metricsDir: dir,
      prefix,
      // Backoff 100 ms doubling over 10 attempts: about 50 s of patience, far more than the outage.
      extra: { ANOMSTACK_WORKER_CONCURRENCY: '2', ANOMSTACK_JOB_BACKOFF_MS: '100', ANOMSTACK_JOB_ATTEMPTS: '10' },
    });
    const worker = await startService(['ingest'], env);
    // The producer sets the retry policy, as the API and the scheduler do.
    const retrying = openQueues(producer, prefix, { ANOMSTACK_JOB_BACKOFF_MS: '100', ANOMSTACK_JOB_ATTEMPTS: '10' });
    const slots = minuteSlots(JOBS);
    await retrying.ingest.addBulk(slots.map((slot) => ({ name: 'ingest', data: { batch: BATCH, slot }, opts: { jobId: slotJobId('ingest', BATCH, slot) } })));
    await closeQueues(retrying);
    await waitFor(async () => (await queues.ingest.getCompletedCount()) >= JOBS / 4, 60_000, 'a quarter of the jobs');

    // When: Postgres goes away until jobs have failed, and failed again on their first retry
    const downAt = Date.now();
    proxy.cut();
    let upAt: number;
    try {
      await waitFor(
        async () => worker.child.exitCode !== null || (await queues.ingest.getDelayed()).some((job) => job.attemptsMade >= 2),
        30_000,
        'a job to fail its retry too',
      );
    } finally {
      proxy.restore();
      upAt = Date.now();
    }
    if (worker.child.exitCode !== null) {
      const crash = worker.logs().split('\n').filter((line) => !line.startsWith('{')).join('\n');
      throw new Error(`the worker crashed during the outage instead of retrying:\n${crash.slice(-2000)}`);
    }

    // Then
    await waitFor(async () => (await queues.ingest.getCompletedCount()) === JOBS, 60_000, `all ${JOBS} jobs completed`);
    const doneAt = Date.now();
    expect(await queues.ingest.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    const { rows } = await client.query<{ n: number; distinct_slots: number }>(
      'select count(*)::int as n, count(distinct metric_timestamp)::int as distinct_slots from pg_fault_metrics',
    );
    expect(rows[0]).toEqual({ n: JOBS, distinct_slots: JOBS });
    const completed: Job<BatchJobData>[] = await queues.ingest.getCompleted(0, JOBS);
    const retried = completed.filter((job) => job.attemptsMade > 1);
    expect(retried.length).toBeGreaterThanOrEqual(2);
    // The worker rode it out: no crash, no restart needed.
    expect(worker.child.exitCode).toBeNull();
    console.info(
      JSON.stringify({
        jobs: JOBS,
        downMs: upAt - downAt,
        jobsRetried: retried.length,
        extraAttempts: retried.reduce((sum, job) => sum + job.attemptsMade - 1, 0),
        maxAttempts: Math.max(...completed.map((job) => job.attemptsMade)),
        msUpToAllDone: doneAt - upAt,
      }),
    );
  });
});
