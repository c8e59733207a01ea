import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import initSqlJs from 'sql.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { closeJobResources } from '../services/resources.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { isInputError } from '../shared/errors.js';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import { anomstack, REPO } from './support/cli.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

/**
 * Issue 15: the original's metrics folder (test/fixtures/original, in its layout and its
 * examples' style) loads with only the cloud batches skipped, and its DuckDB, SQLite and Jinja
 * examples ingest unchanged into the Postgres store.
 */
const ORIGINAL = path.join(REPO, 'test/fixtures/original');
const DEFAULTS = path.join(REPO, 'defaults');
// The two examples the original ships disabled, switched on to ingest them here.
const ENABLE = { ANOMSTACK__EXAMPLE_JINJA__DISABLE_BATCH: 'false', ANOMSTACK__EXAMPLE_SQL_FILE__DISABLE_BATCH: 'false' };

let test: TestDatabase;
let workdir: string;

const contextFor = (batches: MetricBatch[]): JobContext => ({
  env: loadEnv({ ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON }),
  db: test.db,
  batches,
  now: new Date(),
  dryRun: false,
  log: logger,
});
const rowsOf = async (table: string, batch: string) =>
  test.db.query<{ metric_name: string; metric_value: number; metric_timestamp: Date }>({
    text: `select metric_name, metric_value, metric_timestamp from ${table} where metric_batch = $1 and metric_type = 'metric' order by metric_name`,
    values: [batch],
  });

