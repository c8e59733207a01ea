import fs from 'node:fs';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv, type AppEnv } from '../shared/config/env.js';
import { createDb } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { logger } from '../shared/logger.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, loadAppBatches, openQueues, type QueueMap } from '../shared/worker.js';
import { JOB_NAMES } from '../shared/jobs.js';
import { createApp } from '../services/api/src/app.js';
import { manualSlot } from '../services/api/src/dashboard/actions.js';
import { adminToken, startApi, type ApiHandle } from '../services/api/src/main.js';
import { tokenMatches } from '../services/api/src/auth.js';
import { startScheduler, type SchedulerHandle } from '../services/scheduler/src/main.js';
import { existingSchedules } from '../shared/schedules/store.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, removeBatch, serviceEnv, waitFor, type TestDatabase } from './support/processes.js';

const TOKEN = 'test-token-0123456789';

describe('admin API', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let env: AppEnv;
  let producer: Redis;
  let subscriber: Redis;
  let queues: QueueMap;
  let api: ApiHandle;
  let scheduler: SchedulerHandle;
  let dir: string;
  let base: string;

  const call = (method: string, path: string, options: { token?: string | null; body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        ...(options.token === null ? {} : { authorization: `Bearer ${options.token ?? TOKEN}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
  const counts = async () => {
    const all = await Promise.all(Object.values(queues).map((q) => q.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed')));
    return all.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  const scheduleIds = async () => (await existingSchedules(queues)).map((s) => s.id).sort();

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({
      api_batch: { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING', score_default_schedule_status: 'RUNNING' },
      gone_batch: { ingest_sql: 'select 1', ingest_default_schedule_status: 'RUNNING' },
    });
    env = loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN });
    producer = queueConnection(REDIS_URL);
    subscriber = workerConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    const log = logger.child({ test: 'api' });
    scheduler = await startScheduler({ load: () => loadAppBatches(env), queues, redis: producer, subscriber, prefix, log, lockTtlMs: 1000 });
    await waitFor(() => scheduler.isLeader && scheduler.reconciles > 0, 5000, 'the scheduler to reconcile');
    api = await startApi({ env, catalog: createBatchCatalog(env), queues, redis: producer, prefix, db: createDb(env.databaseUrl), log, port: 0 });
    base = `http://127.0.0.1:${api.port}`;
  });

  afterAll(async () => {
    await api.close();
    await scheduler.close();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    subscriber.disconnect();
    await closePool();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start without a token unless auth is explicitly off', () => {
    expect(() => adminToken({ adminToken: null, adminAuth: true })).toThrow(/ANOMSTACK_ADMIN_TOKEN/);
    expect(adminToken({ adminToken: null, adminAuth: false })).toBeNull();
    expect(adminToken({ adminToken: TOKEN, adminAuth: true })).toBe(TOKEN);
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
  });

  // Issue 14 item 1: `change-me` (the old compose default) and `x` were accepted.
  it('refuses a well-known or short token with a message that says why, unless auth is explicitly off', () => {
    for (const known of ['change-me', 'changeme', 'CHANGE_ME', 'secret', 'password', 'admin', 'token', 'changeme-changeme-changeme', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'your-admin-token-here']) {
      expect(() => adminToken({ adminToken: known, adminAuth: true }), known).toThrow(/ANOMSTACK_ADMIN_TOKEN is a well-known placeholder|ANOMSTACK_ADMIN_TOKEN is too short/);
    }
    for (const short of ['x', '0123456789abcde']) {
      expect(() => adminToken({ adminToken: short, adminAuth: true }), short).toThrow(`ANOMSTACK_ADMIN_TOKEN is too short (${short.length} characters, at least 16)`);
    }
    expect(() => adminToken({ adminToken: 'change-me', adminAuth: true })).toThrow(/openssl rand -hex 32/);
    expect(adminToken({ adminToken: '0123456789abcdef', adminAuth: true })).toBe('0123456789abcdef');
    expect(adminToken({ adminToken: 'change-me', adminAuth: false })).toBeNull();
  });

  it('listens on 127.0.0.1 unless ANOMSTACK_API_HOST says otherwise', async () => {
    expect(env.apiHost).toBe('127.0.0.1');
    expect(api.host).toBe('127.0.0.1');
    // The machine's other addresses do not reach it.
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    if (outside !== undefined) {
      await expect(fetch(`http://${outside}:${api.port}/healthz`)).rejects.toThrow();
    }
    const open = await startApi({
      env: loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_API_HOST: '0.0.0.0' }),
      catalog: createBatchCatalog(env),
      queues,
      redis: producer,
      prefix,
      db: createDb(env.databaseUrl),
      log: logger,
      port: 0,
    });
    try {
      expect(open.host).toBe('0.0.0.0');
      if (outside !== undefined) {
        expect((await fetch(`http://${outside}:${open.port}/healthz`)).status).toBe(200);
      }
    } finally {
      await open.close();
    }
  });

  it('keeps Bull Board read-only (405, nothing added or emptied) unless ANOMSTACK_BULLBOARD_WRITE=yes', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' };
    const add = (at: string) =>
      fetch(`${at}/admin/queues/api/queues/ingest/add`, {
        method: 'POST',
        headers: basic,
        body: JSON.stringify({ name: 'ingest', data: { batch: 'api_batch', slot: '2020-01-01T00:00:00.000Z' }, options: { jobId: 'board-added' } }),
      });
    expect(env.bullBoardWrite).toBe(false);
    // Reading works; every write answers 405.
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: basic })).status).toBe(200);
    const before = await counts();
    expect((await add(base)).status).toBe(405);
    expect((await fetch(`${base}/admin/queues/api/queues/ingest/empty`, { method: 'PUT', headers: basic })).status).toBe(405);
    expect((await fetch(`${base}/admin/queues/api/queues/ingest/pause`, { method: 'PUT', headers: basic })).status).toBe(405);
    expect(await queues.ingest.isPaused()).toBe(false);
    expect(await counts()).toBe(before);
    expect(await queues.ingest.getJob('board-added')).toBeUndefined();

    const writable = await startApi({
      env: loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_BULLBOARD_WRITE: 'yes' }),
      catalog: createBatchCatalog(env),
      queues,
      redis: producer,
      prefix,
      db: createDb(env.databaseUrl),
      log: logger,
      port: 0,
    });
    try {
      expect((await add(`http://127.0.0.1:${writable.port}`)).status).toBe(200);
      expect(await queues.ingest.getJob('board-added')).toBeDefined();
    } finally {
      await queues.ingest.remove('board-added');
      await writable.close();
    }
  });

  it('answers /healthz without auth', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it('answers /healthz with 503 when Postgres does not answer', async () => {
    const app = createApp({
      token: TOKEN,
      catalog: createBatchCatalog(env),
      queues,
      redis: producer,
      prefix,
      pingDatabase: () => Promise.reject(new Error('connection refused')),
      metrics: new Registry(),
      log: logger,
    });
    const server = app.listen(0);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ ok: false, redis: true, postgres: false, reasons: { postgres: 'connection refused' } });
    } finally {
      server.close();
    }
  });

  it('rejects a missing or wrong token with 401 and enqueues nothing', async () => {
    const before = await counts();
    // `Bearer <token> junk` passed before issue 14 item 1.
    for (const token of [null, 'wrong-token', `${TOKEN}x`, '', `${TOKEN} junk`, `${TOKEN}  ${TOKEN}`]) {
      const response = await call('POST', '/api/batches/api_batch/jobs/ingest', { token });
      expect(response.status).toBe(401);
      expect(await response.json()).toHaveProperty('error');
    }
    const basic = await call('POST', '/api/batches/api_batch/jobs/ingest', {
      token: null,
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    });
    expect(basic.status).toBe(401); // basic auth is for Bull Board only
    const boardJunk = await fetch(`${base}/admin/queues/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')} junk` },
    });
    expect(boardJunk.status).toBe(401);
    expect((await call('GET', '/api/batches', { token: null })).status).toBe(401);
    expect((await call('GET', '/metrics', { token: 'nope' })).status).toBe(401);
    expect(await counts()).toBe(before);
  });

  it('enqueues a run with the right token: 202 and a job id that GET /api/jobs finds', async () => {
    const response = await call('POST', '/api/batches/api_batch/jobs/ingest', { body: '{"slot": "2026-02-03T04:05:00Z"}' });
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    expect(jobId).toBe('ingest:api_batch:2026-02-03T040500.000Z');
    const job = await call('GET', `/api/jobs/ingest/${encodeURIComponent(jobId)}`);
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ id: jobId, state: 'waiting', data: { batch: 'api_batch', slot: '2026-02-03T04:05:00.000Z' }, attempts: 0 });
    // Without a body the slot is now.
    expect((await call('POST', '/api/batches/api_batch/jobs/train')).status).toBe(202);
  });

  it('runs a manual slot once: 300 concurrent requests enqueue one job, the others say what happened; force runs it again', async () => {
    const slot = '2026-03-04T05:06:00.000Z';
    const ofSlot = async () => (await queues.train.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).filter((j) => j.data.slot === slot);
    // When
    const responses = await Promise.all(Array.from({ length: 300 }, () => call('POST', '/api/batches/api_batch/jobs/train', { body: JSON.stringify({ slot }) })));
    // Then: one 202 and 299 answers naming the same run and its state
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { jobId: string; created?: boolean; state?: string }[];
    expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(299);
    expect(new Set(bodies.map((b) => b.jobId))).toEqual(new Set(['train:api_batch:2026-03-04T050600.000Z']));
    expect(bodies.filter((b) => b.created === false).every((b) => b.state === 'waiting')).toBe(true);
    expect(await ofSlot()).toHaveLength(1);
    // Later, the same slot is still one run; force makes a second, under its own id.
    expect((await call('POST', '/api/batches/api_batch/jobs/train', { body: JSON.stringify({ slot }) })).status).toBe(200);
    const forced = await call('POST', '/api/batches/api_batch/jobs/train', { body: JSON.stringify({ slot, force: true }) });
    expect(forced.status).toBe(202);
    expect(((await forced.json()) as { jobId: string }).jobId).toMatch(/^train:api_batch:2026-03-04T050600\.000Z\+force-/);
    expect(await ofSlot()).toHaveLength(2);
    expect((await call('POST', '/api/batches/api_batch/jobs/train', { body: '{"force": "yes"}' })).status).toBe(400);
    // Without a slot, a request means this minute's run.
    expect(manualSlot(new Date('2026-03-04T05:06:59.999Z'))).toBe('2026-03-04T05:06:00.000Z');
  });

  it('answers unknown things with 404 and bad input with 400, always as JSON', async () => {
    const cases: [string, string, string | undefined, number][] = [
      ['POST', '/api/batches/no_batch/jobs/ingest', undefined, 404],
      ['POST', '/api/batches/api_batch/jobs/nojob', undefined, 404],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "yesterday"}', 400],
      // Issue 14 item 9: Date parsing took "1" for 2001; the slot has the rows' bounds.
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "1"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "2026"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "+010000-01-01T00:00:00Z"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "10000-01-01T00:00:00Z"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "0000-01-01T00:00:00Z"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": "Tue, 03 Feb 2026 04:05:00 GMT"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{"slot": 1, "sql": "drop table"}', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '[1]', 400],
      ['POST', '/api/batches/api_batch/jobs/ingest', '{not json', 400],
      ['POST', '/api/batches/bad%20name/jobs/ingest', undefined, 400],
      ['GET', '/api/jobs/nosuchqueue/1', undefined, 404],
      ['GET', '/api/jobs/ingest/no-such-job', undefined, 404],
      ['POST', '/api/queues/nosuchqueue/pause', undefined, 404],
      ['POST', '/api/queues/ingest/explode', undefined, 404],
      ['POST', '/api/batches/api_batch/schedules/tholdalert/pause', undefined, 404],
      ['GET', '/no/such/route', undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const response = await call(method, path, body === undefined ? {} : { body });
      expect(`${method} ${path} ${response.status}`).toBe(`${method} ${path} ${status}`);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await response.json()) as { error?: string }).error).toBeTruthy();
    }
  });

  it('lists batches with their jobs and whether each schedule runs', async () => {
    const response = await call('GET', '/api/batches');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { batches: { name: string; jobs: { job: string; schedule: { runs: boolean; scheduled: boolean; cron: string } | null }[] }[] };
    const batch = body.batches.find((b) => b.name === 'api_batch');
    const job = (name: string) => batch?.jobs.find((j) => j.job === name)?.schedule;
    expect(job('ingest')).toMatchObject({ cron: '*/3 * * * *', runs: true, scheduled: true });
    expect(job('train')).toMatchObject({ runs: false, scheduled: false });
    expect(job('tholdalert')).toBeNull();
  });

  it('pauses and resumes a schedule, and the pause survives a reconcile', async () => {
    expect((await call('POST', '/api/batches/api_batch/schedules/ingest/pause')).status).toBe(200);
    expect(await scheduleIds()).not.toContain('ingest:api_batch');
    await scheduler.reload();
    expect(await scheduleIds()).not.toContain('ingest:api_batch');
    expect((await call('POST', '/api/batches/api_batch/schedules/ingest/resume')).status).toBe(200);
    expect(await scheduleIds()).toContain('ingest:api_batch');
    // Resuming a schedule the config has STOPPED starts it, and reconciles keep it.
    expect((await call('POST', '/api/batches/api_batch/schedules/train/resume')).status).toBe(200);
    await scheduler.reload();
    expect(await scheduleIds()).toContain('train:api_batch');
  });

  it('pauses and resumes a whole queue', async () => {
    const pause = await call('POST', '/api/queues/score/pause');
    expect(await pause.json()).toEqual({ queue: 'score', paused: true });
    expect(await queues.score.isPaused()).toBe(true);
    const resume = await call('POST', '/api/queues/score/resume');
    expect(await resume.json()).toEqual({ queue: 'score', paused: false });
  });

  it('reload removes the schedules of a removed batch', async () => {
    expect(await scheduleIds()).toContain('ingest:gone_batch');
    removeBatch(dir, 'gone_batch');
    const response = await call('POST', '/api/reload');
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ batches: ['api_batch'], listeners: 1 });
    await waitFor(async () => !(await scheduleIds()).includes('ingest:gone_batch'), 5000, 'gone_batch schedules removed');
    expect((await call('POST', '/api/batches/gone_batch/jobs/ingest')).status).toBe(404);
  });

  it('serves Prometheus metrics', async () => {
    const response = await call('GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toContain('anomstack_jobs_completed_total{queue="ingest"} 0');
    expect(text).toContain('# TYPE anomstack_job_duration_seconds histogram');
    expect(text).toMatch(/anomstack_queue_jobs\{queue="ingest",state="waiting"\} [1-9]/);
  });

  it('serves Bull Board with basic auth (token as password) and a CSP that allows its assets', async () => {
    const denied = await fetch(`${base}/admin/queues`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic/);
    const page = await fetch(`${base}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root">');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline' https://fonts.googleapis.com");
    // Over plain HTTP from another address the browser would fetch every asset as https and the
    // page would stay on "Loading".
    expect(csp).not.toContain('upgrade-insecure-requests');
    // Its scripts and the queue API behind it load with the same credentials.
    const script = /src="(static\/js\/main[^"]+)"/.exec(html)?.[1];
    expect(script).toBeTruthy();
    const asset = await fetch(`${base}/admin/queues/${script}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(asset.status).toBe(200);
    const board = await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(board.status).toBe(200);
    expect(((await board.json()) as { queues: unknown[] }).queues).toHaveLength(JOB_NAMES.length);
  });
});
