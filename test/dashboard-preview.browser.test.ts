import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../shared/db/db.js';
import { pointTime, seedMetrics } from './support/dashboard-data.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, freePort, randomPrefix, serviceEnv, startService, stopAll, type TestDatabase } from './support/processes.js';

const TOKEN = 'dashboard-preview-token-0123456789';
const CHROMIUM = process.env.ANOMSTACK_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.ANOMSTACK_SCREENSHOT_DIR ?? path.join(os.tmpdir(), 'anomstack-dashboard-screenshots');

// 300 points 10 minutes apart (two days, so the hourly train cron fits models), a spike at 280.
const SEED = { batch: 'preview_shop', table: 'preview_shop_metrics', points: 300, stepMs: 10 * 60_000 } as const;
const SPIKE = 280;

/** A CSV of one calm metric with a spike at row 190, 10-minute points from 2026-01-01. */
function spikyCsv(): { text: string; spikeAt: string } {
  const start = Date.UTC(2026, 0, 1);
  const lines = ['metric_name,metric_timestamp,metric_value'];
  for (let i = 0; i < 200; i++) {
    const value = 50 + 5 * Math.sin(i / 7) + ((i * 31) % 7) / 10 + (i === 190 ? 80 : 0);
    lines.push(`csv_metric,${new Date(start + i * 600_000).toISOString()},${value.toFixed(3)}`);
  }
  return { text: lines.join('\n'), spikeAt: new Date(start + 190 * 600_000).toISOString() };
}

// The Preview page replays the backtest core in the api service and draws its result with uPlot.
describe('dashboard preview in a browser', () => {
  const prefix = randomPrefix();
  const end = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
  let database: TestDatabase;
  let db: Db;
  let dir: string;
  let browser: Browser;
  let base: string;

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
    await seedMetrics(db, { ...SEED, end, alerts: { checkout_latency_ms: [SPIKE], orders_per_minute: [] } });
    dir = createMetricsDir({ preview_shop: { ingest_sql: 'select 1', table_key: SEED.table, train_cron_schedule: '0 * * * *' } });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await startService(['api'], serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix, extra: { ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_API_PORT: String(port) } }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll();
    await cleanRedisPrefix(prefix);
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replays stored history with an edited threshold, replays an uploaded CSV, and refuses bad input and a forged POST', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${base}/login?next=%2Fpreview`);
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/preview$/);

    // The stored history of one metric, alert_threshold edited down from the default 0.999.
    await page.selectOption('select[name=batch]', SEED.batch);
    await page.fill('input[name=metric]', '^checkout');
    await page.fill('input[name=alert_threshold]', '0.99');
    // The default snooze (288 points) would hide the spike behind the first alert of the replay.
    await page.fill('input[name=alert_snooze_n]', '0');
    await page.click('#preview-run');
    await page.waitForSelector('#preview-charts[data-drawn="1"] canvas');
    const card = page.locator('.preview-card[data-metric="checkout_latency_ms"]');
    expect(await page.locator('.preview-card').count()).toBe(1);
    expect(Number(await card.getAttribute('data-alerts'))).toBeGreaterThanOrEqual(1);
    expect((await card.getAttribute('data-alert-times'))!.split(' ')).toContain(pointTime({ ...SEED, end }, SPIKE).toISOString());
    // The form keeps what was run.
    expect(await page.inputValue('input[name=alert_threshold]')).toBe('0.99');
    await page.screenshot({ path: path.join(SHOTS, 'preview.png'), fullPage: true });

    // An uploaded CSV instead of the store, with the batch's config.
    const csv = spikyCsv();
    await page.fill('input[name=metric]', '');
    await page.fill('input[name=alert_threshold]', '0.99');
    await page.locator('details summary').click();
    await page.setInputFiles('#preview-file', { name: 'spiky.csv', mimeType: 'text/csv', buffer: Buffer.from(csv.text) });
    await page.waitForFunction(() => ((globalThis as unknown as { document: { getElementById(id: string): { value: string } } }).document.getElementById('preview-csv').value.length > 0));
    await page.click('#preview-run');
    await page.waitForSelector('.preview-card[data-metric="csv_metric"] .chart[data-drawn="true"] canvas');
    const csvCard = page.locator('.preview-card[data-metric="csv_metric"]');
    expect((await csvCard.getAttribute('data-alert-times'))!.split(' ')).toContain(csv.spikeAt);
    await page.screenshot({ path: path.join(SHOTS, 'preview-csv.png'), fullPage: true });
    expect(problems).toEqual([]);

    // A bad row is a 400 naming the field and line; the form stays filled.
    await page.fill('#preview-csv', 'metric_name,metric_timestamp,metric_value\nm,2026-01-01T00:00:00Z,1\nm,2026-01-01T00:10:00Z,lots');
    const [bad] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/preview') && r.request().method() === 'POST'), page.click('#preview-run')]);
    expect(bad.status()).toBe(400);
    await page.getByText("csv: line 3: bad metric_value 'lots'").waitFor();
    const badThreshold = await page.request.post(`${base}/preview`, {
      form: { _csrf: await page.inputValue('input[name=_csrf]'), batch: SEED.batch, alert_threshold: '2' },
    });
    expect(badThreshold.status()).toBe(400);
    expect(await badThreshold.text()).toContain('alert_threshold: &quot;2&quot; is not a number from 0 to 1');

    // Without the page's CSRF token (what another site could send with the cookie): refused.
    const forged = await page.request.post(`${base}/preview`, { form: { batch: SEED.batch }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    await context.close();
  });
});
