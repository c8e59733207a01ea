import fs from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../shared/config/env.js';
import { createDb } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { logger } from '../shared/logger.js';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, openQueues, type QueueMap } from '../shared/worker.js';
import { startApi, type ApiHandle } from '../services/api/src/main.js';
import { LOGIN_LIMIT } from '../services/api/src/dashboard/pages/login.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, type TestDatabase } from './support/processes.js';

const TOKEN = 'dashboard-limit-token-0123456789';

// Its own api instance: the limit it trips would refuse the other dashboard tests' logins.
describe('dashboard login rate limit', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let producer: Redis;
  let queues: QueueMap;
  let api: ApiHandle;
  let dir: string;
  let base: string;

  const login = (token: string) =>
    fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: base },
      body: new URLSearchParams({ token, next: '/' }).toString(),
    });

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({ limit_batch: { ingest_sql: 'select 1' } });
    const env = loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN });
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    api = await startApi({ env, catalog: createBatchCatalog(env), queues, redis: producer, prefix, db: createDb(env.databaseUrl), log: logger.child({ test: 'login-limit' }), port: 0 });
    base = `http://127.0.0.1:${api.port}`;
  });

  afterAll(async () => {
    await api?.close();
    if (queues) {
      await closeQueues(queues);
    }
    producer?.disconnect();
    await cleanRedisPrefix(prefix);
    await closePool();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client with a clear 429 after too many wrong tokens, even with the right one; a good login before that clears the count', async () => {
    for (let i = 0; i < LOGIN_LIMIT.max - 1; i++) {
      expect((await login(`wrong-${i}`)).status).toBe(401);
    }
    // A good login resets the count: the next max - 1 failures are still 401s.
    expect((await login(TOKEN)).status).toBe(303);
    for (let i = 0; i < LOGIN_LIMIT.max; i++) {
      expect((await login(`wrong-again-${i}`)).status).toBe(401);
    }

    const refused = await login('wrong-once-more');
    expect(refused.status).toBe(429);
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(LOGIN_LIMIT.windowMs / 1000);
    expect(await refused.text()).toContain('Too many failed logins from this address');
    const right = await login(TOKEN);
    expect(right.status).toBe(429);
    expect(right.headers.get('set-cookie')).toBeNull();
  });
});
