import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangeBatch } from '../services/alert/src/change.js';
import type { AlertDeps } from '../services/alert/src/channels.js';
import { createTholdalertBatch } from '../services/alert/src/tholdalert.js';
import { thresholdBreachesForIngest } from '../shared/thresholds/context.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
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

const CHANGE_YAML = `
alert_methods: "email,slack"
change_threshold: 3.5
change_smooth_n: 1
change_detect_last_n: 1
change_snooze_n: 3
`;

const THOLD_YAML = `
disable_tholdalert: false
tholdalert_methods: "email,slack"
tholdalert_recent_n: 1
tholdalert_snooze_n: 3
tholdalert_thresholds:
  cpu:
    upper: 90
    lower: 10
metric_tags:
  cpu:
    host: db1
`;

let fixture: AlertJobsFixture;
let deps: AlertDeps;
const now = new Date('2026-11-25T12:00:00Z');
const step = 10 * MINUTE;
const later = (k: number): Date => new Date(now.getTime() + k * step);
// A noisy level around 10.
const level = (n: number): number[] => Array.from({ length: n }, (_, i) => 10 + [0, 1, -1, 0.5, -0.5][i % 5]!);

beforeAll(async () => {
  fixture = await setUpAlertJobs({ shop: CHANGE_YAML, hosts: THOLD_YAML });
  deps = {};
});

afterAll(async () => {
  await fixture?.close();
});

describe('change job', () => {
  it('fires on a level shift: one change row, one email and one Slack message with a chart', async () => {
    // Setup: a steady metric and one that jumps from ~10 to 30 at `now`.
    await seed(fixture, 'shop', series('shop', 'basket', now, [...level(40), 30]));
    await seed(fixture, 'shop', series('shop', 'visits', now, level(41)));

    // When
    const result = await createChangeBatch(deps)(fixture.batch('shop'), fixture.context(now));

    // Then
    expect(result).toMatchObject({ status: 'ok', rows: 1, details: { metrics: 2, changes: [{ metric: 'basket', value: 30 }] } });
    expect(await countRows(fixture, 'shop', 'change')).toBe(1);
    const [mail] = await fixture.smtp.waitFor(1);
    expect(mail!.subject).toBe('[shop] basket change');
    expect(mail!.text).toContain('threshold 3.5');
    decodePng(mail!.attachments.find((a) => a.contentType === 'image/png')!.content);
    const [file] = await fixture.slack.waitForFiles(1);
    decodePng(file!.bytes!);
    expect(fixture.slack.messages.map((m) => m.text)).toEqual(['[shop] basket change']);
  });

  it('sends nothing when run again', async () => {
    const result = await createChangeBatch(deps)(fixture.batch('shop'), fixture.context(now));
    expect(result.rows).toBe(0);
    expect(fixture.smtp.messages).toHaveLength(1);
    expect(fixture.slack.messages).toHaveLength(1);
  });

  it('is snoozed while a change row is among the newest change_snooze_n points', async () => {
    await seed(fixture, 'shop', series('shop', 'basket', later(1), [31]));
    const result = await createChangeBatch(deps)(fixture.batch('shop'), fixture.context(later(1)));
    expect(result.rows).toBe(0);
    expect(result.details).toMatchObject({ notChecked: { basket: expect.stringMatching(/snoozed/) } });
    expect(await countRows(fixture, 'shop', 'change')).toBe(1);
    expect(fixture.smtp.messages).toHaveLength(1);
  });

  it('writes and sends nothing in a dry run', async () => {
    await seed(fixture, 'shop', series('shop', 'visits', later(1), [80]));
    const result = await createChangeBatch(deps)(fixture.batch('shop'), fixture.context(later(1), { dryRun: true }));
    expect(result.wouldWrite).toEqual([expect.objectContaining({ metric_name: 'visits', metric_type: 'change' })]);
    expect(await countRows(fixture, 'shop', 'change')).toBe(1);
    expect(fixture.smtp.messages).toHaveLength(1);
    expect(fixture.slack.messages).toHaveLength(1);
  });
});

