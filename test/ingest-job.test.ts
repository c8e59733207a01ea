import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { closeJobResources } from '../services/resources.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { type MetricBatch } from '../shared/config/metric-batch.js';
import { isInputError } from '../shared/errors.js';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { REPO } from './support/cli.js';

/** One batch per case; each writes to its own table so counts stay independent. */
const BATCHES: Record<string, string> = {
  sql_ok: `ingest_sql: |
  select {{param.now}}::timestamptz as metric_timestamp, 'm' || g::text as metric_name, g * 1.23456 as metric_value
  from generate_series(1, 3) g`,
  sql_bad: 'ingest_sql: select * from no_such_table',
  py_frame: `ingest_fn_params: {n: 3}
ingest_fn: |
  import pandas as pd

  def ingest(n=1):
      print("fetching", n)
      return pd.DataFrame({"metric_name": [f"p{i}" for i in range(n)], "metric_value": [float(i) for i in range(n)],
                           "metric_timestamp": [pd.Timestamp("2025-01-01 00:00:00")] * n})`,
  py_dicts: `ingest_fn: |
  def ingest():
      return [{"metric_name": "d", "metric_value": "3.5", "metric_timestamp": "2025-01-01T00:00:00+02:00"}]`,
  py_nan: `ingest_fn: |
  def ingest():
      return [{"metric_name": "a", "metric_value": 1.0, "metric_timestamp": "2025-01-01"},
              {"metric_name": "b", "metric_value": float("nan"), "metric_timestamp": "2025-01-01"}]`,
  py_string: `ingest_fn: |
  def ingest():
      return [{"metric_name": "a", "metric_value": "lots", "metric_timestamp": "2025-01-01"}]`,
  py_duplicates: `ingest_fn: |
  def ingest():
      return [{"metric_name": "a", "metric_value": 1.0, "metric_timestamp": "2025-01-01"},
              {"metric_name": "a", "metric_value": 3.0, "metric_timestamp": "2025-01-01"}]`,
  py_raises: `ingest_fn: |
  def ingest():
      raise ValueError("upstream API said no")`,
  py_hangs: `ingest_timeout_s: 2
ingest_fn: |
  import time
  def ingest():
      while True:
          time.sleep(0.1)`,
  py_memory: `ingest_memory_mb: 256
ingest_fn: |
  def ingest():
      hog = []
      while True:
          hog.append(bytearray(16 * 1024 * 1024))`,
  py_empty: `ingest_fn: |
  def ingest():
      return []`,
  py_garbage: `ingest_fn: |
  def ingest():
      return 42`,
  ts_fn: `ingest_fn_params: {names: ["x", "y"]}
ingest_fn: >
  {% include "./ts_fn/ingest.ts" %}`,
  hn: `ingest_fn_params: {top_n: 3}
ingest_fn: >
  {% include "./hn/hn_top_stories_scores.py" %}`,
};

let test: TestDatabase;
let workdir: string;
let batches: Map<string, MetricBatch>;
let hnServer: http.Server;

const context = (dryRun = false): JobContext => ({
  env: loadEnv({ ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON }),
  db: test.db,
  batches: [...batches.values()],
  now: new Date('2025-06-01T12:00:00Z'),
  dryRun,
  log: logger,
});

const run = (name: string, dryRun = false) => ingestBatch(batches.get(name)!, context(dryRun));

const rowsOf = (name: string) =>
  test.db.query<{ metric_name: string; metric_value: number; metric_timestamp: Date; metric_batch: string }>({
    text: `select metric_name, metric_value, metric_timestamp, metric_batch from t_${name} order by metric_name`,
    values: [],
  });

beforeAll(async () => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-ingest-'));
  for (const [name, body] of Object.entries(BATCHES)) {
    fs.mkdirSync(path.join(workdir, name), { recursive: true });
    fs.writeFileSync(path.join(workdir, name, `${name}.yaml`), `metric_batch: ${name}\ntable_key: t_${name}\n${body}\n`);
  }
  fs.writeFileSync(
    path.join(workdir, 'ts_fn', 'ingest.ts'),
    `export async function ingest({ names }: { names: string[] }) {
  console.log('ts ingest for', names.join(','));
  return names.map((n, i) => ({ metric_name: n, metric_value: i + 0.5, metric_timestamp: new Date('2025-01-02T00:00:00Z') }));
}\n`,
  );
  // The example's own file, served by a local stand-in for the HN API.
  fs.mkdirSync(path.join(workdir, 'hn'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'metrics/examples/hackernews/hn_top_stories_scores.py'), path.join(workdir, 'hn', 'hn_top_stories_scores.py'));
  hnServer = http.createServer((req, res) => {
    const item = /\/item\/(\d+)\.json$/.exec(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url?.endsWith('/topstories.json') ? [11, 12, 13, 14] : { id: Number(item?.[1]), score: Number(item?.[1]) * 10 }));
  });
  await new Promise<void>((resolve) => hnServer.listen(0, '127.0.0.1', resolve));
  process.env.ANOMSTACK_INGEST_ENV_HN_API_URL = `http://127.0.0.1:${(hnServer.address() as AddressInfo).port}/v0`;

  const loaded = loadBatches({ metricsDir: workdir, defaultsDir: path.join(REPO, 'defaults'), ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  batches = new Map(loaded.batches.map((b) => [b.name, b]));
  test = await createTestDatabase(loaded.batches);
});

