import fs from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  freePort,
  randomPrefix,
  serviceEnv,
  startService,
  stopAll,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from './support/processes.js';

const TOKEN = 'e2e-token-abcdef';
const BATCH = 'e2e_batch';

/**
 * Sixty one-minute points ending at the slot; the newest one a spike. Keyed by the slot, so the
 * run is the same whenever the test runs.
 */
const INGEST_SQL = `
select 'e2e_metric' as metric_name, ts as metric_timestamp,
  case when ts = {{param.now}}::timestamptz then 500 else 10 + (extract(epoch from ts)::bigint / 60) % 7 end as metric_value
from generate_series({{param.now}}::timestamptz - interval '59 minutes', {{param.now}}::timestamptz, interval '1 minute') as ts`;

describe('pipeline across service processes', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let smtp: TestSmtpServer;
  let dir: string;
  let base: string;
  const services: ServiceProcess[] = [];
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    smtp = await startSmtpServer();
    dir = createMetricsDir({
      [BATCH]: {
        ingest_sql: INGEST_SQL,
        table_key: 'e2e_metrics',
        alert_methods: 'email',
        alert_always: true,
        alert_smooth_n: 0,
        train_min_n: 14,
      },
    });
    const apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    const env = serviceEnv({
      databaseUrl: database.url,
      metricsDir: dir,
      prefix,
      extra: {
        ANOMSTACK_ADMIN_TOKEN: TOKEN,
        ANOMSTACK_API_PORT: String(apiPort),
        ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
        ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
        ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
        ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
        ANOMSTACK_JOB_BACKOFF_MS: '200',
      },
    });
    // As docker compose runs them: one process per service, all at once.
    services.push(
      ...(await Promise.all(['scheduler', 'ingest', 'train', 'score', 'alert', 'api'].map((kind) => startService([kind], env)))),
    );
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  }, 180_000);

  afterAll(async () => {
    await client?.end();
    await stopAll();
    await cleanRedisPrefix(prefix);
    await smtp?.close();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const count = async (type: string): Promise<number> => {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from e2e_metrics where metric_type = $1', [type]);
    return rows[0]?.n ?? 0;
  };
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('turns one ingest request into rows, a model, scores and an alert email', async () => {
    // When
    const slot = '2026-06-01T12:00:00.000Z';
    const response = await api('POST', `/api/batches/${BATCH}/jobs/ingest`, { slot });
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };

    // Then: ingest -> score (no model) -> train -> score -> alert, chained by slot
    await waitFor(async () => (await count('metric')) === 60, 30_000, 'ingested rows');
    await waitFor(async () => (await count('score')) > 0, 60_000, 'scores');
    await waitFor(async () => (await count('alert')) > 0, 60_000, 'an alert row');
    const [mail] = await smtp.waitFor(1, 60_000);
    expect(mail?.subject).toContain(BATCH);
    expect(mail?.subject).toContain('e2e_metric');

    const job = (await (await api('GET', `/api/jobs/ingest/${encodeURIComponent(jobId)}`)).json()) as { state: string; result: { rows: number } };
    expect(job).toMatchObject({ state: 'completed', result: { rows: 60 } });
    // The email goes out before the alert run is recorded as finished.
    const runs = await waitFor(async () => {
      const { rows } = await client.query<{ job: string; status: string }>('select job, status from anomstack_job_runs order by id');
      const seen = rows.map((r) => `${r.job}:${r.status}`);
      return seen.includes('alert:ok') ? seen : undefined;
    }, 30_000, 'the alert run to finish');
    expect(runs).toEqual(expect.arrayContaining(['ingest:ok', 'score:skipped', 'train:ok', 'score:ok', 'alert:ok']));
    const { rows: deliveries } = await client.query<{ status: string }>("select status from anomstack_alert_deliveries where channel = 'email'");
    expect(deliveries.map((d) => d.status)).toContain('sent');

    // The same slot again is a no-op: the job id dedupes while the first run is kept.
    const again = await api('POST', `/api/batches/${BATCH}/jobs/ingest`, { slot });
    expect(((await again.json()) as { jobId: string }).jobId).toBe(jobId);

    const metrics = await (await api('GET', '/metrics')).text();
    expect(metrics).toMatch(/anomstack_jobs_completed_total\{queue="ingest"\} [1-9]/);
    expect(metrics).toMatch(/anomstack_rows_written_total\{queue="ingest"\} 60/);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const codes = await Promise.all(services.map((s) => s.stop()));
    expect(codes).toEqual(services.map(() => 0));
  });
});