describe('tholdalert job', () => {
  const emails = (): number => fixture.smtp.messages.length;
  const slacks = (): number => fixture.slack.messages.length;

  it('writes a tholdalert row for a breach of the upper bound and sends it once per channel', async () => {
    // Setup
    await seed(fixture, 'hosts', series('hosts', 'cpu', now, [50, 60, 55, 95]));
    await seed(fixture, 'hosts', series('hosts', 'disk', now, [50, 60, 55, 9999]));
    const before = { emails: emails(), slacks: slacks() };

    // When
    const result = await createTholdalertBatch(deps)(fixture.batch('hosts'), fixture.context(now));

    // Then
    expect(result).toMatchObject({ status: 'ok', rows: 1, details: { breaches: [{ metric: 'cpu', type: 'upper', bound: 90, value: 95 }] } });
    const [row] = await fixture.database.db.query<{ metadata: unknown }>({
      text: `select metadata from metrics_hosts where metric_type = 'tholdalert'`,
      values: [],
    });
    expect(row!.metadata).toEqual({
      thresholds: { upper: 90, lower: 10 },
      breached_threshold_type: 'upper',
      breached_threshold_value: 90,
      metric_value_at_breach: 95,
    });
    const mails = await fixture.smtp.waitFor(before.emails + 1);
    const mail = mails[before.emails]!;
    expect(mail.subject).toBe('[hosts] cpu threshold');
    expect(mail.text).toContain('bound=upper');
    expect(mail.text).toContain('host=db1');
    await fixture.slack.waitForFiles(before.slacks + 1);
    expect(slacks()).toBe(before.slacks + 1);

    // A re-run sends nothing.
    const again = await createTholdalertBatch(deps)(fixture.batch('hosts'), fixture.context(now));
    expect(again.rows).toBe(0);
    expect(emails()).toBe(before.emails + 1);
    expect(slacks()).toBe(before.slacks + 1);
  });

  it('snoozes breaches within tholdalert_snooze_n points after one', async () => {
    const before = { emails: emails(), slacks: slacks() };
    for (let k = 1; k <= 3; k++) {
      await seed(fixture, 'hosts', series('hosts', 'cpu', later(k), [97]));
      const result = await createTholdalertBatch(deps)(fixture.batch('hosts'), fixture.context(later(k)));
      expect(result.rows).toBe(0);
    }
    expect(await countRows(fixture, 'hosts', 'tholdalert')).toBe(1);
    expect(emails()).toBe(before.emails);
    expect(slacks()).toBe(before.slacks);
  });

  it('sends the tholdalert rows the ingest wrote (detectThresholdBreaches on ingested rows)', async () => {
    // Setup: what the ingest does with a run's rows: detect against the table, then write both.
    const batch = fixture.batch('hosts');
    const ingested = series('hosts', 'cpu', later(4), [3]);
    const breaches = await thresholdBreachesForIngest(fixture.database.db, batch, ingested);
    expect(breaches.map((b) => [b.type, b.bound, b.value])).toEqual([['lower', 10, 3]]);
    await upsertMetricRows(fixture.database.db, batch.config.table_key, [...ingested, ...breaches.map((b) => b.row)]);
    const before = { emails: emails(), slacks: slacks() };

    // When
    const result = await createTholdalertBatch(deps)(batch, fixture.context(later(4)));

    // Then: no new row (the ingest wrote it), one notification per channel.
    expect(result.rows).toBe(0);
    expect(result.details).toMatchObject({ deliveries: { sent: 2 } });
    const mails = await fixture.smtp.waitFor(before.emails + 1);
    expect(mails[before.emails]!.text).toContain('bound=lower');
    await fixture.slack.waitForFiles(before.slacks + 1);
    const rows = (await deliveries(fixture)).filter((r) => r.metric_type === 'tholdalert');
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(rows).toHaveLength(4);
  });

  it('writes and sends nothing in a dry run', async () => {
    // Four normal points after the last breach, then one above the bound.
    await seed(fixture, 'hosts', series('hosts', 'cpu', later(9), [50, 50, 50, 50, 99]));
    const before = { emails: emails(), slacks: slacks(), rows: await countRows(fixture, 'hosts', 'tholdalert') };
    const result = await createTholdalertBatch(deps)(fixture.batch('hosts'), fixture.context(later(9), { dryRun: true }));
    expect(result.wouldWrite).toEqual([expect.objectContaining({ metric_name: 'cpu', metric_type: 'tholdalert', metric_timestamp: later(9) })]);
    expect(result.details).toMatchObject({
      wouldSend: [
        { metric: 'cpu', channel: 'email' },
        { metric: 'cpu', channel: 'slack' },
      ],
    });
    expect(await countRows(fixture, 'hosts', 'tholdalert')).toBe(before.rows);
    expect(emails()).toBe(before.emails);
    expect(slacks()).toBe(before.slacks);
  });

  it('is skipped when threshold alerts are disabled', async () => {
    const result = await createTholdalertBatch(deps)(fixture.batch('shop'), fixture.context(now));
    expect(result).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/disable_tholdalert/) });
    expect(await thresholdBreachesForIngest(fixture.database.db, fixture.batch('shop'), series('shop', 'x', now, [1e9]))).toEqual([]);
  });
});
