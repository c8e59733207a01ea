import fs from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv, type AppEnv } from '../shared/config/env.js';
import { createDb } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { withJobRun } from '../shared/job-runs.js';
import { logger } from '../shared/logger.js';
import { queueConnection } from '../shared/redis.js';
import { existingSchedules, readOverrides } from '../shared/schedules/store.js';
import { closeQueues, createBatchCatalog, openQueues, type QueueMap } from '../shared/worker.js';
import { startApi, type ApiHandle } from '../services/api/src/main.js';
import { issueSession, sessionCookie, sessionKeys, SESSION_TTL_S, verifySession } from '../services/api/src/dashboard/session.js';
import { feedbackRows, pointTime, seedMetrics } from './support/dashboard-data.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, type TestDatabase } from './support/processes.js';

const TOKEN = 'dashboard-test-token-0123456789';
const HOSTILE = '<img src=x onerror=alert(1)>';

// 14 metrics of 60 hourly points: more than one page of charts (12), half the points older than 24h.
const SALES = { batch: 'dash_sales', table: 'dash_sales_metrics', points: 60, stepMs: 3_600_000 } as const;
const SALES_ALERTS: Record<string, number[]> = {
  [HOSTILE]: [59],
  cpu_busy: [50, 55, 59],
  cpu_idle: [58],
  ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`quiet_${String(i).padStart(2, '0')}`, [] as number[]])),
};
// 30 alerts: more than a page of anomalies (25).
const OPS = { batch: 'dash_ops', table: 'dash_ops_metrics', points: 40, stepMs: 60_000 } as const;
const OPS_ALERTS: Record<string, number[]> = { latency: [5, 10, 15, 20, 25, 30, 35], errors: Array.from({ length: 23 }, (_, i) => i + 10) };

