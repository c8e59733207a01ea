import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../shared/db/db.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import { feedbackRows, pointTime, seedMetrics } from './support/dashboard-data.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, freePort, randomPrefix, serviceEnv, startService, stopAll, type TestDatabase } from './support/processes.js';

const TOKEN = 'dashboard-browser-token-0123456789';
// Debian's Chromium (.ci/run installs it); the flags keep it off the network it cannot reach.
const CHROMIUM = process.env.ANOMSTACK_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the screenshots go, for a person to look at. */
const SHOTS = process.env.ANOMSTACK_SCREENSHOT_DIR ?? path.join(os.tmpdir(), 'anomstack-dashboard-screenshots');

/** The charts uPlot has drawn. */
const DRAWN = '.chart[data-drawn="true"] canvas';
/** The page as the browser sees it, for page.evaluate (the project's types have no DOM). */
type BrowserGlobal = { document: { documentElement: { scrollWidth: number; clientWidth: number } } };

const SEED = { batch: 'web_shop', table: 'web_shop_metrics', points: 120, stepMs: 10 * 60_000 } as const;
// 14 metrics: the first page draws 12 charts, scrolling down loads the other 2.
const ALERTS: Record<string, number[]> = {
  checkout_latency_ms: [100, 119],
  orders_per_minute: [90],
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`pageviews_${String(i).padStart(2, '0')}`, [] as number[]])),
};

// The dashboard is a browser app: the CSP, the cookie, uPlot drawing and the forms only show
// their faults in a real browser, against the api service as compose runs it.
describe('dashboard in a browser', () => {
  const prefix = randomPrefix();
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  let database: TestDatabase;
  let db: Db;
  let dir: string;
  let browser: Browser;
  let base: string;

  /** Console errors (CSP violations are reported there) and uncaught page errors. */
  const watch = (page: Page): string[] => {
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(message.text());
      }
    });
    return problems;
  };

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    database = await createTestDatabase();
    db = createDb(database.url);
    await seedMetrics(db, { ...SEED, end, alerts: ALERTS, changes: { orders_per_minute: [60] } });
    // The detector's expected band on checkout_latency_ms's score rows (metadata band: {lo, hi}), none on the others.
    const banded = await db.query<{ metric_timestamp: Date; metric_value: number }>({
      text: `select metric_timestamp, metric_value from ${SEED.table} where metric_name = 'checkout_latency_ms' and metric_type = 'score'`,
      values: [],
    });
    await upsertMetricRows(db, SEED.table, banded.map((r) => ({ metric_timestamp: r.metric_timestamp, metric_batch: SEED.batch, metric_name: 'checkout_latency_ms', metric_type: 'score' as const, metric_value: r.metric_value, metadata: { band: { lo: 85, hi: 125 } } })));
    dir = createMetricsDir({
      web_shop: { ingest_sql: 'select 1', table_key: SEED.table },
      broken_batch: { ingest_sql: 'select 1', alert_threshold: 'high' },
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await startService(
      ['api'],
      serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix, extra: { ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_API_PORT: String(port) } }),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll();
    await cleanRedisPrefix(prefix);
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong token, logs in, shows the cards, draws a batch page of charts and stores a thumbs-down', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);

    await page.goto(`${base}/`);
    await page.waitForURL(/\/login\?next=%2F$/);
    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.getByText('Wrong token.').waitFor();
    expect(await context.cookies()).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'login.png') });
    // The refused login is a 401 document, which Chromium reports as a failed load: expected.
    expect(problems).toEqual(['Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    problems.length = 0;

    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.locator('.batch-card').first().waitFor();
    const [session] = await context.cookies();
    expect(session).toMatchObject({ name: 'anomstack_session', httpOnly: true, sameSite: 'Strict', secure: false });
    expect(await page.locator('.batch-card').count()).toBe(1);
    expect(await page.locator('.batch-card .stat.alert b').textContent()).toBe('3');
    await page.getByText('must be a finite number, got "high"').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'home.png'), fullPage: true });

    await page.click('.batch-card h3 a');
    await page.locator(DRAWN).nth(11).waitFor();
    expect(await page.locator(DRAWN).count()).toBe(12);
    const first = await page.locator('.chart-card h3').allTextContents();
    expect(first.slice(0, 2)).toEqual(['checkout_latency_ms', 'orders_per_minute']);
    expect(await page.locator('#batch-counts').textContent()).toBe('14 metrics · 2 with anomalies in 24h');
    // Only the metric whose score rows carry a band draws one.
    expect(await page.locator('.chart-card[data-metric="checkout_latency_ms"] .chart').getAttribute('data-band')).toBe('true');
    expect(await page.locator('.chart-card[data-metric="orders_per_minute"] .chart').getAttribute('data-band')).toBe('false');
    await page.screenshot({ path: path.join(SHOTS, 'batch.png') });
    await page.locator('#more').scrollIntoViewIfNeeded();
    await page.locator(DRAWN).nth(13).waitFor();
    await page.getByText('All 14 metrics shown.').waitFor();
    expect(await page.locator(DRAWN).count()).toBe(14);

    await page.goto(`${base}/anomalies`);
    const time = pointTime({ ...SEED, end }, 100).toISOString();
    const row = page.locator(`tr[data-metric="checkout_latency_ms"][data-time="${time}"]`);
    await row.locator('button[aria-label="thumbs down"]').click();
    await page.waitForLoadState('load');
    await row.getByText('false alarm').waitFor();
    expect(await row.locator('button[aria-label="thumbs down"]').getAttribute('aria-pressed')).toBe('true');
    expect(await feedbackRows(db, SEED.table, SEED.batch, 'checkout_latency_ms')).toEqual([`thumbsdown ${time}`]);
    await page.screenshot({ path: path.join(SHOTS, 'anomalies.png'), fullPage: true });

    await page.goto(`${base}/batches/${SEED.batch}/metric?name=checkout_latency_ms`);
    await page.waitForSelector('#metric-chart[data-drawn="true"] canvas');
    expect(await page.locator('#metric-chart').getAttribute('data-band')).toBe('true');
    const history = (await (await page.request.get(`${base}/batches/${SEED.batch}/metric.json?name=checkout_latency_ms`)).json()) as { series: { lo: (number | null)[]; hi: (number | null)[] } };
    expect(new Set(history.series.lo)).toEqual(new Set([85]));
    expect(new Set(history.series.hi)).toEqual(new Set([125]));
    await page.locator('#alerts').getByText('false alarm').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'metric.png'), fullPage: true });

    // A POST with the session cookie but without the page's CSRF token (what another site could send) is refused.
    const forged = await page.request.post(`${base}/feedback`, {
      form: { batch: SEED.batch, metric: 'orders_per_minute', time: pointTime({ ...SEED, end }, 90).toISOString(), vote: 'down' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect(await feedbackRows(db, SEED.table, SEED.batch, 'orders_per_minute')).toEqual([]);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('reads on a phone in the dark theme', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.locator('.batch-card').first().waitFor();
    const overflow = await page.evaluate(() => {
      const root = (globalThis as unknown as BrowserGlobal).document.documentElement;
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SHOTS, 'home-phone-dark.png'), fullPage: true });
    await page.goto(`${base}/batches/${SEED.batch}`);
    await page.locator(DRAWN).nth(1).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'batch-phone-dark.png') });
    expect(problems).toEqual([]);
    await context.close();
  });
});
