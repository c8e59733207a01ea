import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueConnection } from '../shared/redis.js';
import {
  minuteSlots,
  serviceEnv,
  startFaultRig,
  startRedisServer,
  startService,
  waitFor,
  type FaultRig,
  type RedisServer,
} from './support/processes.js';

const JOBS = 400;
const BATCH = 'redis_fault_batch';

// A private redis-server: restarting the machine's Redis would break the test files running
// beside this one. It persists as compose's does (appendonly yes), so a restart keeps the queues.
describe('Redis restarted while jobs run', () => {
  let redis: RedisServer;
  let rig: FaultRig;

  beforeAll(async () => {
    redis = await startRedisServer();
    rig = await startFaultRig({ batch: BATCH, table: 'redis_fault_metrics', redisUrl: redis.url });
  });

  afterAll(async () => {
    try {
      await rig?.close();
    } finally {
      await redis?.stop();
    }
  });

  it('workers reconnect and finish every job; producers fail fast while it is down', async () => {
    const env = serviceEnv({
      databaseUrl: rig.database.url,
      metricsDir: rig.dir,
      prefix: rig.prefix,
      redisUrl: redis.url,
      extra: { ANOMSTACK_WORKER_LOCK_MS: '2000', ANOMSTACK_WORKER_CONCURRENCY: '2', ANOMSTACK_JOB_BACKOFF_MS: '200' },
    });
    const worker = await startService(['ingest'], env);
    const slots = minuteSlots(JOBS);
    await rig.enqueueSlots(slots);
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) >= JOBS / 4, 60_000, 'a quarter of the jobs');

    // When: Redis goes away and comes back
    let failFastMs = Number.NaN;
    const downAt = Date.now();
    await redis.restart({
      downtime: async () => {
        // A producer (the API, the scheduler) gets an error at once instead of hanging.
        const offline = queueConnection(redis.url);
        const queue = new Queue('ingest', { connection: offline, prefix: rig.prefix, skipWaitingForReady: true });
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
    const completedAtRestart = await waitFor(() => rig.queues.ingest.getCompletedCount(), 10_000, 'the producer to reconnect');

    // Then
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) === JOBS, 60_000, `all ${JOBS} jobs completed`);
    const doneAt = Date.now();
    expect(await rig.queues.ingest.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    const { rows } = await rig.client.query<{ n: number; distinct_slots: number }>(
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
