/**
 * The webhook channel against a loopback receiver (test/support/webhook-stub.ts), and routing
 * by a metric's `alert_methods` tag, on the real Postgres ledger with the loopback SMTP server
 * and the Slack stub.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAlertBatch } from '../services/alert/src/alert.js';
import { createSummaryBatch } from '../services/alert/src/summary.js';
import type { AppEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { MINUTE, deliveries, seed, series, setUpAlertJobs, type AlertJobsFixture } from './alert-jobs-fixtures.js';
import { startWebhookStub, type WebhookStub } from './support/webhook-stub.js';
import { isPermanentHttpStatus } from '../shared/alerts/rejected.js';

const BASE = 'alert_smooth_n: 0\nalert_snooze_n: 3\nalert_threshold: 0.8\nalert_max_n: 50\n';
const SECRET = 'whsec-test-0123456789';

let fixture: AlertJobsFixture;
let hook: WebhookStub;
const now = new Date('2026-11-25T12:00:00Z');
const calm = (n: number): number[] => Array.from({ length: n }, (_, i) => 100 + (i % 5));
const low = (n: number): number[] => Array.from({ length: n }, () => 0.1);

const webhookEnv = (overrides: Partial<NonNullable<AppEnv['webhook']>> = {}): Partial<AppEnv> => ({
  webhook: { url: hook.url, secret: SECRET, timeoutMs: 5000, ...overrides },
});

beforeAll(async () => {
  hook = await startWebhookStub();
  fixture = await setUpAlertJobs({
    hooked: `${BASE}alert_methods: "webhook"\nmetric_tags:\n  latency:\n    team: web\n`,
    routed: `${BASE}alert_methods: "email"\nmetric_tags:\n  latency:\n    alert_methods: "webhook,slack"\n`,
  });
});

beforeEach(() => {
  hook.reset();
  fixture.smtp.reset();
  fixture.slack.reset();
});

afterAll(async () => {
  await fixture?.close();
  await hook?.close();
});

describe('webhook channel', () => {
  it('POSTs the alert as JSON with an HMAC-SHA256 signature of the body and a stable delivery id', async () => {
    await seed(fixture, 'hooked', series('hooked', 'latency', now, [...calm(20), 900], [...low(20), 0.95]));
    const result = await createAlertBatch({})(fixture.batch('hooked'), fixture.context(now, { env: webhookEnv() }));
    expect(result.rows).toBe(1);

    const [request] = await hook.waitFor(1);
    expect(request!.headers['content-type']).toBe('application/json');
    const expected = `sha256=${createHmac('sha256', SECRET).update(request!.raw).digest('hex')}`;
    expect(request!.headers['x-anomstack-signature']).toBe(expected);
    expect(request!.headers['x-anomstack-delivery']).toMatch(/^[0-9a-f]{32}$/);
    expect(request!.json).toMatchObject({
      type: 'alert',
      delivery: request!.headers['x-anomstack-delivery'],
      subject: '[hooked] latency anomaly',
      alert: { kind: 'anomaly', batch: 'hooked', metric: 'latency', timestamp: now.toISOString(), value: 900, score: 0.95, threshold: 0.8, tags: { team: 'web' } },
    });
    expect(fixture.smtp.messages).toHaveLength(0);
    expect(fixture.slack.messages).toHaveLength(0);
    const rows = (await deliveries(fixture)).filter((d) => d.metric_batch === 'hooked');
    expect(rows.map((d) => [d.channel, d.status])).toEqual([['webhook', 'sent']]);
  });

  it('sends no signature without a secret', async () => {
    const t = new Date(now.getTime() + 10 * 10 * MINUTE);
    await seed(fixture, 'hooked', series('hooked', 'latency', t, [...calm(5), 950], [...low(5), 0.97]));
    await createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv({ secret: null }) }));
    const [request] = await hook.waitFor(1);
    expect(request!.headers['x-anomstack-signature']).toBeUndefined();
  });

  it('a 500 fails the job, and the retry sends it once', async () => {
    const t = new Date(now.getTime() + 20 * 10 * MINUTE);
    await seed(fixture, 'hooked', series('hooked', 'latency', t, [...calm(5), 990], [...low(5), 0.99]));
    hook.failNext(1, 500);
    await expect(createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv() }))).rejects.toThrow(/webhook http:\/\/127\.0\.0\.1:\d+ answered 500/);
    expect(hook.requests).toHaveLength(0);
    const retry = await createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv() }));
    expect(retry.details).toMatchObject({ deliveries: { sent: 1 } });
    await hook.waitFor(1);
    expect(hook.requests).toHaveLength(1);
    expect(hook.attempts).toBe(2);
  });

  it('a 410 (refused for good) marks the delivery rejected and is not retried', async () => {
    const t = new Date(now.getTime() + 25 * 10 * MINUTE);
    await seed(fixture, 'hooked', series('hooked', 'latency', t, [...calm(5), 993], [...low(5), 0.99]));
    hook.failNext(1, 410);
    const attemptsBefore = hook.attempts;
    const result = await createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv() }));
    expect(result.details).toMatchObject({ deliveries: { failed: [], rejected: [{ channel: 'webhook', error: expect.stringMatching(/answered 410/) }] } });
    const row = (await deliveries(fixture)).find((d) => d.metric_batch === 'hooked' && d.metric_timestamp.getTime() === t.getTime());
    expect(row).toMatchObject({ status: 'rejected', attempts: 1 });
    await createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv() }));
    expect(hook.attempts).toBe(attemptsBefore + 1);
    // Slow down, timeouts and the receiver's own trouble are not refusals: those stay pending, retried.
    expect([400, 401, 404, 410, 413, 422].map(isPermanentHttpStatus)).toEqual([true, true, true, true, true, true]);
    expect([408, 429, 500, 502, 503].map(isPermanentHttpStatus)).toEqual([false, false, false, false, false]);
  });

  it('a timeout fails the delivery, and the error never shows the URL’s token', async () => {
    const t = new Date(now.getTime() + 30 * 10 * MINUTE);
    await seed(fixture, 'hooked', series('hooked', 'latency', t, [...calm(5), 995], [...low(5), 0.99]));
    hook.hangNext(1);
    const error = await createAlertBatch({})(fixture.batch('hooked'), fixture.context(t, { env: webhookEnv({ timeoutMs: 200 }) })).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/timed out after 200 ms/);
    expect((error as Error).message).not.toContain('t0ken');
    const pending = (await deliveries(fixture)).filter((d) => d.metric_batch === 'hooked' && d.status === 'pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]!.last_error).not.toContain('t0ken');
  });

  it('gets the daily summary too', async () => {
    const day = new Date(now.getTime() + 10 * 86_400_000);
    const result = await createSummaryBatch({})(fixture.batch('hooked'), fixture.context(day, { env: { ...webhookEnv(), email: null, slack: null } }));
    expect(result).toMatchObject({ status: 'ok', details: { sent: ['webhook'] } });
    const [request] = await hook.waitFor(1);
    expect(request!.json).toMatchObject({ type: 'summary', summary: { items: expect.any(Array) } });
  });
});

describe('routing by metric_tags', () => {
  it('sends a metric with an alert_methods tag to its channels, and the others to the batch’s', async () => {
    await seed(fixture, 'routed', series('routed', 'latency', now, [...calm(20), 900], [...low(20), 0.95]));
    await seed(fixture, 'routed', series('routed', 'orders', now, [...calm(20), 5], [...low(20), 0.96]));
    const result = await createAlertBatch({})(fixture.batch('routed'), fixture.context(now, { env: webhookEnv() }));
    expect(result.rows).toBe(2);

    const [request] = await hook.waitFor(1);
    expect((request!.json.alert as { metric: string }).metric).toBe('latency');
    await fixture.slack.waitForFiles(1);
    expect(fixture.slack.messages.map((m) => m.text)).toEqual(['[routed] latency anomaly']);
    const [mail] = await fixture.smtp.waitFor(1);
    expect(mail!.subject).toBe('[routed] orders anomaly');
    expect(fixture.smtp.messages).toHaveLength(1);
    const rows = (await deliveries(fixture)).filter((d) => d.metric_batch === 'routed');
    expect(rows.map((d) => [d.metric_name, d.channel]).sort()).toEqual([
      ['latency', 'slack'],
      ['latency', 'webhook'],
      ['orders', 'email'],
    ]);
  });

  it('refuses an unknown method in a metric’s alert_methods tag at load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routing-'));
    try {
      fs.mkdirSync(path.join(dir, 'b'));
      fs.writeFileSync(path.join(dir, 'b', 'b.yaml'), 'metric_batch: b\ningest_sql: select 1\nmetric_tags:\n  m:\n    alert_methods: "email,pager"\n');
      const result = loadBatches({ metricsDir: dir, defaultsDir: path.resolve('defaults'), ignoreExamples: true, env: {} });
      expect(result.problems).toEqual([expect.objectContaining({ key: 'metric_tags', reason: expect.stringMatching(/m\.alert_methods: unknown alert method "pager"/) })]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
