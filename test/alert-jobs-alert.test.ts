import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertBatch } from '../services/alert/src/alert.js';
import { ResumableError, type AlertChannel, type AlertDeps, type ResumeState } from '../services/alert/src/channels.js';
import {
  MINUTE,
  countRows,
  decodePng,
  deliveries,
  seed,
  series,
  setUpAlertJobs,
  type AlertJobsFixture,
} from './alert-jobs-fixtures.js';

// Smoothing off and a snooze of 3 counted from alerts (the original's mode) so each case reads
// plainly; alert_recent_n 1 as the default. The incident mode is covered in shared/detect.
const ALERT_YAML = `
alert_methods: "email,slack"
alert_threshold: 0.8
alert_smooth_n: 0
alert_snooze_n: 3
alert_snooze_mode: alert
alert_recent_n: 1
alert_max_n: 50
metric_tags:
  latency:
    team: web
    unit: ms
`;

let fixture: AlertJobsFixture;
let deps: AlertDeps;
const now = new Date('2026-11-25T12:00:00Z');
const calm = (n: number): number[] => Array.from({ length: n }, (_, i) => 100 + (i % 5));
const lowScores = (n: number): number[] => Array.from({ length: n }, (_, i) => 0.1 + (i % 3) * 0.05);

beforeAll(async () => {
  fixture = await setUpAlertJobs({ web: ALERT_YAML, quiet: ALERT_YAML, only_email: ALERT_YAML, refused: ALERT_YAML });
  deps = {};
});

afterAll(async () => {
  await fixture?.close();
});

