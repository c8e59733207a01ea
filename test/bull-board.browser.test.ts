import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  freePort,
  ingestOnlyBatch,
  randomPrefix,
  serviceEnv,
  startService,
  stopAll,
  type TestDatabase,
} from './support/processes.js';

const TOKEN = 'browser-test-token';
// Debian's Chromium (.ci/run installs it); the flags keep it off the network it cannot reach.
const CHROMIUM = process.env.ANOMSTACK_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Bull Board is a browser app: helmet's CSP, the basic-auth prompt and its asset paths only
// show their faults in a real browser.
describe('Bull Board in a browser', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let dir: string;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({ board_batch: ingestOnlyBatch('board_metrics') });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await startService(
      ['api'],
      serviceEnv({
        databaseUrl: database.url,
        metricsDir: dir,
        prefix,
        extra: { ANOMSTACK_ADMIN_TOKEN: TOKEN, ANOMSTACK_API_PORT: String(port) },
      }),
    );
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll();
    await cleanRedisPrefix(prefix);
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('asks for credentials, then lists every queue with no script or CSP error', async () => {
    // Without credentials headless Chromium cannot show the prompt: it refuses the page.
    const anonymous = await browser.newContext();
    await expect((await anonymous.newPage()).goto(`${base}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    expect((await anonymous.request.get(`${base}/admin/queues`)).status()).toBe(401);
    await anonymous.close();

    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      // Web fonts from the internet are unreachable here; everything else must load.
      if (message.type() === 'error' && !message.text().includes('ERR_NAME_NOT_RESOLVED')) {
        problems.push(message.text());
      }
    });
    await page.goto(`${base}/admin/queues`);
    for (const queue of ['ingest', 'train', 'score', 'alert', 'change', 'tholdalert', 'llmalert', 'plot', 'summary', 'delete']) {
      await page.getByRole('link', { name: queue, exact: true }).first().waitFor({ timeout: 20_000 });
    }
    expect(problems).toEqual([]);
    await context.close();
  });
});