afterAll(async () => {
  await closeJobResources();
  hnServer.close();
  delete process.env.ANOMSTACK_INGEST_ENV_HN_API_URL;
  await test.drop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe('ingest job against Postgres', () => {
  it('writes SQL rows rounded to ingest_metric_rounding, and a re-run leaves one row per key', async () => {
    expect(await run('sql_ok')).toMatchObject({ status: 'ok', rows: 3 });
    expect(await run('sql_ok')).toMatchObject({ status: 'ok', rows: 0 });
    const rows = await rowsOf('sql_ok');
    expect(rows.map((r) => r.metric_value)).toEqual([1.2346, 2.4691, 3.7037]);
    expect(rows.every((r) => r.metric_batch === 'sql_ok')).toBe(true);
  });

  it('fails bad SQL as an input error (not retried), naming the batch', async () => {
    const error = await run('sql_bad').catch((e: unknown) => e);
    expect(isInputError(error)).toBe(true);
    expect((error as Error).message).toMatch(/sql_bad.*no_such_table/);
  });

  it('runs a Python function returning a DataFrame, with keyword arguments; naive times are UTC', async () => {
    expect(await run('py_frame')).toMatchObject({ status: 'ok', rows: 3 });
    const rows = await rowsOf('py_frame');
    expect(rows.map((r) => r.metric_name)).toEqual(['p0', 'p1', 'p2']);
    expect(rows[0]?.metric_timestamp.toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('accepts a list of dicts with numeric strings and offset timestamps', async () => {
    expect(await run('py_dicts')).toMatchObject({ rows: 1 });
    const [row] = await rowsOf('py_dicts');
    expect(row).toMatchObject({ metric_name: 'd', metric_value: 3.5 });
    expect(row?.metric_timestamp.toISOString()).toBe('2024-12-31T22:00:00.000Z');
  });

  it.each([
    ['py_nan', /row 1.*metric_value/],
    ['py_string', /row 0.*metric_value.*lots/],
    ['py_raises', /ValueError: upstream API said no/],
    ['py_empty', /no rows/],
    ['py_garbage', /py_garbage/],
  ])('rejects %s with a clear input error and writes nothing', async (name, message) => {
    const error = await run(name).catch((e: unknown) => e);
    expect(isInputError(error), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(name);
    expect(await rowsOf(name)).toEqual([]);
  });

  it('averages duplicate rows of one run', async () => {
    await run('py_duplicates');
    expect((await rowsOf('py_duplicates')).map((r) => r.metric_value)).toEqual([2]);
  });

  it('kills a function that hangs at ingest_timeout_s', async () => {
    const started = Date.now();
    const error = await run('py_hangs').catch((e: unknown) => e);
    expect(isInputError(error)).toBe(true);
    expect((error as Error).message).toMatch(/timed out/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('kills a function that allocates without bound at ingest_memory_mb', async () => {
    const error = await run('py_memory').catch((e: unknown) => e);
    expect(isInputError(error)).toBe(true);
    expect((error as Error).message).toMatch(/memory/i);
    expect(await rowsOf('py_memory')).toEqual([]);
  });

  it('runs a TypeScript ingest function from its file', async () => {
    expect(await run('ts_fn')).toMatchObject({ status: 'ok', rows: 2 });
    expect((await rowsOf('ts_fn')).map((r) => [r.metric_name, r.metric_value])).toEqual([
      ['x', 0.5],
      ['y', 1.5],
    ]);
  });

  it('runs the HackerNews example against a local stand-in for the HN API', async () => {
    expect(await run('hn')).toMatchObject({ status: 'ok', rows: 4 });
    const rows = Object.fromEntries((await rowsOf('hn')).map((r) => [r.metric_name, r.metric_value]));
    expect(rows).toEqual({ hn_top_3_avg_score: 120, hn_top_3_max_score: 130, hn_top_3_min_score: 110, hn_top_3_total_score: 360 });
  });

  it('writes nothing on a dry run and reports the rows it would write', async () => {
    const result = await run('py_frame', true);
    expect(result.wouldWrite).toHaveLength(3);
  });
});
