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
      python: 'python3',
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
