import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  freePort,
  ingestOnlyBatch,
  randomPrefix,
  serviceEnv,
  spawnService,
  startRedisServer,
  stopAll,
  waitFor,
  waitForLog,
  type RedisServer,
  type TestDatabase,
} from './support/processes.js';

const BATCH = 'redis_start_batch';
const TABLE = 'redis_start_metrics';
const TOKEN = randomBytes(24).toString('hex');
const RETRY = '"msg":"Redis unreachable: retrying"';

/** The JSON log lines of a process; throws on a line that is not JSON (a stack trace, say). */
const jsonLines = (logs: string): Array<Record<string, unknown>> =>
  logs
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`a log line is not JSON: ${line.slice(0, 300)}`);
      }
    });

// Issue 14, item 4: `anomstack start all` while Redis is unreachable. A private redis-server,
// created stopped, is started half-way through.
describe('Redis down when anomstack start all begins', () => {
  let redis: RedisServer;
  let database: TestDatabase;
  let dir: string;
  const prefix = randomPrefix();

  beforeAll(async () => {
    redis = await startRedisServer({ started: false });
    database = await createTestDatabase();
    dir = createMetricsDir({ [BATCH]: ingestOnlyBatch(TABLE) });
  });

  afterAll(async () => {
    await stopAll();
    await redis?.start();
    await cleanRedisPrefix(prefix, redis.url).catch(() => {});
    await redis?.stop();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = async (): Promise<{ port: number; vars: Record<string, string> }> => {
    const port = await freePort();
    const vars = serviceEnv({
      databaseUrl: database.url,
      metricsDir: dir,
      prefix,
      redisUrl: redis.url,
      extra: { ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_API_PORT: String(port), ANOMSTACK_WORKER_LOCK_MS: '2000' },
    });
    return { port, vars };
  };

  it('answers /healthz with 503 and the reason, logs one JSON line per retry, and ends on SIGTERM', async () => {
    const { port, vars } = await env();
    const service = spawnService(['all'], vars);
    await waitForLog(service, '"msg":"admin API listening"');

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, redis: false, postgres: true, reasons: { redis: expect.stringContaining('ECONNREFUSED') } });

    await waitFor(() => service.logs().split(RETRY).length > 3, 30_000, 'three retries logged');
    expect(await service.stop()).toBe(0);

    const lines = jsonLines(service.logs());
    const retries = lines.filter((l) => l.msg === 'Redis unreachable: retrying');
    // One line per retry: attempts count up by one, and no other line speaks of the refused connection.
    expect(retries.map((l) => l.attempt)).toEqual(retries.map((_l, i) => i + 1));
    expect(lines.filter((l) => JSON.stringify(l).includes('ECONNREFUSED'))).toHaveLength(retries.length);
    expect(lines.map((l) => l.msg)).toContain('stopping before start-up completed');
    expect(lines.map((l) => l.msg)).not.toContain('services started');
  });

  it('starts the workers and the scheduler once Redis comes up, and runs jobs', async () => {
    const { port, vars } = await env();
    const service = spawnService(['all'], vars);
    await waitForLog(service, '"msg":"admin API listening"');
    await waitForLog(service, RETRY);

    // When: Redis comes up
    await redis.start();
    await waitForLog(service, '"msg":"services started"');

    // Then: healthy, and a manual run goes through the queue and a worker to Postgres
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({ status: 200, body: { ok: true } });
    const slot = '2026-03-01T00:00:00.000Z';
    const posted = await fetch(`http://127.0.0.1:${port}/api/batches/${BATCH}/jobs/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slot }),
    });
    expect(posted.status).toBe(202);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const count = async (): Promise<number> => {
        const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${TABLE} where metric_timestamp = $1`, [slot]).catch(() => ({ rows: [{ n: 0 }] }));
        return rows[0]?.n ?? 0;
      };
      await waitFor(async () => (await count()) === 1, 30_000, 'the manual ingest row');
    } finally {
      await client.end();
    }
    const lines = jsonLines(service.logs());
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['Redis reachable again', 'schedules reconciled', 'job done']));
    expect(await service.stop()).toBe(0);
  });
});
