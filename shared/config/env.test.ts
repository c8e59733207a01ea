import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from './env.js';

describe('loadEnv', () => {
  it('gives the documented defaults', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/anomstack',
      redisUrl: 'redis://127.0.0.1:6379',
      metricsDir: path.resolve('metrics'),
      ignoreExamples: false,
      python: null,
      adminToken: null,
      adminAuth: true,
      apiPort: 3000,
      apiHost: '127.0.0.1',
      bullBoardWrite: false,
      migrateOnStart: true,
      chainJobs: true,
      schedulerLockMs: 15_000,
      statementTimeoutS: 300,
    });
  });

  it('parses flags and numbers, and prefers the ANOMSTACK_ names', () => {
    const env = loadEnv({
      ANOMSTACK_DATABASE_URL: 'postgres://a@db/x',
      DATABASE_URL: 'postgres://b@db/y',
      ANOMSTACK_IGNORE_EXAMPLES: 'yes',
      ANOMSTACK_CHAIN_JOBS: 'no',
      ANOMSTACK_SCHEDULER_LOCK_MS: '5000',
    });
    expect(env).toMatchObject({ databaseUrl: 'postgres://a@db/x', ignoreExamples: true, chainJobs: false, schedulerLockMs: 5000 });
  });

  it('reports every bad variable at once, by name', () => {
    const attempt = () =>
      loadEnv({ ANOMSTACK_CHAIN_JOBS: 'maybe', ANOMSTACK_API_PORT: '99999', ANOMSTACK_REDIS_URL: 'not a url' });
    expect(attempt).toThrow(EnvError);
    for (const name of ['ANOMSTACK_CHAIN_JOBS', 'ANOMSTACK_API_PORT', 'ANOMSTACK_REDIS_URL']) {
      expect(attempt).toThrow(name);
    }
  });
});

describe('loadEnv: worker, queue and channel settings', () => {
  it('reads concurrency per queue over the general one, and the retry policy', () => {
    const env = loadEnv({ ANOMSTACK_WORKER_CONCURRENCY: '3', ANOMSTACK_WORKER_CONCURRENCY_INGEST: '5', ANOMSTACK_JOB_ATTEMPTS: '2' });
    expect(env.workerConcurrency).toMatchObject({ ingest: 5, train: 3, alert: 3 });
    expect(env).toMatchObject({ jobAttempts: 2, jobBackoffMs: 2000, workerLockMs: 30_000, queuePrefix: 'anomstack', dbPoolMax: 10 });
    expect(loadEnv({}).workerConcurrency.score).toBe(1);
  });

  it('refuses a pool no larger than the ingest concurrency (each ingest streams on a second connection)', () => {
    expect(() => loadEnv({ ANOMSTACK_DB_POOL_MAX: '4', ANOMSTACK_WORKER_CONCURRENCY_INGEST: '4' })).toThrow(
      'ANOMSTACK_DB_POOL_MAX (4) must be greater than the ingest worker\'s concurrency (4)',
    );
    expect(() => loadEnv({ ANOMSTACK_DB_POOL_MAX: '3', ANOMSTACK_WORKER_CONCURRENCY: '3' })).toThrow(EnvError);
    expect(loadEnv({ ANOMSTACK_DB_POOL_MAX: '5', ANOMSTACK_WORKER_CONCURRENCY_INGEST: '4', ANOMSTACK_WORKER_CONCURRENCY: '8' }).dbPoolMax).toBe(5);
  });

  it('parses email and Slack settings at start-up, and reports a bad SMTP port with the other problems', () => {
    const email = {
      ANOMSTACK_ALERT_EMAIL_FROM: 'a@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'b@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: '2525',
    };
    expect(loadEnv(email).email).toMatchObject({ host: '127.0.0.1', port: 2525, to: ['b@example.com'] });
    expect(loadEnv({}).email).toBeNull();
    const attempt = () => loadEnv({ ...email, ANOMSTACK_ALERT_EMAIL_SMTP_PORT: 'smtp', ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-1', ANOMSTACK_JOB_ATTEMPTS: '0' });
    for (const name of ['ANOMSTACK_ALERT_EMAIL_SMTP_PORT', 'ANOMSTACK_SLACK_CHANNEL', 'ANOMSTACK_JOB_ATTEMPTS']) {
      expect(attempt).toThrow(name);
    }
  });

  it('leaves the LLM off when no ANOMSTACK_LLM_* is set, and refuses a partial one without echoing the key', () => {
    expect(loadEnv({}).llm).toBeNull();
    expect(loadEnv({ ANOMSTACK_LLM_BASE_URL: 'http://127.0.0.1:9/v1/', ANOMSTACK_LLM_API_KEY: 'sk-x', ANOMSTACK_LLM_MODEL: 'm' }).llm).toEqual({
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: 'sk-x',
      model: 'm',
      timeoutMs: 60_000,
    });
    expect(() => loadEnv({ ANOMSTACK_LLM_API_KEY: 'sk-secret-value' })).toThrow(/ANOMSTACK_LLM_BASE_URL is not set/);
    expect(() => loadEnv({ ANOMSTACK_LLM_API_KEY: 'sk-secret-value' })).not.toThrow(/sk-secret-value/);
    expect(() => loadEnv({ ANOMSTACK_LLM_BASE_URL: 'ftp://x', ANOMSTACK_LLM_API_KEY: 'k' })).toThrow(/must be http or https/);
  });

  it('reads the webhook, and refuses a secret without a URL', () => {
    expect(loadEnv({}).webhook).toBeNull();
    expect(loadEnv({ ANOMSTACK_WEBHOOK_URL: 'https://hooks.example.com/x', ANOMSTACK_WEBHOOK_SECRET: 's' }).webhook).toEqual({
      url: 'https://hooks.example.com/x',
      secret: 's',
      timeoutMs: 10_000,
    });
    expect(() => loadEnv({ ANOMSTACK_WEBHOOK_SECRET: 's' })).toThrow(/ANOMSTACK_WEBHOOK_URL is not set/);
    expect(() => loadEnv({ ANOMSTACK_WEBHOOK_URL: 'file:///etc/passwd' })).toThrow(/must be http or https/);
  });
});