describe('alert job', () => {
  it('sends one email and one Slack message with a chart for a spike, and writes the alert row', async () => {
    // Setup: 40 calm points, then a spike scored 0.95 at `now`.
    await seed(fixture, 'web', series('web', 'latency', now, [...calm(40), 900], [...lowScores(40), 0.95]));
    await seed(fixture, 'web', series('web', 'throughput', now, calm(41), lowScores(41)));

    // When
    const result = await createAlertBatch(deps)(fixture.batch('web'), fixture.context(now));

    // Then
    expect(result).toMatchObject({ batch: 'web', job: 'alert', status: 'ok', rows: 1 });
    expect(result.details).toMatchObject({ metrics: 2, alerts: [{ metric: 'latency', timestamp: now.toISOString(), score: 0.95 }], silent: {}, farBelow: 1 });
    expect(await countRows(fixture, 'web', 'alert')).toBe(1);

    const [mail] = await fixture.smtp.waitFor(1);
    expect(fixture.smtp.messages).toHaveLength(1);
    expect(mail!.subject).toBe('[web] latency anomaly');
    expect(fixture.smtp.envelopes[0]!.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(mail!.text).toContain('Metric:');
    expect(mail!.text).toContain('latency');
    expect(mail!.text).toContain('900');
    expect(mail!.text).toContain('0.95');
    expect(mail!.text).toContain('>= threshold 0.8');
    expect(mail!.text).toContain('team=web');
    expect(mail!.text).toContain('2026-11-25 12:00:00 UTC');
    const pngs = mail!.attachments.filter((a) => a.contentType === 'image/png');
    expect(pngs.length).toBeGreaterThanOrEqual(1);
    const { width, height } = decodePng(pngs[0]!.content);
    expect(width).toBeGreaterThan(800);
    expect(height).toBeGreaterThan(300);
    // ANOMSTACK_TEST_KEEP_CHART=<file> keeps the chart for a look at what an alert shows.
    if (process.env.ANOMSTACK_TEST_KEEP_CHART) {
      await writeFile(process.env.ANOMSTACK_TEST_KEEP_CHART, pngs[0]!.content);
    }

    await fixture.slack.waitForFiles(1);
    expect(fixture.slack.messages).toHaveLength(1);
    expect(fixture.slack.messages[0]!.text).toBe('[web] latency anomaly');
    expect(JSON.stringify(fixture.slack.messages[0]!.blocks)).toContain('team=web');
    expect(fixture.slack.files).toHaveLength(1);
    expect(fixture.slack.files[0]!.thread_ts).toBe(fixture.slack.messages[0]!.ts);
    decodePng(fixture.slack.files[0]!.bytes!);

    const rows = await deliveries(fixture);
    expect(rows.map((r) => [r.metric_name, r.channel, r.status, r.attempts])).toEqual([
      ['latency', 'email', 'sent', 1],
      ['latency', 'slack', 'sent', 1],
    ]);
  });

  it('sends nothing and writes nothing when run again', async () => {
    const result = await createAlertBatch(deps)(fixture.batch('web'), fixture.context(now));
    expect(result.rows).toBe(0);
    expect(result.details).toMatchObject({ alerts: [], deliveries: { sent: 0, failed: [] }, silent: { latency: { reason: 'already alerted' } } });
    expect(fixture.smtp.messages).toHaveLength(1);
    expect(fixture.slack.messages).toHaveLength(1);
    expect(await countRows(fixture, 'web', 'alert')).toBe(1);
  });

  it('names, per metric near the threshold, why it sent nothing', async () => {
    await seed(fixture, 'quiet', series('quiet', 'near', now, calm(20), [...lowScores(19), 0.7]));
    // Not scored yet: the alert query reads scored points only, so it is not among the metrics.
    await seed(fixture, 'quiet', series('quiet', 'unscored', now, calm(20)));
    await seed(fixture, 'quiet', series('quiet', 'far', now, calm(20), lowScores(20)));
    const result = await createAlertBatch(deps)(fixture.batch('quiet'), fixture.context(now));
    expect(result.rows).toBe(0);
    expect(result.details).toMatchObject({
      alerts: [],
      silent: {
        near: { reason: 'below threshold', bestScore: 0.7, threshold: 0.8, detail: 'best smoothed score 0.7 over the newest 1 points < alert_threshold 0.8' },
      },
      farBelow: 1,
    });
    expect(Object.keys((result.details as { silent: object }).silent)).toEqual(['near']);
  });

  it('holds back alerts for alert_snooze_n periods after an alert, then alerts again', async () => {
    // Three more high-scored points after the spike: each is within 3 points of it.
    for (let k = 1; k <= 3; k++) {
      const t = new Date(now.getTime() + k * 10 * MINUTE);
      await seed(fixture, 'web', series('web', 'latency', t, [850], [0.9]));
      const result = await createAlertBatch(deps)(fixture.batch('web'), fixture.context(t));
      expect(result.details).toMatchObject({ alerts: [], snoozed: 1, silent: { latency: { reason: 'snoozed', threshold: 0.8 } } });
    }
    expect(await countRows(fixture, 'web', 'alert')).toBe(1);
    expect(fixture.smtp.messages).toHaveLength(1);

    // The fourth is 4 points after the alert: out of the snooze.
    const t = new Date(now.getTime() + 4 * 10 * MINUTE);
    await seed(fixture, 'web', series('web', 'latency', t, [870], [0.92]));
    const result = await createAlertBatch(deps)(fixture.batch('web'), fixture.context(t));
    expect(result.rows).toBe(1);
    await fixture.smtp.waitFor(2);
    await fixture.slack.waitForFiles(2);
    expect(fixture.smtp.messages).toHaveLength(2);
    expect(fixture.slack.messages).toHaveLength(2);
  });

  it('after a Slack outage, the retry sends the Slack message once and the email not again', async () => {
    // Setup: another batch, Slack down.
    await seed(fixture, 'quiet', series('quiet', 'orders', now, [...calm(30), 5], [...lowScores(30), 0.99]));
    const emailsBefore = fixture.smtp.messages.length;
    const slackBefore = fixture.slack.messages.length;
    fixture.slack.setDown(true);

    // When: the first attempt fails (the queue would retry it).
    await expect(createAlertBatch(deps)(fixture.batch('quiet'), fixture.context(now))).rejects.toThrow(/slack/i);

    // Then: the alert row is written and the email went.
    expect(await countRows(fixture, 'quiet', 'alert')).toBe(1);
    await fixture.smtp.waitFor(emailsBefore + 1);
    const failed = (await deliveries(fixture)).filter((r) => r.metric_batch === 'quiet');
    expect(failed.map((r) => [r.channel, r.status, r.attempts])).toEqual([
      ['email', 'sent', 1],
      ['slack', 'pending', 1],
    ]);
    expect(failed[1]!.last_error).toMatch(/slack/i);

    // When: Slack is back and the job is retried.
    fixture.slack.setDown(false);
    const retry = await createAlertBatch(deps)(fixture.batch('quiet'), fixture.context(now));

    // Then: Slack once, email not again.
    expect(retry.rows).toBe(0);
    expect(retry.details).toMatchObject({ deliveries: { sent: 1, failed: [] } });
    expect(fixture.slack.messages.length).toBe(slackBefore + 1);
    expect(fixture.smtp.messages.length).toBe(emailsBefore + 1);
    const done = (await deliveries(fixture)).filter((r) => r.metric_batch === 'quiet');
    expect(done.map((r) => [r.channel, r.status, r.attempts])).toEqual([
      ['email', 'sent', 1],
      ['slack', 'sent', 2],
    ]);

    // And a third run sends nothing at all.
    await createAlertBatch(deps)(fixture.batch('quiet'), fixture.context(now));
    expect(fixture.slack.messages.length).toBe(slackBefore + 1);
    expect(fixture.smtp.messages.length).toBe(emailsBefore + 1);
  });

  it('marks a delivery the mail server refuses for good (550) rejected with the reason, and never retries it', async () => {
    // Setup: the server will refuse the next message permanently; Slack is fine.
    await seed(fixture, 'refused', series('refused', 'payments', now, [...calm(30), 9], [...lowScores(30), 0.99]));
    const emailsBefore = fixture.smtp.messages.length;
    const slackBefore = fixture.slack.messages.length;
    fixture.smtp.rejectNext(1);

    // When
    const result = await createAlertBatch(deps)(fixture.batch('refused'), fixture.context(now));

    // Then: the job succeeds (a retry cannot help), Slack went, and the email is rejected, not pending.
    expect(result.details).toMatchObject({
      deliveries: { sent: 1, failed: [], rejected: [{ metric: 'payments', channel: 'email', error: expect.stringMatching(/550/) }] },
    });
    expect(fixture.slack.messages.length).toBe(slackBefore + 1);
    const rows = (await deliveries(fixture)).filter((r) => r.metric_batch === 'refused');
    expect(rows.map((r) => [r.channel, r.status, r.attempts])).toEqual([
      ['email', 'rejected', 1],
      ['slack', 'sent', 1],
    ]);
    expect(rows[0]!.last_error).toMatch(/mailbox unavailable/);

    // A re-run sends nothing: the rejected delivery is not pending any more.
    await createAlertBatch(deps)(fixture.batch('refused'), fixture.context(now));
    expect(fixture.smtp.messages.length).toBe(emailsBefore);
    expect(((await deliveries(fixture)).find((r) => r.metric_batch === 'refused' && r.channel === 'email'))?.attempts).toBe(1);
  });

  it('skips a channel whose settings are absent, without failing', async () => {
    await seed(fixture, 'only_email', series('only_email', 'signups', now, [...calm(30), 1], [...lowScores(30), 0.97]));
    const emailsBefore = fixture.smtp.messages.length;
    const slackBefore = fixture.slack.messages.length;
    const result = await createAlertBatch({})(fixture.batch('only_email'), fixture.context(now, { env: { slack: null } }));
    expect(result.details).toMatchObject({ channels: ['email'], notConfigured: ['slack'], deliveries: { sent: 1 } });
    await fixture.smtp.waitFor(emailsBefore + 1);
    expect(fixture.slack.messages.length).toBe(slackBefore);
  });

  it('writes and sends nothing in a dry run, and reports the rows it would write', async () => {
    const t = new Date(now.getTime() + 20 * 10 * MINUTE);
    await seed(fixture, 'web', series('web', 'throughput', t, [5000], [0.99]));
    const emailsBefore = fixture.smtp.messages.length;
    const slackBefore = fixture.slack.messages.length;
    const deliveriesBefore = (await deliveries(fixture)).length;

    const result = await createAlertBatch(deps)(fixture.batch('web'), fixture.context(t, { dryRun: true }));

    expect(result.rows).toBe(1);
    expect(result.wouldWrite).toEqual([
      expect.objectContaining({ metric_name: 'throughput', metric_type: 'alert', metric_value: 1, metric_timestamp: t }),
    ]);
    expect(result.details).toMatchObject({
      wouldSend: [
        { metric: 'throughput', channel: 'email' },
        { metric: 'throughput', channel: 'slack' },
      ],
    });
    expect(await countRows(fixture, 'web', 'alert')).toBe(2);
    expect((await deliveries(fixture)).length).toBe(deliveriesBefore);
    expect(fixture.smtp.messages.length).toBe(emailsBefore);
    expect(fixture.slack.messages.length).toBe(slackBefore);
  });

  it('sends each delivery once when two runs race', async () => {
    const t = new Date(now.getTime() + 30 * 10 * MINUTE);
    // Four calm points first: the earlier alert is out of the snooze.
    await seed(fixture, 'only_email', series('only_email', 'signups', t, [...calm(4), 2], [...lowScores(4), 0.99]));
    const emailsBefore = fixture.smtp.messages.length;
    const slackBefore = fixture.slack.messages.length;
    const filesBefore = fixture.slack.files.length;

    const results = await Promise.all([
      createAlertBatch(deps)(fixture.batch('only_email'), fixture.context(t)),
      createAlertBatch(deps)(fixture.batch('only_email'), fixture.context(t)),
    ]);

    const sent = results.map((r) => (r.details as { deliveries: { sent: number } }).deliveries.sent);
    expect(sent[0]! + sent[1]!).toBe(2);
    await fixture.smtp.waitFor(emailsBefore + 1);
    await fixture.slack.waitForFiles(filesBefore + 1);
    expect(fixture.slack.files.length).toBe(filesBefore + 1);
    expect(fixture.smtp.messages.length).toBe(emailsBefore + 1);
    expect(fixture.slack.messages.length).toBe(slackBefore + 1);
  });

  it('resumes a half-done delivery where it stopped (Slack message posted, chart upload failed)', async () => {
    // Setup: a channel that fails after "posting" on its first try, leaving the thread to resume.
    const seen: ResumeState[] = [];
    const flaky: AlertChannel = {
      name: 'slack',
      async send(_message, png, _key, resume) {
        decodePng(png);
        seen.push(resume);
        if (seen.length === 1) {
          throw new ResumableError('upload failed', { slackThread: { ts: '111.222', channelId: 'C0TEST' } });
        }
      },
      async notice() {},
    };
    const flakyDeps: AlertDeps = {
      createChannels: () => ({ get: (name) => (name === 'slack' ? flaky : null), close: async () => {} }),
    };
    const t = new Date(now.getTime() + 40 * 10 * MINUTE);
    await seed(fixture, 'quiet', series('quiet', 'orders', t, [...calm(4), 7], [...lowScores(4), 0.99]));

    // When
    await expect(createAlertBatch(flakyDeps)(fixture.batch('quiet'), fixture.context(t))).rejects.toThrow(/upload failed/);
    const retry = await createAlertBatch(flakyDeps)(fixture.batch('quiet'), fixture.context(t));

    // Then: the retry was handed the thread of the first try.
    expect(seen).toEqual([{}, { slackThread: { ts: '111.222', channelId: 'C0TEST' } }]);
    expect(retry.details).toMatchObject({ deliveries: { sent: 1 } });
  });

  it('returns skipped when alerts are disabled', async () => {
    const batch = fixture.batch('web');
    const disabled = { ...batch, disabled: { ...batch.disabled, alert: true } };
    const result = await createAlertBatch(deps)(disabled, fixture.context(now));
    expect(result).toMatchObject({ status: 'skipped', rows: 0, reason: expect.stringMatching(/disable_alert/) });
  });
});
