import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDeps } from '../services/alert/src/channels.js';
import { createDeleteBatch } from '../services/alert/src/delete.js';
import { plotBatch, plotPath } from '../services/alert/src/plot.js';
import { createSummaryBatch } from '../services/alert/src/summary.js';
import type { MetricRow } from '../shared/metric-row.js';
import { MINUTE, countRows, decodePng, seed, series, setUpAlertJobs, type AlertJobsFixture } from './alert-jobs-fixtures.js';

let fixture: AlertJobsFixture;
let deps: AlertDeps;
const now = new Date('2026-11-25T09:00:00Z');
const DAY = 86_400_000;

function flag(batch: string, metric: string, type: MetricRow['metric_type'], t: Date): MetricRow {
  return { metric_timestamp: t, metric_batch: batch, metric_name: metric, metric_type: type, metric_value: 1, metadata: null };
}

beforeAll(async () => {
  fixture = await setUpAlertJobs({
    alpha: 'delete_after_n_days: 30\n',
    beta: 'summary_metric_timestamp_max_days_ago: 1\n',
    gamma: 'disable_summary: true\ndisable_plot: true\ndisable_delete: true\n',
  });
  deps = {};
});

afterAll(async () => {
  await fixture?.close();
});

describe('summary job', () => {
  it('sends one email and one Slack message a day listing every batch’s alerts, changes and threshold alerts, across tables', async () => {
    // Setup: alpha and beta live in different tables; one old alert is outside the window.
    const recent = new Date(now.getTime() - 2 * 60 * MINUTE);
    await seed(fixture, 'alpha', [...series('alpha', 'sales', recent, [120]), flag('alpha', 'sales', 'alert', recent)]);
    await seed(fixture, 'alpha', [flag('alpha', 'stale_metric', 'alert', new Date(now.getTime() - 3 * DAY))]);
    await seed(fixture, 'beta', [
      ...series('beta', 'cpu', recent, [97]),
      flag('beta', 'cpu', 'tholdalert', recent),
      flag('beta', 'queue', 'change', new Date(recent.getTime() - 10 * MINUTE)),
    ]);

    // When: every batch runs the summary in the same day.
    const first = await createSummaryBatch(deps)(fixture.batch('beta'), fixture.context(now));
    const second = await createSummaryBatch(deps)(fixture.batch('alpha'), fixture.context(new Date(now.getTime() + 5 * MINUTE)));

    // Then
    expect(first).toMatchObject({ status: 'ok', details: { sent: ['email', 'slack'], items: 3, batches: 3 } });
    expect(second).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/already sent/) });
    const [mail] = await fixture.smtp.waitFor(1);
    expect(fixture.smtp.messages).toHaveLength(1);
    expect(mail!.subject).toMatch(/^Anomstack summary: 1 anomaly, 1 change, 1 threshold breach/);
    expect(mail!.text).toContain('alpha (1)');
    expect(mail!.text).toContain('beta (2)');
    expect(mail!.text).toContain('sales = 120');
    expect(mail!.text).not.toContain('stale_metric');
    expect(fixture.slack.messages).toHaveLength(1);
    const slackSummary = fixture.slack.messages[0]!;
    expect(slackSummary.text).toBe(mail!.subject);
    const blocks = JSON.stringify(slackSummary.blocks);
    expect(blocks).toContain('*alpha* (1)');
    expect(blocks).toContain('`sales` = 120');
    expect(blocks).toContain('threshold `cpu` = 97');
    expect(blocks).not.toContain('stale_metric');
    expect(fixture.slack.files).toHaveLength(0);

    // The next day it goes again, once.
    const tomorrow = new Date(now.getTime() + DAY);
    const dry = await createSummaryBatch(deps)(fixture.batch('alpha'), fixture.context(tomorrow, { dryRun: true }));
    expect(dry).toMatchObject({ status: 'ok', details: { wouldSend: ['email', 'slack'] } });
    expect(fixture.smtp.messages).toHaveLength(1);
    await createSummaryBatch(deps)(fixture.batch('alpha'), fixture.context(tomorrow));
    await createSummaryBatch(deps)(fixture.batch('beta'), fixture.context(tomorrow));
    await fixture.smtp.waitFor(2);
    expect(fixture.smtp.messages).toHaveLength(2);
    expect(fixture.slack.messages).toHaveLength(2);
  });

  it('retries only the channel that failed', async () => {
    const day = new Date(now.getTime() + 2 * DAY);
    fixture.slack.failNext(1, 500, 'chat.postMessage');
    await expect(createSummaryBatch(deps)(fixture.batch('alpha'), fixture.context(day))).rejects.toThrow(/the retry sends only these\): slack: /);
    expect(fixture.smtp.messages).toHaveLength(3);
    const retry = await createSummaryBatch(deps)(fixture.batch('alpha'), fixture.context(day));
    expect(retry).toMatchObject({ status: 'ok', details: { sent: ['slack'] } });
    expect(fixture.smtp.messages).toHaveLength(3);
    expect(fixture.slack.messages).toHaveLength(3);
  });

  it('goes to Slack alone when email is not configured', async () => {
    const day = new Date(now.getTime() + 3 * DAY);
    const result = await createSummaryBatch({})(fixture.batch('alpha'), fixture.context(day, { env: { email: null } }));
    expect(result).toMatchObject({ status: 'ok', details: { sent: ['slack'] } });
    expect(fixture.slack.messages).toHaveLength(4);
    expect(fixture.smtp.messages).toHaveLength(3);
  });

  it('is skipped when disabled, or when no channel is configured', async () => {
    const disabled = await createSummaryBatch(deps)(fixture.batch('gamma'), fixture.context(new Date(now.getTime() + 5 * DAY)));
    expect(disabled).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/disable_summary/) });
    const none = await createSummaryBatch({})(fixture.batch('alpha'), fixture.context(new Date(now.getTime() + 5 * DAY), { env: { email: null, slack: null } }));
    expect(none).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no channel is configured/) });
  });
});

