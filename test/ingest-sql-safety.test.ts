import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { closeJobResources } from '../services/resources.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { createDb } from '../shared/db/db.js';
import { isInputError } from '../shared/errors.js';
import { toQueueError } from '../shared/worker.js';
import { UnrecoverableError } from 'bullmq';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import { anomstack, jsonLines, REPO } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

/**
 * Issue 14: ingest SQL is the user's text run against the metrics store. It may read; it must not
 * write, run more than one statement, or leave anything behind on a dry run.
 */
const ROW = `{{param.now}}::timestamptz as metric_timestamp, 'm' as metric_name, 1.0 as metric_value`;
const BATCHES: Record<string, string> = {
  // A data-modifying CTE inside one SELECT: committed before the fix.
  sql_cte_delete: `ingest_sql: |
  with d as (delete from victim returning x) select ${ROW} from d`,
  // Two statements with no parameters went through the simple protocol, which ran both.
  sql_two_statements: `ingest_sql: |
  select now() as metric_timestamp, 'm' as metric_name, 1.0 as metric_value; create table sneaky2()`,
  sql_create_first: `ingest_sql: |
  create table sneaky(); select now() as metric_timestamp, 'm' as metric_name, 1.0 as metric_value`,
  sql_drop: 'ingest_sql: drop table victim',
  // A statement that ends the transaction it runs in.
  sql_commit: 'ingest_sql: commit',
  // Issue 14 item 3: ran its full 60 s (pg_sleep(90) in the report) past ingest_timeout_s.
  sql_sleep: `ingest_timeout_s: 1
ingest_sql: |
  select ${ROW} from pg_sleep(60)`,
  // Issue 14 item 9: rows that pass validation but Postgres refuses.
  sql_year_10000: `ingest_sql: |
  select '9999-12-31T23:00:00Z'::timestamptz + interval '2 hours' as metric_timestamp, 'm' as metric_name, 1.0 as metric_value`,
  py_nul_name: `ingest_fn: |
  def ingest():
      return [{"metric_name": "ok", "metric_value": 1.0, "metric_timestamp": "2025-01-01"},
              {"metric_name": "bad\\x00name", "metric_value": 1.0, "metric_timestamp": "2025-01-01"}]`,
  // Reads its own table, as the examples do to backfill on a first run.
  sql_self: `ingest_sql: |
  select ${ROW} where not exists (select 1 from {{{table_key}}})`,
};

let test: TestDatabase;
let workdir: string;
let batches: Map<string, MetricBatch>;

const context = (dryRun = false): JobContext => ({
  env: loadEnv({ ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON }),
  db: test.db,
  batches: [...batches.values()],
  now: new Date('2025-06-01T12:00:00Z'),
  dryRun,
  log: logger,
});
const run = (name: string, dryRun = false) => ingestBatch(batches.get(name)!, context(dryRun));
const failure = (name: string, dryRun = false) => run(name, dryRun).then(() => new Error('resolved'), (e: unknown) => e as Error);
const scalar = async (text: string): Promise<unknown> => Object.values((await test.db.query({ text, values: [] }))[0] ?? {})[0];
const victimRows = () => scalar('select count(*) from victim');
const tableExists = async (name: string) => (await scalar(`select to_regclass('${name}') is not null`)) === true;

