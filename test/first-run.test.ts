import fs from 'node:fs';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadEnv } from '../shared/config/env.js';
import { hasMetricRows, upsertMetricRows, ensureMetricsTable } from '../shared/db/metrics-store.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { createChannels, selectChannels } from '../services/alert/src/channels.js';
import { startScheduler, type SchedulerHandle } from '../services/scheduler/src/main.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { anomstack } from './support/cli.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, DEFAULTS_DIR, freePort, randomPrefix, REDIS_URL, type TestDatabase } from './support/processes.js';

function capturedLogger(): { log: pino.Logger; messages: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { log, messages: () => lines.map((l) => String((JSON.parse(l) as { msg: string }).msg)) };
}

describe('log format', () => {
  it('is pretty on a terminal and JSON otherwise, unless ANOMSTACK_LOG_FORMAT says', () => {
    expect(loadEnv({}, true).logFormat).toBe('pretty');
    expect(loadEnv({}, false).logFormat).toBe('json');
    expect(loadEnv({ ANOMSTACK_LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
    expect(loadEnv({ ANOMSTACK_LOG_FORMAT: 'pretty' }, false).logFormat).toBe('pretty');
    expect(() => loadEnv({ ANOMSTACK_LOG_FORMAT: 'xml' })).toThrow('ANOMSTACK_LOG_FORMAT');
  });

  it('the CLI writes readable lines with pretty and JSON lines by default off a terminal', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/anomstack`;
    const pretty = await anomstack(['migrate'], { ANOMSTACK_DATABASE_URL: url, ANOMSTACK_LOG_FORMAT: 'pretty' });
    const warn = pretty.stderr.split('\n').find((l) => l.includes('Postgres unreachable'));
    expect(warn).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: Postgres unreachable/);
    const json = await anomstack(['migrate'], { ANOMSTACK_DATABASE_URL: url });
    const line = json.stderr.split('\n').find((l) => l.includes('Postgres unreachable')) ?? '';
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', server: 'postgres' });
  });
});

describe('"not configured"', () => {
  it('is said once per process, not per job', () => {
    const { log, messages } = capturedLogger();
    const channels = createChannels({ email: null, slack: null, webhook: null });
    for (let job = 0; job < 3; job += 1) {
      expect(selectChannels(channels, ['email', 'slack'], log).unconfigured).toEqual(['email', 'slack']);
    }
    expect(messages().filter((m) => m.includes('email alerts are not configured'))).toHaveLength(1);
    expect(messages().filter((m) => m.includes('slack alerts are not configured'))).toHaveLength(1);
  });
});

describe('the first run', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let producer: Redis;
  let subscriber: Redis;
  let queues: QueueMap;
  let scheduler: SchedulerHandle;
  let dir: string;
  const { log, messages } = capturedLogger();

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({
      empty_batch: { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING', table_key: 'metrics_empty' },
      full_batch: { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING', table_key: 'metrics_full' },
      stopped_batch: { ingest_sql: 'select 1', table_key: 'metrics_stopped' },
    });
    await ensureMetricsTable(database.db, 'metrics_full');
    await upsertMetricRows(database.db, 'metrics_full', [
      { metric_timestamp: new Date('2026-01-01T00:00:00Z'), metric_batch: 'full_batch', metric_name: 'm', metric_type: 'metric', metric_value: 1, metadata: null },
    ]);
    producer = queueConnection(REDIS_URL);
    subscriber = workerConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    const load = () => loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: false, env: {} });
    scheduler = await startScheduler({
      load,
      queues,
      redis: producer,
      subscriber,
      prefix,
      log,
      lockTtlMs: 1000,
      now: () => new Date('2026-02-03T04:05:00Z'),
      hasData: (batch) => hasMetricRows(database.db, batch.config.table_key, batch.name),
    });
  });

  afterAll(async () => {
    await scheduler.close();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    subscriber.disconnect();
    await cleanRedisPrefix(prefix);
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('knows which batches have data (a table not made yet has none)', async () => {
    expect(await hasMetricRows(database.db, 'metrics_full', 'full_batch')).toBe(true);
    expect(await hasMetricRows(database.db, 'metrics_full', 'other')).toBe(false);
    expect(await hasMetricRows(database.db, 'metrics_never_made', 'empty_batch')).toBe(false);
  });

  it('ingests a RUNNING batch with no data at once, and only that one', async () => {
    await vi.waitFor(async () => expect(await queues.ingest.getJob('ingest:empty_batch:2026-02-03T040500.000Z+first')).toBeTruthy(), { timeout: 10_000 });
    const waiting = (await queues.ingest.getWaiting()).map((j) => j.data.batch);
    expect(waiting).toEqual(['empty_batch']);
    expect(messages()).toContain('empty_batch has no data yet: ingesting now, not at the next cron tick');
  });

  it("logs each schedule's next run", () => {
    const next = messages().filter((m) => /^ingest:(empty|full)_batch: next run \d{4}-\d\d-\d\dT/.test(m));
    expect(next).toHaveLength(2);
    expect(messages().some((m) => m.startsWith('ingest:stopped_batch'))).toBe(false);
  });
});
