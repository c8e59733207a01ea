import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { INGEST_CHUNK_ROWS, runIngestSql } from '../services/ingest/src/ingest-sql.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { isInputError } from '../shared/errors.js';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import { createMetricsDir, createTestDatabase, DEFAULTS_DIR, type TestDatabase } from './support/processes.js';

/**
 * Issue 13 (memory): an ingest reads its SQL through a cursor and validates and stages the rows
 * chunk by chunk, in one write transaction, so a backfill never holds all its rows. These pin
 * what that must not change: every row written once, duplicates averaged across chunks, and a
 * bad row or a failing source in a later chunk writing nothing.
 */

/** More than two chunks: 7 metrics x 3,572 points = 25,004 rows. */
const METRICS = 7;
const POINTS = 3572;
const ROWS = METRICS * POINTS;
const NOW = new Date('2026-04-01T00:00:00Z');
const SERIES = `from generate_series(0, ${POINTS - 1}) as i, generate_series(1, ${METRICS}) as n`;
const TIME = `{{param.now}}::timestamptz - i * interval '1 minute'`;

let database: TestDatabase;
let dir: string;
let batches: MetricBatch[];

beforeAll(async () => {
  expect(ROWS).toBeGreaterThan(2 * INGEST_CHUNK_ROWS);
  dir = createMetricsDir({
    many: {
      table_key: 'stream_many',
      ingest_sql: `select 'm' || n as metric_name, ${TIME} as metric_timestamp, n * 1000 + i + 0.123456 as metric_value ${SERIES} order by i, n`,
    },
    // The last row (in a third chunk) repeats the key of the first (in the first chunk).
    dupes: {
      table_key: 'stream_dupes',
      ingest_sql: `select metric_name, metric_timestamp, metric_value from (
          select 'm' || n as metric_name, ${TIME} as metric_timestamp, (n * 10 + i)::float8 as metric_value, i as o, n as p ${SERIES}
          union all select 'm1', {{param.now}}::timestamptz, 3.0, ${POINTS}, 0
        ) rows order by o, p`,
      ingest_metric_rounding: 2,
    },
    // Row 23,456 (in the third chunk) has no value.
    bad_late: {
      table_key: 'stream_bad_late',
      ingest_sql: `select 'm' || n as metric_name, ${TIME} as metric_timestamp,
          case when (i * ${METRICS} + n - 1) = 23456 then null else i end as metric_value ${SERIES} order by i, n`,
    },
    // A function that takes a while: the write transaction must not be open (idle) while it runs.
    slow_fn: {
      table_key: 'stream_slow_fn',
      ingest_fn: 'import time\ndef ingest():\n    time.sleep(1.5)\n    return [{"metric_name": "m", "metric_value": 1.0, "metric_timestamp": "2026-03-31T23:00:00Z"}]\n',
    },
    // An embedded query that takes a while (SQLite counting to 3 million): the same, for db: sqlite.
    slow_sqlite: {
      table_key: 'stream_slow_sqlite',
      db: 'sqlite',
      ingest_sql: `with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000000)
          select 'm' as metric_name, '2026-03-31T23:00:00Z' as metric_timestamp, count(*) as metric_value from c`,
    },
    // The source fails after two chunks have been staged: division by zero at row 20,001.
    source_fails: {
      table_key: 'stream_source_fails',
      ingest_sql: `select 'm' || n as metric_name, ${TIME} as metric_timestamp,
          1.0 / ((i * ${METRICS} + n - 1) - 20001) as metric_value ${SERIES} order by i, n`,
    },
  });
  const loaded = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  batches = loaded.batches;
  database = await createTestDatabase(batches);
});