beforeAll(async () => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-sql-safety-'));
  for (const [name, body] of Object.entries(BATCHES)) {
    fs.mkdirSync(path.join(workdir, name), { recursive: true });
    fs.writeFileSync(path.join(workdir, name, `${name}.yaml`), `metric_batch: ${name}\ntable_key: t_${name}\n${body}\n`);
  }
  const loaded = loadBatches({ metricsDir: workdir, defaultsDir: path.join(REPO, 'defaults'), ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  batches = new Map(loaded.batches.map((b) => [b.name, b]));
  // No batch tables: the jobs (or the dry run's absence of them) decide what exists.
  test = await createTestDatabase();
  await test.db.query({ text: 'create table victim (x int); insert into victim values (1), (2)', values: [] });
});

afterAll(async () => {
  await closeJobResources();
  await test.drop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe('ingest SQL is read-only and one statement', () => {
  it('fails a data-modifying CTE as an input error naming the batch, and deletes nothing', async () => {
    const error = await failure('sql_cte_delete');
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(/sql_cte_delete.*ingest_sql may only read.*read-only transaction/);
    expect(await victimRows()).toBe(2);
  });

  it('refuses two statements with a clear input error naming the batch, and runs neither', async () => {
    const error = await failure('sql_two_statements');
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(/batch "sql_two_statements": ingest_sql must be a single statement/);
    expect(await tableExists('sneaky2')).toBe(false);
    expect(await scalar(`select count(*) from t_sql_two_statements`)).toBe(0);
  });

  it.each([
    ['sql_create_first', /batch "sql_create_first": ingest_sql must be a query/],
    ['sql_drop', /batch "sql_drop": ingest_sql must be a query/],
    ['sql_commit', /batch "sql_commit": ingest_sql must be a query/],
  ])('refuses %s (not a query) and changes nothing', async (name, message) => {
    const error = await failure(name);
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(message);
    expect(await tableExists('victim')).toBe(true);
    expect(await tableExists('sneaky')).toBe(false);
    expect(await victimRows()).toBe(2);
  });

  it('still ingests a plain query, reading its own table', async () => {
    expect(await run('sql_self')).toMatchObject({ status: 'ok', rows: 1 });
    expect(await scalar('select count(*) from t_sql_self')).toBe(1);
  });
});

describe('every statement has a time limit', () => {
  const sleeping = () => scalar(`select count(*) from pg_stat_activity where datname = current_database() and query like '%pg_sleep(60)%' and pid <> pg_backend_pid()`);

  it('cancels ingest SQL at ingest_timeout_s: an input error naming the batch, and the query is gone', async () => {
    const started = Date.now();
    const error = await failure('sql_sleep');
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(/batch "sql_sleep": ingest_sql ran longer than ingest_timeout_s \(1 s\)/);
    expect(Date.now() - started).toBeLessThan(20_000);
    await vi.waitFor(async () => expect(await sleeping()).toBe(0), { timeout: 5000, interval: 100 });
    // The limit is the ingest's alone: the connection goes back to the pool without it.
    expect(await scalar('show statement_timeout')).toBe('5min');
  });

  it("cancels the jobs' own statements at ANOMSTACK_STATEMENT_TIMEOUT_S", async () => {
    expect(loadEnv({}).statementTimeoutS).toBe(300);
    const quick = createDb(test.url, { statementTimeoutMs: 300 });
    await expect(quick.query({ text: 'select pg_sleep(30)', values: [] })).rejects.toMatchObject({ code: '57014' });

    // Through the CLI: the job-run record cannot be written while another session holds the
    // table; before there was no limit and the run waited as long as the lock was held.
    const holder = new pg.Client({ connectionString: test.url });
    await holder.connect();
    try {
      await holder.query('begin; lock table anomstack_job_runs in access exclusive mode');
      const env = {
        ANOMSTACK_DATABASE_URL: test.url,
        ANOMSTACK_METRICS_DIR: workdir,
        ANOMSTACK_DEFAULTS_DIR: path.join(REPO, 'defaults'),
        ANOMSTACK_STATEMENT_TIMEOUT_S: '1',
      };
      const started = Date.now();
      const cli = await anomstack(['run', 'sql_self', 'ingest'], env, 60_000);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/sql_self ingest failed: canceling statement due to statement timeout/);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
    expect((await anomstack(['run', 'sql_self', 'ingest'], { ANOMSTACK_STATEMENT_TIMEOUT_S: 'soon' })).stderr).toContain('ANOMSTACK_STATEMENT_TIMEOUT_S');
  });
});

describe('rows Postgres would refuse are input errors', () => {
  it.each([
    ['sql_year_10000', /batch "sql_year_10000": row 0: metric_timestamp: \+010000-01-01T01:00:00.000Z is outside the years 0001 to 9999/],
    ['py_nul_name', /batch "py_nul_name": row 1: metric_name: "bad\\u0000name" contains a NUL character/],
  ])('%s fails naming batch, row and column, and writes nothing', async (name, message) => {
    const error = await failure(name);
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(message);
    expect(toQueueError(error, name, 'ingest')).toBeInstanceOf(UnrecoverableError);
    expect(await scalar(`select count(*) from t_${name}`)).toBe(0);
  });

  it('classifies any Postgres data error (class 22) as an input error: not retried', async () => {
    const errors = await Promise.all(
      ["select 1 / 0", "select 'x'::int", "select make_date(0, 1, 1)", "select E'a\\\\u0000'::jsonb"].map((text) =>
        test.db.query({ text, values: [] }).then(() => new Error(`${text} passed`), (e: unknown) => e as Error),
      ),
    );
    for (const error of errors) {
      expect((error as { code?: string }).code, error.message).toMatch(/^22/);
      expect(isInputError(error), error.message).toBe(true);
      expect(toQueueError(error, 'some_batch', 'score')).toBeInstanceOf(UnrecoverableError);
    }
    // Anything else stays retryable.
    const lost = await test.db.query({ text: 'select pg_terminate_backend(pg_backend_pid())', values: [] }).then(() => new Error('passed'), (e: unknown) => e as Error);
    expect(isInputError(lost)).toBe(false);
  });
});

describe('a dry run writes nothing anywhere', () => {
  it('creates no table and no job-run record, and reports what it would write', async () => {
    // In process: the core reads its own (absent) table inside a transaction that is rolled back.
    await test.db.query({ text: 'drop table t_sql_self', values: [] });
    const dry = await run('sql_self', true);
    expect(dry).toMatchObject({ status: 'ok', rows: 1 });
    expect(dry.wouldWrite).toHaveLength(1);
    expect(await tableExists('t_sql_self')).toBe(false);

    // Through the CLI, as a user runs it; the attacks fail and leave nothing either.
    const env = { ANOMSTACK_DATABASE_URL: test.url, ANOMSTACK_METRICS_DIR: workdir, ANOMSTACK_DEFAULTS_DIR: path.join(REPO, 'defaults') };
    const cli = await anomstack(['run', 'sql_self', 'ingest', '--dry-run'], env);
    expect(cli.code, cli.stderr).toBe(0);
    expect(jsonLines(cli.stdout)[0]).toMatchObject({ status: 'ok', rows: 1, dryRun: true });
    for (const name of ['sql_cte_delete', 'sql_two_statements', 'sql_create_first', 'sql_drop']) {
      expect((await anomstack(['run', name, 'ingest', '--dry-run'], env)).code).toBe(1);
    }
    expect(await tableExists('t_sql_self')).toBe(false);
    expect(await tableExists('sneaky')).toBe(false);
    expect(await tableExists('sneaky2')).toBe(false);
    expect(await victimRows()).toBe(2);
    expect(await scalar('select count(*) from anomstack_job_runs')).toBe(0);
  });
});
