import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadEnv } from '../shared/config/env.js';
import { createDb } from '../shared/db/db.js';
import { createDatabaseIfMissing, migrate } from '../shared/db/migrate.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import { closePool } from '../shared/db/pool.js';
import { logger } from '../shared/logger.js';
import type { MetricRow } from '../shared/metric-row.js';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, openQueues } from '../shared/worker.js';
import { startApi } from '../services/api/src/main.js';

const TOKEN = 'bench-dashboard-token-0123456789';
const BATCH = 'bench_dash';
const TABLE = 'bench_dash_metrics';
const STEP_MS = 5 * 60_000;

/**
 * The dashboard's speed on a big batch (issue 11): `--metrics` x `--points` (1000 x 500) metric and
 * score rows, an alert every 97th point. Times the home page and a batch page's first charts (the
 * page, then its first charts.json page) over HTTP on loopback against the real api, and as the
 * baseline the same reads as raw SQL (the statements the handlers run, straight on the pool), in
 * the same run. Targets: home <= 300 ms, batch first charts <= 1 s.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { metrics: { type: 'string', default: '1000' }, points: { type: 'string', default: '500' }, repeat: { type: 'string', default: '7' } } });
  const nMetrics = Number(values.metrics);
  const nPoints = Number(values.points);
  const repeat = Number(values.repeat);
  const url = new URL(process.env.ANOMSTACK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/anomstack');
  url.pathname = '/anomstack_bench_dashboard';
  await createDatabaseIfMissing(url.toString());
  const db = createDb(url.toString());
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-dashboard-'));
  mkdirSync(path.join(dir, BATCH));
  writeFileSync(path.join(dir, BATCH, `${BATCH}.yaml`), `metric_batch: ${BATCH}\ntable_key: ${TABLE}\ningest_sql: select 1\n`);
  const prefix = `bench-dash-${process.pid}`;
  const env = loadEnv({
    ANOMSTACK_DATABASE_URL: url.toString(),
    ANOMSTACK_METRICS_DIR: dir,
    ANOMSTACK_IGNORE_EXAMPLES: 'yes',
    ANOMSTACK_QUEUE_PREFIX: prefix,
    ANOMSTACK_ADMIN_TOKEN: TOKEN,
    ANOMSTACK_LOG_LEVEL: 'warn',
    ...(process.env.ANOMSTACK_REDIS_URL ? { ANOMSTACK_REDIS_URL: process.env.ANOMSTACK_REDIS_URL } : {}),
  });
  const catalog = createBatchCatalog(env);
  const redis = queueConnection(env.redisUrl);
  const queues = openQueues(redis, prefix);
  try {
    const end = new Date(Math.floor(Date.now() / STEP_MS) * STEP_MS);
    await migrate(db, catalog.get().batches);
    await db.query({ text: `truncate ${TABLE}`, values: [] });
    const seeded = performance.now();
    const rows = makeRows(nMetrics, nPoints, end);
    await upsertMetricRows(db, TABLE, rows);
    await db.query({ text: `analyze ${TABLE}`, values: [] });
    console.log(`dashboard bench: ${nMetrics} metrics x ${nPoints} points (${rows.length.toLocaleString('en-US')} rows) seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

    const api = await startApi({ env, catalog, queues, redis, prefix, db, log: logger.child({ bench: 'dashboard' }), port: 0 });
    const base = `http://127.0.0.1:${api.port}`;
    try {
      const auth = { authorization: `Basic ${Buffer.from(`bench:${TOKEN}`).toString('base64')}`, accept: 'text/html' };
      const get = async (p: string): Promise<void> => {
        const response = await fetch(`${base}${p}`, { headers: auth });
        if (response.status !== 200) {
          throw new Error(`GET ${p}: HTTP ${response.status} ${(await response.text()).slice(0, 200)}`);
        }
        await response.arrayBuffer();
      };
      const batch = catalog.get().batches[0]!;
      const since24 = new Date(Date.now() - 86_400_000);
      const first12 = async (since: Date | null, points: number | null): Promise<void> => {
        const stats = await db.run<{ metric_name: string }>('dashboard_metric_stats', [BATCH, since, null, points], { table: TABLE });
        await db.run('dashboard_series', [BATCH, stats.slice(0, 12).map((s) => s.metric_name), since, points], { table: TABLE });
      };
      const cases: { label: string; target: number; page: () => Promise<void>; sql: () => Promise<void> }[] = [
        {
          label: 'home page',
          target: 300,
          page: () => get('/'),
          sql: async () => {
            await Promise.all([db.run('dashboard_batch_summary', [BATCH, since24], { table: TABLE }), db.run('dashboard_failed_runs', [since24])]);
          },
        },
        {
          label: 'batch page + first charts, 24h',
          target: 1000,
          page: async () => {
            await get(`/batches/${batch.name}`);
            await get(`/batches/${batch.name}/charts.json?page=0&window=24h`);
          },
          sql: () => first12(since24, null),
        },
        {
          label: 'batch page + first charts, 500n',
          target: 1000,
          page: async () => {
            await get(`/batches/${batch.name}?window=500n`);
            await get(`/batches/${batch.name}/charts.json?page=0&window=500n`);
          },
          sql: () => first12(null, 500),
        },
      ];
      console.log(`${'case'.padEnd(34)} ${'page ms'.padStart(9)} ${'raw SQL ms'.padStart(11)} ${'ratio'.padStart(7)}  target`);
      for (const c of cases) {
        const page = await median(c.page, repeat);
        const sql = await median(c.sql, repeat);
        console.log(`${c.label.padEnd(34)} ${page.toFixed(0).padStart(9)} ${sql.toFixed(0).padStart(11)} ${(page / sql).toFixed(2).padStart(7)}  <= ${c.target} ms: ${page <= c.target ? 'met' : 'NOT met'}`);
      }
    } finally {
      await api.close();
    }
  } finally {
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    redis.disconnect();
    await closePool();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median wall time in ms of `repeat` runs after one warm-up. */
async function median(fn: () => Promise<void>, repeat: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function makeRows(nMetrics: number, nPoints: number, end: Date): MetricRow[] {
  const rows: MetricRow[] = [];
  for (let m = 0; m < nMetrics; m++) {
    const name = `metric_${String(m).padStart(4, '0')}`;
    for (let i = 0; i < nPoints; i++) {
      const t = new Date(end.getTime() - (nPoints - 1 - i) * STEP_MS);
      const alert = (m * nPoints + i) % 97 === 0;
      rows.push({ metric_timestamp: t, metric_batch: BATCH, metric_name: name, metric_type: 'metric', metric_value: 100 + 10 * Math.sin(i / 12 + m) + (alert ? 50 : 0), metadata: null });
      rows.push({ metric_timestamp: t, metric_batch: BATCH, metric_name: name, metric_type: 'score', metric_value: alert ? 0.9995 : 0.2, metadata: null });
      if (alert) {
        rows.push({ metric_timestamp: t, metric_batch: BATCH, metric_name: name, metric_type: 'alert', metric_value: 1, metadata: { metric_score_smooth: 0.9995 } });
      }
    }
  }
  return rows;
}