/** A batch folder of its own, loaded: for the safety cases, which must not touch the fixtures. */
function batchOf(name: string, yaml: string, files: Record<string, string | Uint8Array> = {}): MetricBatch {
  const dir = path.join(workdir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.yaml`), `metric_batch: ${name}\ntable_key: t_${name}\n${yaml}\n`);
  for (const [file, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, file), content);
  }
  const loaded = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS, ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  const [batch] = loaded.batches;
  if (!batch) {
    throw new Error(`${name} did not load`);
  }
  return batch;
}
const failure = (batch: MetricBatch) => ingestBatch(batch, contextFor([batch])).then(() => new Error('resolved'), (e: unknown) => e as Error);

beforeAll(async () => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-original-'));
  test = await createTestDatabase();
});

afterAll(async () => {
  await closeJobResources();
  await test.drop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe("the original's metrics folder", () => {
  it('loads every batch but the cloud-only ones, which are listed as unsupported with the reason', () => {
    const loaded = loadBatches({ metricsDir: ORIGINAL, defaultsDir: DEFAULTS, ignoreExamples: false, env: {} });
    expect(loaded.problems).toEqual([]);
    expect(loaded.batches.map((b) => b.name)).toEqual(['dagster_logger', 'example_simple', 'example_sqlite', 'python_ingest_simple', 'sales', 'users']);
    expect(loaded.disabled.sort()).toEqual(['example_jinja', 'example_sql_file']);
    expect(loaded.unsupported.map((u) => [path.basename(u.file), u.key])).toEqual([
      ['bigquery_example_simple.yaml', 'db'],
      ['s3_example_simple.yaml', 'model_path'],
      ['snowflake_example_simple.yaml', 'db'],
    ]);
    expect(loaded.unsupported[0]?.reason).toMatch(/BigQuery.*batch skipped/);
    expect(loaded.unsupported[1]?.reason).toMatch(/s3:\/\/ model stores are not available/);
  });

  it("takes db from the folder's defaults.yaml for batches that set none (the original's duckdb)", () => {
    const loaded = loadBatches({ metricsDir: ORIGINAL, defaultsDir: DEFAULTS, ignoreExamples: false, env: {} });
    const engine = Object.fromEntries(loaded.batches.map((b) => [b.name, b.config.db]));
    expect(engine).toMatchObject({ example_simple: 'duckdb', users: 'duckdb', example_sqlite: 'sqlite' });
    // Without that file the port's own default (postgres) applies.
    const own = batchOf('no_folder_defaults', 'ingest_sql: select 1');
    expect(own.config.db).toBe('postgres');
  });

  it('validate exits 0 and lists the unsupported batches; a real error still fails it', async () => {
    const ok = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: ORIGINAL, ANOMSTACK_IGNORE_EXAMPLES: 'false' });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok users$/m);
    expect(ok.stdout).toMatch(/^ok example_jinja \(disable_batch: true/m);
    expect(ok.stderr).toMatch(/^unsupported .*snowflake_example_simple\.yaml: db: unsupported: db "snowflake"/m);
    const broken = path.join(workdir, 'broken');
    fs.cpSync(ORIGINAL, broken, { recursive: true });
    fs.writeFileSync(path.join(broken, 'examples/users/users.sql'), 'select {% for x in %} 1');
    const bad = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: broken, ANOMSTACK_IGNORE_EXAMPLES: 'false' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^error .*users\.yaml: ingest_sql: Jinja:/m);
  });

  it.each([
    ['example_simple', ['metric_1', 'metric_2']],
    ['example_jinja', ['metric_1', 'metric_2', 'metric_3']],
    ['example_sql_file', ['metric_1', 'metric_2']],
    ['sales', ['sales_deals_created', 'sales_deals_sold', 'sales_success_rate']],
    ['users', ['eu', 'ireland', 'usa'].flatMap((geo) => [`users_active_${geo}`, `users_active_rate_${geo}`, `users_total_${geo}`]).sort()],
    ['example_sqlite', ['metric_1', 'metric_2']],
  ])('ingests %s unchanged into the Postgres store', async (name, metrics) => {
    const loaded = loadBatches({ metricsDir: ORIGINAL, defaultsDir: DEFAULTS, ignoreExamples: false, env: ENABLE });
    const batch = loaded.batches.find((b) => b.name === name);
    expect(batch, JSON.stringify(loaded.problems)).toBeDefined();
    const before = Date.now();
    const result = await ingestBatch(batch!, contextFor(loaded.batches));
    expect(result.status).toBe('ok');
    const rows = await rowsOf(batch!.config.table_key, name);
    expect(rows.map((r) => r.metric_name)).toEqual(metrics);
    for (const row of rows) {
      expect(Number.isFinite(row.metric_value)).toBe(true);
      // Each engine's "now" (DuckDB timestamptz, SQLite's UTC text) lands as this instant, to the second.
      expect(Math.abs(row.metric_timestamp.getTime() - before)).toBeLessThan(60_000);
    }
  });

  it("runs a Python example that logs through dagster's logger (the shim), keeping the log line", async () => {
    const loaded = loadBatches({ metricsDir: ORIGINAL, defaultsDir: DEFAULTS, ignoreExamples: false, env: {} });
    const batch = loaded.batches.find((b) => b.name === 'dagster_logger')!;
    const lines: string[] = [];
    const result = await ingestBatch(batch, { ...contextFor([batch]), jobLog: (line) => lines.push(line) });
    expect(result.status).toBe('ok');
    expect((await rowsOf('metrics_dagster_logger', 'dagster_logger')).map((r) => [r.metric_name, r.metric_value])).toEqual([['reading', 42]]);
    expect(lines.join('\n')).toMatch(/INFO dagster: ingested 1 rows/);
  });
});

describe('embedded ingest engines are read-only and time-limited', () => {
  it.each(['duckdb', 'sqlite'])('%s: a query past ingest_timeout_s is stopped with an input error naming the batch', async (db) => {
    const batch = batchOf(`slow_${db}`, `db: ${db}\ningest_timeout_s: 1\ningest_sql: |\n  with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) as metric_value from r`);
    const error = await failure(batch);
    expect(isInputError(error), String(error)).toBe(true);
    expect(error.message).toMatch(new RegExp(`batch "slow_${db}": ingest_sql ran longer than ingest_timeout_s \\(1 s\\)`));
  });

  it.each(['duckdb', 'sqlite'])('%s: refuses a second statement and anything but a query', async (db) => {
    const two = await failure(batchOf(`two_${db}`, `db: ${db}\ningest_sql: select 1 as a; select 2 as b`));
    expect(two.message).toMatch(new RegExp(`batch "two_${db}": ingest_sql must be a single statement`));
    const copy = await failure(batchOf(`copy_${db}`, `db: ${db}\ningest_sql: copy (select 1) to '${path.join(workdir, `out_${db}.csv`)}'`));
    expect(copy.message).toMatch(/ingest_sql must be a query/);
    expect(fs.existsSync(path.join(workdir, `out_${db}.csv`))).toBe(false);
  });

  it('duckdb: reads no file and writes none (external access off and locked)', async () => {
    const secret = path.join(workdir, 'secret.csv');
    fs.writeFileSync(secret, 'a\n1\n');
    const read = await failure(batchOf('duck_read', `db: duckdb\ningest_sql: select now() as metric_timestamp, 'a' as metric_name, a as metric_value from read_csv('${secret}')`));
    expect(isInputError(read)).toBe(true);
    expect(read.message).toMatch(/batch "duck_read": ingest_sql failed in DuckDB: Permission Error/);
    const unlock = await failure(batchOf('duck_unlock', `db: duckdb\ningest_sql: select current_setting('enable_external_access') from (set enable_external_access = true)`));
    expect(isInputError(unlock)).toBe(true);
  });

  it('duckdb and sqlite: ingest_db_file is read, relative to the metrics folder, and left unchanged', async () => {
    const duckFile = path.join(workdir, 'duck_file', 'source.duckdb');
    fs.mkdirSync(path.dirname(duckFile), { recursive: true });
    const instance = await DuckDBInstance.create(duckFile);
    const connection = await instance.connect();
    await connection.run("create table readings as select timestamp '2025-01-01 00:00:00' + interval (i) hour as t, 'temp' as n, i * 1.5 as v from range(3) r(i)");
    connection.closeSync();
    instance.closeSync();
    const duckBefore = fs.readFileSync(duckFile);
    const duck = batchOf('duck_file', 'db: duckdb\ningest_db_file: source.duckdb\ningest_sql: select t as metric_timestamp, n as metric_name, v as metric_value from readings');
    expect(duck.config.ingest_db_file).toBe(duckFile);
    expect((await ingestBatch(duck, contextFor([duck]))).rows).toBe(3);
    expect(fs.readFileSync(duckFile).equals(duckBefore)).toBe(true);

    const SQL = await initSqlJs();
    const source = new SQL.Database();
    source.run("create table readings (t text, n text, v real); insert into readings values ('2025-01-01 00:00:00', 'temp', 1.5), ('2025-01-01 01:00:00', 'temp', 2.5)");
    const bytes = source.export();
    source.close();
    const lite = batchOf('lite_file', 'db: sqlite\ningest_db_file: source.sqlite\ningest_sql: select t as metric_timestamp, n as metric_name, v as metric_value from readings', { 'source.sqlite': bytes });
    expect((await ingestBatch(lite, contextFor([lite]))).rows).toBe(2);
    expect((await rowsOf('t_lite_file', 'lite_file')).map((r) => r.metric_timestamp.toISOString())).toEqual(['2025-01-01T00:00:00.000Z', '2025-01-01T01:00:00.000Z']);
    expect(Buffer.from(fs.readFileSync(path.join(workdir, 'lite_file', 'source.sqlite'))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('names a missing ingest_db_file, and refuses ingest_db_url_env for an embedded engine at load', async () => {
    const missing = await failure(batchOf('duck_missing', 'db: duckdb\ningest_db_file: nowhere.duckdb\ningest_sql: select 1'));
    expect(missing.message).toMatch(/batch "duck_missing": ingest_db_file .*nowhere\.duckdb does not exist/);
    const dir = path.join(workdir, 'url_env');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'metric_batch: url_env\ndb: sqlite\ningest_db_url_env: SOME_URL\ningest_sql: select 1\n');
    const { problems } = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS, ignoreExamples: false, env: {} });
    expect(problems).toEqual([expect.objectContaining({ key: 'ingest_db_url_env', reason: expect.stringMatching(/db: postgres only/) })]);
  });

  it('binds {{param.now}} as a parameter in both engines, as on Postgres', async () => {
    for (const db of ['duckdb', 'sqlite']) {
      const batch = batchOf(`param_${db}`, `db: ${db}\ningest_sql: |\n  select {{param.now}} as metric_timestamp, {{param.metric_batch}} as metric_name, 1.0 as metric_value`);
      const context = { ...contextFor([batch]), now: new Date('2025-03-04T05:06:07Z') };
      await ingestBatch(batch, context);
      const rows = await rowsOf(`t_param_${db}`, `param_${db}`);
      expect(rows.map((r) => [r.metric_name, r.metric_timestamp.toISOString()])).toEqual([[`param_${db}`, '2025-03-04T05:06:07.000Z']]);
    }
  });
});