describe('delete job', () => {
  it('removes rows older than delete_after_n_days in chunks, and nothing in a dry run', async () => {
    // Setup: 40 points (metric + score rows = 80) from 60-61 days ago, 5 recent ones.
    const old = new Date(now.getTime() - 60 * DAY);
    await seed(fixture, 'alpha', series('alpha', 'visits', old, Array.from({ length: 40 }, (_, i) => i), Array.from({ length: 40 }, () => 0.1), 30 * MINUTE));
    await seed(fixture, 'alpha', series('alpha', 'visits', now, [1, 2, 3, 4, 5]));
    const before = await countRows(fixture, 'alpha', 'metric');
    const db = fixture.database.db;
    await db.query({
      text: `insert into anomstack_job_runs (metric_batch, job, status, started_at) values
             ('alpha', 'ingest', 'ok', $1), ('alpha', 'ingest', 'ok', $2), ('beta', 'ingest', 'ok', $1)`,
      values: [old, now],
    });
    const jobRuns = async (batch: string) =>
      (await db.query<{ n: number }>({ text: 'select count(*)::int as n from anomstack_job_runs where metric_batch = $1', values: [batch] }))[0]?.n;

    // When: a dry run
    const dry = await createDeleteBatch({ chunkSize: 7 })(fixture.batch('alpha'), fixture.context(now, { dryRun: true }));
    // Then: it counts, deletes nothing. (The 3-day-old alert row is inside the 30 days.)
    expect(dry).toMatchObject({ status: 'ok', rows: 80, details: { wouldDelete: 80 } });
    expect(await countRows(fixture, 'alpha', 'metric')).toBe(before);

    // When
    const result = await createDeleteBatch({ chunkSize: 7 })(fixture.batch('alpha'), fixture.context(now));

    // Then
    expect(result).toMatchObject({ status: 'ok', rows: 80, details: { deleted: 80, chunks: 12, chunkSize: 7 } });
    expect(await countRows(fixture, 'alpha', 'metric')).toBe(before - 40);
    expect(await countRows(fixture, 'alpha', 'score')).toBe(0);
    expect(await countRows(fixture, 'alpha', 'alert')).toBe(2);
    // Other batches are untouched.
    expect(await countRows(fixture, 'beta', 'metric')).toBe(1);
    // Job-run records of that age go too, only the batch's own.
    expect(result.details).toMatchObject({ jobRunsDeleted: 1 });
    expect([await jobRuns('alpha'), await jobRuns('beta')]).toEqual([1, 1]);
    // Again: nothing left to delete.
    expect((await createDeleteBatch({ chunkSize: 7 })(fixture.batch('alpha'), fixture.context(now))).rows).toBe(0);
  });

  it('is skipped when disabled', async () => {
    expect(await createDeleteBatch()(fixture.batch('gamma'), fixture.context(now))).toMatchObject({ status: 'skipped' });
  });
});

describe('plot job', () => {
  it('writes one PNG per metric under <plotsDir>/<batch>/, with safe file names', async () => {
    await seed(fixture, 'beta', series('beta', 'req/s', now, [1, 2, 3, 2, 1], [0.1, 0.2, 0.9, 0.3, 0.1]));

    const dry = await plotBatch(fixture.batch('beta'), fixture.context(now, { dryRun: true }));
    expect(dry).toMatchObject({ status: 'ok', rows: 0, details: { plots: 2 } });
    expect(existsSync(path.join(fixture.plotsDir, 'beta'))).toBe(false);

    const result = await plotBatch(fixture.batch('beta'), fixture.context(now));
    expect(result).toMatchObject({ status: 'ok', rows: 0, details: { plots: 2 } });
    const files = (await readdir(path.join(fixture.plotsDir, 'beta'))).sort();
    expect(files).toHaveLength(2);
    expect(files).toContain('cpu.png');
    expect(files.every((file) => !file.includes('/') && file.endsWith('.png') && !file.startsWith('.'))).toBe(true);
    const file = plotPath(fixture.plotsDir, 'beta', 'req/s');
    const { width } = decodePng(await readFile(file));
    expect(width).toBeGreaterThan(800);
  });

  it('is skipped when disabled', async () => {
    expect(await plotBatch(fixture.batch('gamma'), fixture.context(now))).toMatchObject({ status: 'skipped' });
  });
});
