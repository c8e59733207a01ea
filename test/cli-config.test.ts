import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { anomstack, REPO } from './support/cli.js';
import { SERVER_URL } from './support/db.js';

const dirs: string[] = [];
const databases: string[] = [];

function metricsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-cli-'));
  dirs.push(dir);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  for (const dir of dirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await admin(async (client) => {
    for (const name of databases) {
      await client.query(`drop database if exists ${name} with (force)`);
    }
  });
});

describe('anomstack validate', () => {
  it('prints ok for every example batch and exits 0', async () => {
    const result = await anomstack(['validate']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok example_simple$/m);
    expect(result.stdout).toMatch(/^ok python_ingest_simple$/m);
    expect(result.stdout).not.toMatch(/^error/m);
  });

  it('prints one error line per problem, naming file and key, and exits 1', async () => {
    const dir = metricsDir({
      'good/good.yaml': 'metric_batch: good\ningest_sql: select 1\n',
      'bad/bad.yaml': 'metric_batch: bad\ningest_sql: select 1\nalert_threshold: high\nscore_cron_schedule: "61 * * * *"\n',
    });
    const result = await anomstack(['validate'], { ANOMSTACK_METRICS_DIR: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ok good$/m);
    const errors = result.stdout.split('\n').filter((l) => l.startsWith('error '));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain(`${path.join(dir, 'bad/bad.yaml')}: alert_threshold: must be a finite number`);
    expect(errors[1]).toContain('score_cron_schedule');
  });

  it('--json prints the resolved configs with includes and environment applied', async () => {
    const result = await anomstack(['validate', '--json'], { ANOMSTACK__EXAMPLE_SQL_FILE__ALERT_THRESHOLD: '0.95' });
    expect(result.code).toBe(0);
    const configs = JSON.parse(result.stdout) as Record<string, unknown>[];
    const sqlFile = configs.find((c) => c.metric_batch === 'example_sql_file');
    expect(sqlFile?.alert_threshold).toBe(0.95);
    expect(String(sqlFile?.ingest_sql)).toContain('sql_file_visits');
    expect(String(sqlFile?.train_sql)).toContain('metric_recency_rank');
    expect(sqlFile?.metrics_dir).toBe(path.join(REPO, 'metrics'));
  });

  it('skips the examples with ANOMSTACK_IGNORE_EXAMPLES=yes', async () => {
    const result = await anomstack(['validate'], { ANOMSTACK_IGNORE_EXAMPLES: 'yes' });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('example_simple');
  });
});

describe('anomstack migrate', () => {
  it('creates the database and tables, and a second run changes nothing', async () => {
    const name = `anomstack_cli_${Date.now()}`;
    databases.push(name);
    const env = { ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${name}` };
    const first = await anomstack(['migrate'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ created: true, tables: ['metrics', 'metrics_hackernews', 'metrics_python_ingest_simple'] });
    const schema = async () =>
      admin(async () => {
        const client = new pg.Client({ connectionString: env.ANOMSTACK_DATABASE_URL });
        await client.connect();
        try {
          const result = await client.query(
            `select table_name, column_name, data_type from information_schema.columns
             where table_schema = 'public' order by table_name, ordinal_position`,
          );
          return result.rows as { table_name: string; column_name: string; data_type: string }[];
        } finally {
          await client.end();
        }
      });
    const before = await schema();
    expect(before.filter((c) => c.table_name === 'metrics').map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      'metric_timestamp timestamp with time zone',
      'metric_batch text',
      'metric_name text',
      'metric_type text',
      'metric_value double precision',
      'metadata jsonb',
    ]);
    expect(new Set(before.map((c) => c.table_name))).toEqual(
      new Set(['metrics', 'metrics_hackernews', 'metrics_python_ingest_simple', 'anomstack_models', 'anomstack_job_runs', 'anomstack_alert_deliveries']),
    );
    const second = await anomstack(['migrate'], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ created: false });
    expect(await schema()).toEqual(before);
  });

  it('names a broken batch and migrates the rest', async () => {
    const dir = metricsDir({ 'bad/bad.yaml': 'metric_batch: bad\n' });
    const name = `anomstack_cli_bad_${Date.now()}`;
    databases.push(name);
    const result = await anomstack(['migrate'], { ANOMSTACK_METRICS_DIR: dir, ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${name}` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('bad.yaml: ingest_sql: missing ingest');
    expect(JSON.parse(result.stdout)).toMatchObject({ tables: [], broken: [path.join(dir, 'bad/bad.yaml')] });
  });
});

describe('anomstack run', () => {
  it('names the batches it knows when asked for an unknown one', async () => {
    const result = await anomstack(['run', 'nope', 'ingest']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown batch "nope" \(batches: .*example_simple/);
  });

  it('rejects an unknown job', async () => {
    const result = await anomstack(['run', 'example_simple', 'dance']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown job dance');
  });
});

describe('anomstack start --check', () => {
  it('reads every process setting at start-up: a bad SMTP port is caught before anything starts', async () => {
    const result = await anomstack(['start', '--check', 'alert'], {
      ANOMSTACK_ALERT_EMAIL_FROM: 'a@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'b@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: 'smtp',
      ANOMSTACK_WORKER_CONCURRENCY_SCORE: 'lots',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ANOMSTACK_ALERT_EMAIL_SMTP_PORT');
    expect(result.stderr).toContain('ANOMSTACK_WORKER_CONCURRENCY_SCORE');
    const ok = await anomstack(['start', '--check', 'alert']);
    expect(ok.stdout.split('\n')[0]).toBe('ok alert');
  });
});
