import fs from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { existingSchedules } from '../shared/schedules/store.js';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  randomPrefix,
  REDIS_URL,
  serviceEnv,
  startService,
  stopAll,
  waitFor,
  writeBatch,
  type TestDatabase,
} from './support/processes.js';

describe('two scheduler processes', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let dir: string;
  let producer: Redis;
  let queues: QueueMap;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({ s_batch: { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING' } });
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
  });

  afterAll(async () => {
    await stopAll();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('only the leader reconciles; after kill -9 the standby takes over within the lock TTL', async () => {
    const env = serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix, extra: { ANOMSTACK_SCHEDULER_LOCK_MS: '1500' } });
    const [first, second] = await Promise.all([startService(['scheduler'], env), startService(['scheduler'], env)]);
    const reconciled = (logs: string) => logs.match(/"msg":"schedules reconciled"/g)?.length ?? 0;
    await waitFor(() => reconciled(first.logs()) + reconciled(second.logs()) > 0, 10_000, 'a reconcile');
    const [leader, standby] = reconciled(first.logs()) > 0 ? [first, second] : [second, first];
    expect(reconciled(standby.logs())).toBe(0);
    expect((await existingSchedules(queues)).map((s) => s.id).sort()).toEqual(['ingest:s_batch', 'summary']);

    // When: the leader dies without releasing its lock, and the config changed meanwhile
    writeBatch(dir, 't_batch', { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING' });
    const killedAt = Date.now();
    await leader.kill9();

    // Then
    await waitFor(async () => (await existingSchedules(queues)).some((s) => s.id === 'ingest:t_batch'), 10_000, 'the standby to reconcile');
    const takeoverMs = Date.now() - killedAt;
    expect(standby.logs()).toContain('"msg":"scheduler leads: reconciling schedules"');
    expect(takeoverMs).toBeLessThan(5000);
    console.info(JSON.stringify({ lockTtlMs: 1500, takeoverMs }));
  });
});
