import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { closeJobResources } from '../services/resources.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { isInputError } from '../shared/errors.js';
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
  // Reads its own table, as the examples do to backfill on a first run.
  sql_self: `ingest_sql: |
  select ${ROW} where not exists (select 1 from {{{table_key}}})`,
};

let test: TestDatabase;
let workdir: string;
let batches: Map<string, MetricBatch>;

const context = (dryRun = false): JobContext => ({
  env: loadEnv({}),
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
