import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadEnv } from '../shared/config/env.js';
import { createDb } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { existingSchedules } from '../shared/schedules/store.js';
import { closeQueues, createBatchCatalog, loadAppBatches, openQueues, type QueueMap } from '../shared/worker.js';
import { startApi, type ApiHandle } from '../services/api/src/main.js';
import { startScheduler, type SchedulerHandle } from '../services/scheduler/src/main.js';
import { anomstack } from './support/cli.js';
import { SERVER_URL } from './support/db.js';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  freePort,
  randomPrefix,
  REDIS_URL,
  BIN,
  ROOT,
  serviceEnv,
  writeBatch,
  type TestDatabase,
} from './support/processes.js';

const TOKEN = 'test-token-0123456789';
const GOOD = { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING' };

/** A logger whose lines the test reads. */
function capturedLogger(): { log: pino.Logger; messages: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { log, messages: () => lines.map((l) => String((JSON.parse(l) as { msg: string }).msg)) };
}

describe('a broken batch in service mode', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let producer: Redis;
  let subscriber: Redis;
  let queues: QueueMap;
  let scheduler: SchedulerHandle;
  let api: ApiHandle;
  let dir: string;
  const { log, messages } = capturedLogger();

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({ good_batch: GOOD, typo_batch: { ...GOOD, alert_treshold: 0.9 } });
    const env = loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN });
    producer = queueConnection(REDIS_URL);
    subscriber = workerConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    scheduler = await startScheduler({ load: () => loadAppBatches(env), queues, redis: producer, subscriber, prefix, log, lockTtlMs: 1000 });
    api = await startApi({ env, catalog: createBatchCatalog(env), queues, redis: producer, prefix, db: createDb(env.databaseUrl), log, port: 0 });
  });

  afterAll(async () => {
    await api.close();
    await scheduler.close();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    subscriber.disconnect();
    await cleanRedisPrefix(prefix);
    await closePool();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('schedules the good batches and logs the broken one with its error', async () => {
    await vi.waitFor(async () => expect((await existingSchedules(queues)).map((s) => s.id)).toContain('ingest:good_batch'), { timeout: 10_000 });
    expect((await existingSchedules(queues)).map((s) => s.id)).not.toContain('ingest:typo_batch');
    expect(messages()).toContainEqual(expect.stringMatching(/config error, batch not scheduled: .*typo_batch\.yaml: alert_treshold: unknown key: did you mean alert_threshold\?/));
  });

  it('logs every error and warning again on reload', async () => {
    writeBatch(dir, 'own_key_batch', { ...GOOD, my_template_value: 3 });
    const before = messages().length;
    await scheduler.reload();
    const after = messages().slice(before);
    expect(after).toContainEqual(expect.stringContaining('typo_batch.yaml: alert_treshold: unknown key: did you mean alert_threshold?'));
    expect(after).toContainEqual(expect.stringMatching(/config warning: .*own_key_batch\.yaml: my_template_value: unknown key, ignored/));
    expect((await existingSchedules(queues)).map((s) => s.id)).toContain('ingest:own_key_batch');
  });

  it('/api/batches lists the broken batch with its errors', async () => {
    const response = await fetch(`http://127.0.0.1:${api.port}/api/batches`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await response.json()) as { batches: { name: string }[]; broken: { file: string; errors: { key: string; reason: string }[] }[] };
    expect(body.batches.map((b) => b.name)).toContain('good_batch');
    expect(body.broken).toEqual([
      { file: path.join(dir, 'typo_batch', 'typo_batch.yaml'), errors: [{ key: 'alert_treshold', reason: expect.stringContaining('did you mean alert_threshold?') }] },
    ]);
  });
});

describe('the CLI with a broken batch', () => {
  const databases: string[] = [];
  afterAll(async () => {
    const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
    await client.connect();
    for (const name of databases) {
      await client.query(`drop database if exists ${name} with (force)`);
    }
    await client.end();
  });

  it('validate exits 1 on a near-miss key; migrate makes the good tables and names the broken file', async () => {
    const dir = createMetricsDir({ good_batch: { ...GOOD, table_key: 'metrics_good' }, typo_batch: { ...GOOD, table_key: 'metrics_typo', alert_treshold: 0.9 } });
    const validate = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: dir });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toMatch(/^error .*typo_batch\.yaml: alert_treshold: unknown key: did you mean alert_threshold\?/m);
    const name = `anomstack_broken_${Date.now()}`;
    databases.push(name);
    const migrate = await anomstack(['migrate'], { ANOMSTACK_METRICS_DIR: dir, ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${name}` });
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ tables: ['metrics_good'], broken: [path.join(dir, 'typo_batch', 'typo_batch.yaml')] });
    expect(migrate.stderr).toContain('alert_treshold: unknown key: did you mean alert_threshold?');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('Postgres and Redis unreachable', () => {
  it('a CLI command logs one line per retry naming Postgres, the address and the variable, then exits 1 plainly', async () => {
    const port = await freePort();
    const result = await anomstack(['migrate'], { ANOMSTACK_DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/anomstack` });
    expect(result.code).toBe(1);
    const retries = result.stderr.split('\n').filter((l) => l.includes('Postgres unreachable'));
    expect(retries).toHaveLength(3);
    for (const line of retries) {
      expect(line).toContain(`postgres://app:***@127.0.0.1:${port}/anomstack`);
      expect(line).toContain('ANOMSTACK_DATABASE_URL');
    }
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('a missing database says to run `anomstack migrate`', async () => {
    const result = await anomstack(['run', 'example_simple', 'ingest'], { ANOMSTACK_DATABASE_URL: `${SERVER_URL}/anomstack_never_made` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has no database "anomstack_never_made": run `anomstack migrate`');
  });

  it('a service retries steadily, one line per retry naming Redis, the address and the variable', async () => {
    const database = await createTestDatabase();
    const port = await freePort();
    const dir = createMetricsDir({ good_batch: GOOD });
    const child = spawn(process.execPath, [BIN, 'start', 'ingest'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix: randomPrefix(), redisUrl: `redis://:redispw@127.0.0.1:${port}` }), ANOMSTACK_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let logs = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const lines = () => logs.split('\n').filter((l) => l.includes('Redis unreachable'));
    try {
      await vi.waitFor(() => expect(lines().length).toBeGreaterThanOrEqual(3), { timeout: 30_000, interval: 100 });
      expect(lines()[0]).toContain(`redis://:***@127.0.0.1:${port}`);
      expect(lines()[0]).toContain('ANOMSTACK_REDIS_URL');
      expect(logs).not.toContain('redispw');
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