describe('dashboard over HTTP', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let env: AppEnv;
  let producer: Redis;
  let queues: QueueMap;
  let api: ApiHandle;
  let dir: string;
  let base: string;
  let cookie: string;
  let failedRunId: number;
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);

  /** A request with the session cookie (unless `cookie: null`), same-origin like a browser's own. */
  const get = (path: string, options: { cookie?: string | null; headers?: Record<string, string> } = {}) =>
    fetch(`${base}${path}`, {
      redirect: 'manual',
      headers: { accept: 'text/html', ...(options.cookie === null ? {} : { cookie: options.cookie ?? cookie }), ...options.headers },
    });
  const post = (path: string, form: Record<string, string>, options: { cookie?: string | null; headers?: Record<string, string> } = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
        origin: base,
        ...(options.cookie === null ? {} : { cookie: options.cookie ?? cookie }),
        ...options.headers,
      },
      body: new URLSearchParams(form).toString(),
    });
  const text = async (path: string): Promise<string> => {
    const response = await get(path);
    expect(response.status, path).toBe(200);
    return response.text();
  };
  /** The CSRF token the pages render into their forms for this session. */
  const csrfFrom = (page: string): string => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const alertTime = (index: number, seed: { points: number; stepMs: number }) => pointTime({ ...seed, end }, index).toISOString();

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({
      dash_sales: { ingest_sql: 'select 1', table_key: SALES.table, ingest_default_schedule_status: 'RUNNING', alert_threshold: 0.8 },
      dash_ops: { ingest_sql: 'select 1', table_key: OPS.table },
      dash_hidden: { ingest_sql: 'select 1', disable_dashboard: true },
      dash_broken: { ingest_sql: 'select 1', alert_threshold: 'very high' },
    });
    env = loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_ADMIN_TOKEN: TOKEN });
    const db = createDb(env.databaseUrl);
    await seedMetrics(db, { ...SALES, end, alerts: SALES_ALERTS, changes: { cpu_idle: [40] }, tholdalerts: { cpu_busy: [45] } });
    await seedMetrics(db, { ...OPS, end, alerts: OPS_ALERTS });
    await withJobRun(db, 'dash_sales', 'ingest', { slot: end.toISOString() }, async () => ({ batch: 'dash_sales', job: 'ingest', status: 'ok', rows: 5 }));
    await withJobRun(db, 'dash_sales', 'score', { slot: end.toISOString() }, () => Promise.reject(new Error('model store unreachable: <gone>'))).catch(() => {});
    [{ id: failedRunId }] = await db.query<{ id: number }>({ text: "select id::int from anomstack_job_runs where status = 'failed'", values: [] }) as [{ id: number }];
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    api = await startApi({ env, catalog: createBatchCatalog(env), queues, redis: producer, prefix, db, log: logger.child({ test: 'dashboard' }), port: 0 });
    base = `http://127.0.0.1:${api.port}`;
    const login = await post('/login', { token: TOKEN, next: '/' }, { cookie: null });
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  });

  afterAll(async () => {
    await api?.close();
    await Promise.all(Object.values(queues ?? {}).map((q) => q.obliterate({ force: true }).catch(() => {})));
    if (queues) {
      await closeQueues(queues);
    }
    producer?.disconnect();
    await cleanRedisPrefix(prefix);
    await closePool();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('auth', () => {
    it('sends a browser without a session to the login page, and anything else gets a 401 with a Basic challenge', async () => {
      const page = await get('/batches/dash_sales?window=7d', { cookie: null });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/login?next=%2Fbatches%2Fdash_sales%3Fwindow%3D7d');
      const json = await fetch(`${base}/batches/dash_sales/charts.json`);
      expect(json.status).toBe(401);
      expect(json.headers.get('www-authenticate')).toMatch(/^Basic/);
      const login = await get('/login', { cookie: null });
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('name="token"');
      // The API keeps its own auth: the dashboard does not open it.
      expect((await fetch(`${base}/api/batches`, { headers: { cookie } })).status).toBe(401);
    });

    it('refuses a wrong token, at the login form and as basic auth, and sets no cookie', async () => {
      for (const token of ['wrong', `${TOKEN}x`, '']) {
        const response = await post('/login', { token }, { cookie: null });
        expect(response.status).toBe(401);
        expect(response.headers.get('set-cookie')).toBeNull();
        expect(await response.text()).toContain('Wrong token.');
      }
      const basic = await get('/', { cookie: null, headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` } });
      expect(basic.status).toBe(401);
      expect((await get('/', { cookie: 'anomstack_session=1.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status).toBe(303);
    });

    it('logs in to a signed HttpOnly SameSite=Strict cookie that opens the pages; a changed, foreign or expired one does not', async () => {
      const login = await post('/login', { token: TOKEN, next: '/anomalies' }, { cookie: null });
      expect(login.status).toBe(303);
      expect(login.headers.get('location')).toBe('/anomalies');
      const setCookie = login.headers.get('set-cookie') ?? '';
      expect(setCookie).toMatch(/^anomstack_session=\d+\.[\w-]+\.[\w-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
      expect(setCookie).not.toContain('Secure'); // plain HTTP here; https adds it:
      expect(sessionCookie('v', true)).toContain('; Secure');
      expect((await get('/', { cookie: setCookie.split(';')[0] })).status).toBe(200);
      const value = setCookie.split(';')[0]?.split('=')[1] ?? '';
      const tampered = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
      expect((await get('/', { cookie: `anomstack_session=${tampered}` })).status).toBe(303);
      const foreign = issueSession(sessionKeys('another-token-0123456789'), Date.now()).value;
      expect((await get('/', { cookie: `anomstack_session=${foreign}` })).status).toBe(303);
      const keys = sessionKeys(TOKEN);
      expect(verifySession(keys, value, Date.now())).not.toBeNull();
      expect(verifySession(keys, value, Date.now() + (SESSION_TTL_S + 60) * 1000)).toBeNull();
      // Open redirects are not followed.
      const away = await post('/login', { token: TOKEN, next: '//evil.example/' }, { cookie: null });
      expect(away.headers.get('location')).toBe('/');
      // Basic auth as Bull Board takes it opens the pages too.
      expect((await get('/', { cookie: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } })).status).toBe(200);
    });

    it('refuses cross-site POSTs: another Origin, Sec-Fetch-Site cross-site, or no CSRF token; the same request with them passes', async () => {
      const csrf = csrfFrom(await text('/anomalies'));
      expect(csrf).toMatch(/^[\w-]{43}$/);
      const vote = { batch: OPS.batch, metric: 'latency', time: alertTime(5, OPS), vote: 'down', _csrf: csrf, back: '/anomalies' };
      const refused = [
        await post('/feedback', vote, { headers: { origin: 'http://evil.example' } }),
        await post('/feedback', vote, { headers: { 'sec-fetch-site': 'cross-site' } }),
        await post('/feedback', vote, { headers: { 'sec-fetch-site': 'same-site' } }),
        await post('/feedback', { ...vote, _csrf: '' }),
        await post('/feedback', { ...vote, _csrf: csrfFrom(await (await get('/anomalies', { cookie: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } })).text()) }),
        // Basic auth is ambient too, so it needs the token as well.
        await post('/feedback', { ...vote, _csrf: '' }, { cookie: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } }),
        await post('/login', { token: TOKEN }, { cookie: null, headers: { origin: 'http://evil.example' } }),
        await post('/logout', {}),
      ];
      expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403, 403, 403, 403, 403]);
      expect(await feedbackRows(createDb(env.databaseUrl), OPS.table, OPS.batch, 'latency')).toEqual([]);
      const accepted = await post('/feedback', vote);
      expect(accepted.status).toBe(303);
      expect(accepted.headers.get('location')).toBe('/anomalies');
      expect(await feedbackRows(createDb(env.databaseUrl), OPS.table, OPS.batch, 'latency')).toEqual([`thumbsdown ${alertTime(5, OPS)}`]);
      await post('/feedback', { ...vote, vote: 'clear' });
    });

    it('sends a strict CSP without upgrade-insecure-requests, and serves uPlot and its own assets without a session', async () => {
      const response = await get('/');
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(response.headers.get('cache-control')).toBe('no-store');
      for (const [asset, type] of [
        ['/assets/uPlot.iife.min.js', 'javascript'],
        ['/assets/uPlot.min.css', 'css'],
        ['/assets/charts.js', 'javascript'],
        ['/assets/dashboard.css', 'css'],
      ] as const) {
        const file = await fetch(`${base}${asset}`);
        expect(file.status, asset).toBe(200);
        expect(file.headers.get('content-type'), asset).toContain(type);
      }
      expect((await fetch(`${base}/assets/../package.json`)).status).not.toBe(200);
      expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    });
  });

  describe('pages', () => {
    it('home: one card per shown batch, most alerts first, with counts, age and the failed run one click away; config errors listed', async () => {
      const page = await text('/');
      const order = [...page.matchAll(/data-batch="([^"]+)"/g)].map((m) => m[1]);
      expect(order).toEqual(['dash_ops', 'dash_sales']); // 30 alerts, then 5
      const sales = page.slice(page.indexOf('data-batch="dash_sales"'));
      expect(sales).toMatch(/<b>14<\/b><span>metrics<\/span>/); // 14 metrics have points in the last 24h
      expect(sales).toMatch(/<b>5<\/b><span>alerts<\/span>/);
      expect(sales).toMatch(/<b>1<\/b><span>changes<\/span>/);
      expect(sales).toMatch(/newest \d+[sm] ago/);
      expect(sales).toContain(`href="/runs/${failedRunId}"`);
      expect(page).not.toContain('dash_hidden"');
      expect(page).toContain('Invalid batches');
      expect(page).toContain('dash_broken.yaml');
      expect(page).toContain('must be a finite number, got &quot;very high&quot;');
      const run = await text(`/runs/${failedRunId}`);
      expect(run).toContain('model store unreachable: &lt;gone&gt;');
    });

    it('batch: metrics sorted by anomaly rate, a page of charts at a time, regex search and the window control', async () => {
      const page = await text('/batches/dash_sales');
      // The counts come with the first charts (charts.json), so the page reads the stats once.
      expect(page).toContain('<span id="batch-counts">');
      expect(page).toContain('data-src="/batches/dash_sales/charts.json?window=24h"');
      const json = async (query: string) => (await (await get(`/batches/dash_sales/charts.json?${query}`, { headers: { accept: 'application/json' } })).json()) as {
        total: number;
        next: number | null;
        metrics: Array<{ name: string; series: { t: number[]; value: number[]; alert: number[]; change: number[]; tholdalert: number[] } }>;
      };
      const first = await json('window=24h');
      expect(first.total).toBe(14);
      expect((first as unknown as { alerting: number }).alerting).toBe(3);
      expect(first.metrics).toHaveLength(12);
      expect(first.next).toBe(1);
      expect(first.metrics.slice(0, 3).map((m) => m.name)).toEqual(['cpu_busy', 'cpu_idle', HOSTILE]); // 4 of 24, 1 alert + 0 change in 24h...
      const busy = first.metrics[0]?.series;
      expect(busy?.t.length).toBeGreaterThanOrEqual(24);
      expect(busy?.t.length).toBeLessThanOrEqual(25);
      expect(busy?.alert.filter(Boolean)).toHaveLength(3);
      const second = await json('window=24h&page=1');
      expect(second.metrics.map((m) => m.name)).toEqual(['quiet_09', 'quiet_10']);
      expect(second.next).toBeNull();
      const all = await json('window=500n&q=%5Ecpu_');
      expect(all.metrics.map((m) => m.name)).toEqual(['cpu_busy', 'cpu_idle']);
      expect(all.metrics[1]?.series.t).toHaveLength(60);
      expect(all.metrics[1]?.series.change.filter(Boolean)).toHaveLength(1);
      const bad = await get('/batches/dash_sales/charts.json?q=(', { headers: { accept: 'application/json' } });
      expect(bad.status).toBe(400);
      expect(await text('/batches/dash_sales?q=(')).toContain('not a valid regular expression');
      expect((await get('/batches/no_such_batch')).status).toBe(404);
    });

    it('metric: full history, its alerts, its config; names are escaped everywhere', async () => {
      const path = `/batches/dash_sales/metric?name=${encodeURIComponent(HOSTILE)}`;
      const page = await text(path);
      expect(page).not.toContain(HOSTILE);
      expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
      expect(page.match(/<tr><td class="mono">/g)).toHaveLength(1); // one alert
      expect(page).toMatch(/alert_threshold<\/th><td class="mono">0.8</);
      expect(page).toContain('No trained model yet.');
      const history = (await (await get(path.replace('/metric?', '/metric.json?'))).json()) as { series: { t: number[] }; threshold: number };
      expect(history.series.t).toHaveLength(60);
      expect(history.threshold).toBe(0.8);
      expect(await text('/anomalies')).not.toContain(HOSTILE);
    });

    it('anomalies: newest first across batches, 25 a page, a sparkline each', async () => {
      const page = await text('/anomalies');
      const times = [...page.matchAll(/data-time="([^"]+)"/g)].map((m) => m[1] ?? '');
      expect(times).toHaveLength(25);
      expect([...times].sort().reverse()).toEqual(times);
      expect(page.match(/<svg class="spark"/g)).toHaveLength(25);
      expect(page).toContain('href="/anomalies?page=1"');
      const next = await text('/anomalies?page=1');
      // 30 ops alerts + 5 sales alerts + 1 change + 1 threshold alert = 37.
      expect([...next.matchAll(/data-time="/g)]).toHaveLength(12);
      const sales = await text('/anomalies?batch=dash_sales&type=change');
      expect([...sales.matchAll(/data-metric="([^"]+)"/g)].map((m) => m[1])).toEqual(['cpu_idle']);
    });

    it('feedback: thumbs down marks a false alarm once however often clicked, thumbs up replaces it, both shown', async () => {
      const db = createDb(env.databaseUrl);
      const csrf = csrfFrom(await text('/anomalies'));
      const time = alertTime(59, SALES);
      const vote = (v: string) => post('/feedback', { batch: SALES.batch, metric: 'cpu_busy', time, vote: v, _csrf: csrf, back: '/anomalies' });
      expect((await vote('down')).status).toBe(303);
      expect((await vote('down')).status).toBe(303);
      expect(await feedbackRows(db, SALES.table, SALES.batch, 'cpu_busy')).toEqual([`thumbsdown ${time}`]);
      const metric = await text('/batches/dash_sales/metric?name=cpu_busy');
      expect(metric).toContain('false alarm</span>');
      expect(metric).toContain('class="down" name="vote" value="down" title="False alarm: keeps this point out of training and mutes alerts of this metric no more unusual than it (alert_feedback_horizon_days)" aria-label="thumbs down" aria-pressed="true"');
      expect((await vote('up')).status).toBe(303);
      expect(await feedbackRows(db, SALES.table, SALES.batch, 'cpu_busy')).toEqual([`thumbsup ${time}`]);
      expect(await text('/anomalies?batch=dash_sales')).toContain('confirmed</span>');
      expect((await vote('clear')).status).toBe(303);
      expect(await feedbackRows(db, SALES.table, SALES.batch, 'cpu_busy')).toEqual([]);
      // Only alerts can be judged, and only with a known vote.
      const notAlert = await post('/feedback', { batch: SALES.batch, metric: 'cpu_busy', time: alertTime(1, SALES), vote: 'down', _csrf: csrf });
      expect(notAlert.status).toBe(404);
      expect((await vote('maybe')).status).toBe(400);
      expect(await feedbackRows(db, SALES.table, SALES.batch, 'cpu_busy')).toEqual([]);
    });

    it('runs: the job-run records, filterable by batch, job and status', async () => {
      const all = await text('/runs');
      expect(all.match(/<tr><td><a href="\/runs\/\d+">/g)).toHaveLength(2);
      const failed = await text('/runs?status=failed');
      expect(failed.match(/<tr><td><a href="\/runs\/\d+">/g)).toHaveLength(1);
      expect(failed).toContain('model store unreachable: &lt;gone&gt;');
      expect(await text('/runs?batch=dash_sales&job=ingest')).not.toContain('model store unreachable');
      expect(await text('/runs?batch=dash_ops')).toContain('No runs match these filters.');
      expect((await get('/runs/999999')).status).toBe(404);
    });

    it('schedules: pause, resume and run now do what the admin API does', async () => {
      const page = await text('/schedules');
      const csrf = csrfFrom(page);
      expect(page).toContain('action="/schedules/dash_sales/ingest/pause"');
      expect(page).toContain('action="/schedules/dash_ops/ingest/resume"');
      const ids = async () => (await existingSchedules(queues)).map((s) => s.id);
      const resumed = await post('/schedules/dash_ops/ingest/resume', { _csrf: csrf });
      expect(resumed.status).toBe(303);
      expect(await ids()).toContain('ingest:dash_ops');
      expect((await readOverrides(producer, prefix)).started.has('ingest:dash_ops')).toBe(true);
      await post('/schedules/dash_ops/ingest/pause', { _csrf: csrf });
      expect(await ids()).not.toContain('ingest:dash_ops');
      expect((await readOverrides(producer, prefix)).paused.has('ingest:dash_ops')).toBe(true);
      expect(await text('/schedules')).toContain('>paused</span>');
      const run = await post('/schedules/dash_ops/score/run', { _csrf: csrf });
      expect(run.status).toBe(303);
      expect(new URL(run.headers.get('location') ?? '', base).searchParams.get('done')).toMatch(/^Enqueued score:dash_ops:/);
      const waiting = await queues.score.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
      expect(waiting.map((j) => j.data.batch)).toEqual(['dash_ops']);
      expect((await post('/schedules/dash_ops/tholdalert/pause', { _csrf: csrf })).status).toBe(404);
      expect((await post('/schedules/dash_ops/score/run', { _csrf: 'wrong' })).status).toBe(403);
    });
  });
});
