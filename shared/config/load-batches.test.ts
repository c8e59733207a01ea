import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderSql } from '../templates.js';
import { DEFAULT_PREPROCESS } from '../models/index.js';
import { loadBatches } from './load-batches.js';

const repo = path.resolve(import.meta.dirname, '..', '..');
const defaultsDir = path.join(repo, 'defaults');
const temps: string[] = [];

/** A metrics directory from a map of relative path -> file text. */
function metricsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-config-'));
  temps.push(dir);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const load = (dir: string, env: NodeJS.ProcessEnv = {}, ignoreExamples = false) =>
  loadBatches({ metricsDir: dir, defaultsDir, ignoreExamples, env });

afterEach(() => {
  for (const dir of temps.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const SQL_BATCH = 'metric_batch: b1\ningest_sql: select 1\n';

describe('loadBatches', () => {
  it('loads every example batch without a problem', () => {
    const result = load(path.join(repo, 'metrics'));
    expect(result.problems).toEqual([]);
    expect(result.batches.map((b) => b.name)).toEqual(
      expect.arrayContaining(['example_simple', 'example_sql_file', 'python_ingest_simple', 'ts_ingest_simple']),
    );
  });

  it('validates a batch folder written for the original unchanged', () => {
    // Includes in the original are relative to the metrics directory; this fixture is one.
    const result = load(path.join(repo, 'test', 'fixtures', 'original'));
    expect(result.problems).toEqual([]);
    const sales = result.batches.find((b) => b.name === 'sales');
    expect(sales?.ingest).toMatchObject({ kind: 'sql' });
    expect(sales?.ingest.kind === 'sql' && sales.ingest.sql).toContain("'sales_deals_created' as metric_name");
    expect(sales?.config.train_exclude_metrics).toEqual(['sales_success_rate']);
    // db: duckdb is the engine its ingest_sql runs in now, not a warning.
    expect(sales?.config.db).toBe('duckdb');
    expect(result.warnings.map((w) => w.key)).not.toContain('db');
    const python = result.batches.find((b) => b.name === 'python_ingest_simple');
    expect(python?.ingest).toMatchObject({ kind: 'fn', language: 'python' });
    expect(python?.disabled.tholdalert).toBe(false);
  });

  it('merges over defaults shallowly and keeps the defaults for keys the batch does not set', () => {
    const dir = metricsDir({ 'b1/b1.yaml': `${SQL_BATCH}preprocess_params:\n  diff_n: 0\n  smooth_n: 0\n  lags_n: 2\n` });
    const [batch] = load(dir).batches;
    expect(batch?.config.preprocess_params).toEqual({ diff_n: 0, smooth_n: 0, lags_n: 2, freq: null, freq_agg: 'mean' });
    expect(batch?.config.alert_threshold).toBe(0.999);
    expect(batch?.config.model_configs.map((m) => m.model_name)).toEqual(['Conformal']);
    expect(batch?.schedules.ingest).toEqual({ cron: '*/3 * * * *', running: false });
  });

  it('reports every problem of every file at once, naming file and key', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: select 1\ntrain_max_n: "lots"\ningest_cron_schedule: "every minute"\nalert_threshold: .nan\n',
      'b/b.yaml': 'metric_batch: b\n',
      'c/c.yaml': 'metric_batch: c\ningest_sql: select 1\nmodel_configs:\n  - model_name: NotAModel\n    model_tag: x\n',
    });
    const { problems, batches } = load(dir);
    expect(batches).toEqual([]);
    const lines = problems.map((p) => `${path.relative(dir, p.file)}: ${p.key}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'a/a.yaml: train_max_n',
        'a/a.yaml: ingest_cron_schedule',
        'a/a.yaml: alert_threshold',
        'b/b.yaml: ingest_sql',
        'c/c.yaml: model_configs',
      ]),
    );
    expect(problems.find((p) => p.key === 'train_max_n')?.reason).toMatch(/integer/);
    expect(problems.find((p) => p.key === 'ingest_cron_schedule')?.reason).toMatch(/cron/);
    expect(problems.find((p) => p.key === 'model_configs')?.reason).toMatch(/NotAModel/);
  });

  it('rejects a duplicate metric_batch naming both files', () => {
    const dir = metricsDir({ 'x/one.yaml': SQL_BATCH, 'y/two.yaml': SQL_BATCH });
    const { problems, batches } = load(dir);
    expect(batches.map((b) => b.name)).toEqual(['b1']);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toBe(path.join(dir, 'y/two.yaml'));
    expect(problems[0]?.reason).toContain(path.join(dir, 'x/one.yaml'));
  });

  it('rejects includes that are missing or escape the metrics directory', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: >\n  {% include "./a/missing.sql" %}\n',
      'b/b.yaml': 'metric_batch: b\ningest_sql: >\n  {% include "../../etc/passwd" %}\n',
    });
    const { problems } = load(dir);
    expect(problems.find((p) => p.file.endsWith('a.yaml'))).toMatchObject({ key: 'ingest_sql', reason: expect.stringMatching(/not found/) });
    expect(problems.find((p) => p.file.endsWith('b.yaml'))).toMatchObject({ key: 'ingest_sql', reason: expect.stringMatching(/outside/) });
  });

  it('resolves nested includes and detects TypeScript ingest files', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: >\n  {% include "./a/outer.sql" %}\n',
      'a/outer.sql': 'select * from ({% include "./a/inner.sql" %}) t',
      'a/inner.sql': 'select 1 as x',
      't/t.yaml': 'metric_batch: t\ningest_fn: >\n  {% include "./t/ingest.ts" %}\n',
      't/ingest.ts': 'export function ingest() { return []; }\n',
    });
    const { batches, problems } = load(dir);
    expect(problems).toEqual([]);
    const a = batches.find((b) => b.name === 'a');
    expect(a?.ingest.kind === 'sql' && a.ingest.sql.trim()).toBe('select * from (select 1 as x) t');
    expect(batches.find((b) => b.name === 't')?.ingest).toMatchObject({ kind: 'fn', language: 'typescript', path: path.join(dir, 't/ingest.ts') });
  });

  it('loads Jinja templates and names the key of one that does not compile', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: "{% if x is defined %}select 1{% endif %}"\n',
      'b/b.yaml': 'metric_batch: b\ningest_sql: "{% if x is defined %}select 1"\n',
    });
    const { batches, problems } = load(dir);
    expect(batches.map((b) => b.name)).toEqual(['a']);
    expect(problems).toEqual([expect.objectContaining({ key: 'ingest_sql', reason: expect.stringMatching(/^Jinja: .*endif/) })]);
  });

  it('applies global and per-batch environment overrides parsed to the key type', () => {
    const dir = metricsDir({ 'my-batch/b.yaml': 'metric_batch: my-batch\ningest_sql: select 1\n' });
    const [batch] = load(dir, {
      ANOMSTACK_ALERT_THRESHOLD: '0.9',
      ANOMSTACK__MY_BATCH__ALERT_THRESHOLD: '0.7',
      ANOMSTACK__MY_BATCH__DISABLE_TRAIN: 'False',
      ANOMSTACK__MY_BATCH__INGEST_DEFAULT_SCHEDULE_STATUS: 'RUNNING',
      ANOMSTACK__MY_BATCH__TRAIN_EXCLUDE_METRICS: '["m1"]',
    }).batches;
    expect(batch?.config.alert_threshold).toBe(0.7);
    expect(batch?.disabled.train).toBe(false);
    expect(batch?.schedules.ingest?.running).toBe(true);
    expect(batch?.config.train_exclude_metrics).toEqual(['m1']);
  });

  it('reads disable_batch after the environment, and names a variable that does not parse', () => {
    const dir = metricsDir({ 'b1/b1.yaml': SQL_BATCH });
    expect(load(dir, { ANOMSTACK__B1__DISABLE_BATCH: 'true' })).toMatchObject({ batches: [], disabled: ['b1'] });
    const { problems } = load(dir, { ANOMSTACK__B1__TRAIN_MAX_N: 'many' });
    expect(problems).toEqual([
      expect.objectContaining({ key: 'train_max_n (from ANOMSTACK__B1__TRAIN_MAX_N)', reason: expect.stringMatching(/not a number/) }),
    ]);
  });

  it('skips metrics/examples when asked to', () => {
    const dir = metricsDir({ 'examples/e/e.yaml': 'metric_batch: e\ningest_sql: select 1\n', 'mine/m.yaml': 'metric_batch: m\ningest_sql: select 1\n' });
    expect(load(dir, {}, true).batches.map((b) => b.name)).toEqual(['m']);
    expect(load(dir, {}, false).batches.map((b) => b.name)).toEqual(['e', 'm']);
  });

  it('treats disable_alert and the original misspelt disable_alerts alike', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: select 1\ndisable_alerts: true\n',
      'b/b.yaml': 'metric_batch: b\ningest_sql: select 1\ndisable_alert: true\n',
    });
    expect(load(dir).batches.map((b) => b.disabled.alert)).toEqual([true, true]);
  });
});

describe('renderSql', () => {
  it('binds the batch, the time and exclusion lists as parameters, with no HTML escaping', () => {
    const dir = metricsDir({
      'a/a.yaml': 'metric_batch: a\ningest_sql: select 1\ntable_key: s.metrics\ntrain_exclude_metrics: ["x<y", "o\'brien"]\n',
    });
    const [batch] = load(dir).batches;
    if (!batch) {
      throw new Error('batch did not load');
    }
    const now = new Date('2025-01-01T00:00:00Z');
    const statement = renderSql(batch, 'train_sql', { now });
    expect(statement.text).toContain('from s.metrics');
    expect(statement.text).toContain('metric_batch = $1');
    expect(statement.text).toMatch(/metric_name <> all\(\$3\)/);
    expect(statement.values).toEqual(['a', now, ['x<y', "o'brien"]]);
    const plain = renderSql({ ...batch, vars: { ...batch.vars, train_exclude_metrics: [] } }, 'train_sql', { now });
    expect(plain.text).not.toContain('<> all');
  });
});

describe('the typed batch config', () => {
  it('completes a partial preprocess_params from the models defaults and unquotes name lists', () => {
    const dir = metricsDir({ 'b1/b1.yaml': `${SQL_BATCH}preprocess_params: { lags_n: 2 }\nalert_exclude_metrics: ["'a'", b]\n` });
    const [batch] = load(dir).batches;
    // The default model (Conformal) reads raw windows: no difference, no smoothing.
    expect(batch?.config.preprocess_params).toEqual({ ...DEFAULT_PREPROCESS, diff_n: 0, smooth_n: 0, lags_n: 2 });
    expect(batch?.config.alert_exclude_metrics).toEqual(['a', 'b']);
    expect(batch?.config.train_exclude_metrics).toEqual([]);
    expect(batch?.config.model_configs.every((m) => typeof m.model_tag === 'string')).toBe(true);
  });

  it("gives a batch naming the original's models the original's preprocess, so their scores do not change", () => {
    const pca = 'model_configs:\n  - model_name: PCA\n    model_tag: p\n';
    const dir = metricsDir({
      'a/a.yaml': `${SQL_BATCH}${pca}`,
      'b/b.yaml': `${SQL_BATCH.replace('b1', 'b2')}${pca}  - model_name: Conformal\n    model_tag: c\npreprocess_params: { smooth_n: 2 }\n`,
    });
    const { batches, problems } = load(dir);
    expect(problems).toEqual([]);
    expect(batches[0]?.config.preprocess_params).toEqual(DEFAULT_PREPROCESS);
    // Models that want different features: the original's, and the batch's own keys over them.
    expect(batches[1]?.config.preprocess_params).toEqual({ ...DEFAULT_PREPROCESS, smooth_n: 2 });
  });

  it('a misspelt known key is an error that suggests the key; a far unknown key only warns', () => {
    const typo = metricsDir({ 'b1/b1.yaml': `${SQL_BATCH}alert_treshold: 0.9\n`, 'b2/b2.yaml': 'metric_batch: b2\ningest_sql: select 1\n' });
    const broken = load(typo);
    expect(broken.problems).toContainEqual(expect.objectContaining({ key: 'alert_treshold', reason: expect.stringContaining('did you mean alert_threshold?') }));
    expect(broken.batches.map((b) => b.name)).toEqual(['b2']);
    const own = metricsDir({ 'b1/b1.yaml': `${SQL_BATCH}my_own_template_key: 1\n` });
    const { warnings, problems, batches } = load(own);
    expect(problems).toEqual([]);
    expect(warnings).toContainEqual(expect.objectContaining({ key: 'my_own_template_key', reason: 'unknown key, ignored' }));
    // The user's own keys still reach the templates.
    expect(batches[0]?.vars.my_own_template_key).toBe(1);
  });

  it('names the entry and field of a nested problem, every one at once', () => {
    const dir = metricsDir({
      'b1/b1.yaml': `${SQL_BATCH}model_configs: [{ model_name: PCA, model_tag: x }, { model_name: KNN, model_tag: x }]\ntrain_max_n: 0\ntholdalert_thresholds: { m: { upper: 1, middle: 2 } }\n`,
    });
    const { problems } = load(dir);
    expect(problems.map((p) => `${p.key}: ${p.reason}`)).toEqual(
      expect.arrayContaining([
        'model_configs: [1].model_tag: "x" is used twice',
        'train_max_n: must be an integer >= 1, got 0',
        expect.stringMatching(/^tholdalert_thresholds: m: .*upper, lower/),
      ]),
    );
  });

  it('parses an environment override of a job key by its type', () => {
    const dir = metricsDir({ 'b1/b1.yaml': SQL_BATCH });
    const [batch] = load(dir, { ANOMSTACK__B1__DISABLE_TRAIN: 'true', ANOMSTACK__B1__SCORE_CRON_SCHEDULE: '*/9 * * * *' }).batches;
    expect(batch?.disabled.train).toBe(true);
    expect(batch?.schedules.score?.cron).toBe('*/9 * * * *');
    const bad = load(dir, { ANOMSTACK__B1__DISABLE_TRAIN: 'perhaps' });
    expect(bad.problems).toContainEqual(expect.objectContaining({ key: 'disable_train (from ANOMSTACK__B1__DISABLE_TRAIN)' }));
  });
});