afterAll(async () => {
  await database.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const batch = (name: string): MetricBatch => batches.find((b) => b.name === name)!;
const context = (): JobContext => ({ env: loadEnv({}), db: database.db, batches, now: NOW, dryRun: false, log: logger });
const scalar = async (text: string): Promise<unknown> => Object.values((await database.db.query({ text, values: [] }))[0] ?? {})[0];

describe('a streamed ingest', () => {
  it('hands the rows of its SQL on in cursor chunks, in order, never more than a chunk at a time', async () => {
    const sizes: number[] = [];
    let first: unknown;
    let last: unknown;
    await runIngestSql(batch('many'), database.db, NOW, {}, {}, async (rows) => {
      sizes.push(rows.length);
      first ??= rows[0]?.metric_value;
      last = rows.at(-1)?.metric_value;
    });
    expect(sizes).toEqual([INGEST_CHUNK_ROWS, INGEST_CHUNK_ROWS, ROWS - 2 * INGEST_CHUNK_ROWS]);
    expect([first, last]).toEqual(['1000.123456', `${METRICS * 1000 + POINTS - 1}.123456`]); // numeric comes as text
  });

  it('writes every row of a backfill across chunk boundaries exactly once, and a re-run writes nothing', async () => {
    const result = await ingestBatch(batch('many'), context());
    expect(result).toMatchObject({ status: 'ok', rows: ROWS, details: { metrics: METRICS, points: ROWS } });
    expect(await scalar('select count(*) from stream_many')).toBe(ROWS);
    expect(await scalar('select count(distinct (metric_name, metric_timestamp)) from stream_many')).toBe(ROWS);
    // Rounded to the default ingest_metric_rounding (4).
    expect(await scalar(`select metric_value from stream_many where metric_name = 'm3' and metric_timestamp = '${NOW.toISOString()}'`)).toBe(3000.1235);
    expect(await ingestBatch(batch('many'), context())).toMatchObject({ status: 'ok', rows: 0 });
    expect(await scalar('select count(*) from stream_many')).toBe(ROWS);
  });

  it.each([
    ['an ingest function', 'slow_fn'],
    ['an embedded (db: sqlite) query', 'slow_sqlite'],
  ])('runs %s before it opens the write transaction, so no connection sits idle in one', async (_, name) => {
    let settled = false;
    const job = ingestBatch(batch(name), { ...context(), env: loadEnv({ ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON }) }).finally(() => {
      settled = true;
    });
    let idleInTransaction = 0;
    while (!settled) {
      const count = Number(await scalar(`select count(*) from pg_stat_activity where datname = current_database() and state = 'idle in transaction'`));
      idleInTransaction = Math.max(idleInTransaction, count);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await job).toMatchObject({ status: 'ok', rows: 1 });
    expect(idleInTransaction).toBe(0);
  });

  it('averages a key repeated in a later chunk, with the warning naming it', async () => {
    const result = await ingestBatch(batch('dupes'), context());
    expect(result).toMatchObject({ status: 'ok', rows: ROWS, details: { points: ROWS } });
    expect((result.details as { warnings: string[] }).warnings).toEqual([
      `batch "dupes": 1 duplicate (metric_name, metric_timestamp) rows averaged, e.g. "m1" at ${NOW.toISOString()} (2 rows)`,
    ]);
    // (10 + 3) / 2
    expect(await scalar(`select metric_value from stream_dupes where metric_name = 'm1' and metric_timestamp = '${NOW.toISOString()}'`)).toBe(6.5);
    expect(await scalar('select count(*) from stream_dupes')).toBe(ROWS);
  });

  it('writes nothing when a row in a later chunk is bad, and names that row and column', async () => {
    const error = await ingestBatch(batch('bad_late'), context()).then(() => new Error('resolved'), (e: unknown) => e as Error);
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toBe('batch "bad_late": row 23456: metric_value: is missing (null)');
    expect(await scalar('select count(*) from stream_bad_late')).toBe(0);
  });

  it('writes nothing when the source fails after chunks were staged', async () => {
    const error = await ingestBatch(batch('source_fails'), context()).then(() => new Error('resolved'), (e: unknown) => e as Error);
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(/batch "source_fails": ingest_sql failed: division by zero/);
    expect(await scalar('select count(*) from stream_source_fails')).toBe(0);
  });
});
