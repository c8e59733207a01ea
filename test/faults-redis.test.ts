import fs from 'node:fs';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { slotJobId } from '../services/scheduler/src/chain.js';
import {
  createMetricsDir,
  createTestDatabase,
  ingestOnlyBatch,
  minuteSlots,
  randomPrefix,
  serviceEnv,
  startRedisServer,
  startService,
  stopAll,
  waitFor,
  type RedisServer,
  type TestDatabase,
} from './support/processes.js';

const JOBS = 400;
const BATCH = 'redis_fault_batch';

// A private redis-server: restarting the machine's Redis would break the test files running
// beside this one. It persists as compose's does (appendonly yes), so a restart keeps the queues.
describe('Redis restarted while jobs run', () => {
  const prefix = randomPrefix();
  let redis: RedisServer;
  let database: TestDatabase;
  let dir: string;
  let producer: Redis;
  let queues: QueueMap;
  let client: pg.Client;

  beforeAll(async () => {
    redis = await startRedisServer();
    database = await createTestDatabase();
    dir = createMetricsDir({ [BATCH]: ingestOnlyBatch('redis_fault_metrics') });
    producer = queueConnection(redis.url);
    queues = openQueues(producer, prefix);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await stopAll();
    await client.end();
    await closeQueues(queues);
    producer.disconnect();
    await redis.stop();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('workers reconnect and finish every job; producers fail fast while it is down', async () => {
    const env = serviceEnv({
      databaseUrl: database.url,
      metricsDir: dir,
      prefix,
      redisUrl: redis.url,
      extra: { ANOMSTACK_WORKER_LOCK_MS: '2000', ANOMSTACK_WORKER_CONCURRENCY: '2', ANOMSTACK_JOB_BACKOFF_MS: '200' },
    });
    const worker = await startService(['ingest'], env);
    const slots = minuteSlots(JOBS);
    await queues.ingest.addBulk(slots.map((slot) => ({ name: 'ingest', data: { batch: BATCH, slot }, opts: { jobId: slotJobId('ingest', BATCH, slot) } })));
    await waitFor(async () => (await queues.ingest.getCompletedCount()) >= JOBS / 4, 60_000, 'a quarter of the jobs');

    // When: Redis goes away and comes back
    let failFastMs = Number.NaN;
    const downAt = Date.now();
    await redis.restart({
      downtime: async () => {
        // A producer (the API, the scheduler) gets an error at once instead of hanging.
        const offline = queueConnection(redis.url);
        const queue = new Queue('ingest', { connection: offline, prefix, skipWaitingForReady: true });
        queue.on('error', () => {});
        const before = Date.now();
        await expect(queue.add('ingest', { batch: BATCH, slot: 'x' })).rejects.toThrow();
        failFastMs = Date.now() - before;
        await queue.close().catch(() => {});
        offline.disconnect();
        // Stay down until the worker has noticed (its connection errors are logged once each).
        const logged = worker.logs().length;
        await waitFor(() => worker.logs().slice(logged).includes('ECONNREFUSED'), 20_000, 'the worker to see Redis down');
      },
    });
    const upAt = Date.now();
    const completedAtRestart = await waitFor(() => queues.ingest.getCompletedCount(), 10_000, 'the producer to reconnect');

    // Then
    await waitFor(async () => (await queues.ingest.getCompletedCount()) === JOBS, 60_000, `all ${JOBS} jobs completed`);
    const doneAt = Date.now();
    expect(await queues.ingest.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    const { rows } = await client.query<{ n: number; distinct_slots: number }>(
      'select count(*)::int as n, count(distinct metric_timestamp)::int as distinct_slots from redis_fault_metrics',
    );
    expect(rows[0]).toEqual({ n: JOBS, distinct_slots: JOBS });
    expect(failFastMs).toBeLessThan(1000);
    expect(worker.child.exitCode).toBeNull();
    console.info(
      JSON.stringify({
        jobs: JOBS,
        completedAtRestart,
        downMs: upAt - downAt,
        producerFailFastMs: failFastMs,
        msUpToAllDone: doneAt - upAt,
        stalledLogged: worker.logs().match(/job stalled/g)?.length ?? 0,
        retriesLogged: worker.logs().match(/will retry/g)?.length ?? 0,
      }),
    );
  });
});
