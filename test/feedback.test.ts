/**
 * Feedback that changes detection (shared/feedback): a thumbs-down given through the dashboard's
 * own store call stops alerts no more unusual than it, within alert_feedback_horizon_days, and
 * keeps its point out of training; a thumbs-up lets similar alerts through. Real Postgres, the
 * real alert and train cores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlertBatch } from '../services/alert/src/alert.js';
import { setFeedback } from '../services/api/src/dashboard/queries.js';
import { trainBatch } from '../services/train/src/train.js';
import { MINUTE, countRows, deliveries, seed, series, setUpAlertJobs, type AlertJobsFixture } from './alert-jobs-fixtures.js';

// No smoothing and no snooze, so every point over the threshold would alert on its own.
const ALERT_YAML = `
alert_methods: "email"
alert_threshold: 0.8
alert_smooth_n: 0
alert_snooze_n: 0
alert_recent_n: 1
alert_feedback_horizon_days: 1
model_path: "postgres://"
train_min_n: 10
model_configs:
  - {model_name: MAD, model_tag: mad}
`;

let fixture: AlertJobsFixture;
const t0 = new Date('2026-11-25T12:00:00Z');
const at = (minutes: number): Date => new Date(t0.getTime() + minutes * MINUTE);
const calm = (n: number): number[] => Array.from({ length: n }, (_, i) => 100 + (i % 5));
const low = (n: number): number[] => Array.from({ length: n }, () => 0.1);
const alert = createAlertBatch({});

/** One more point of `metric` at `t` with this value and score. */
async function point(batch: string, metric: string, t: Date, value: number, score: number): Promise<void> {
  await seed(fixture, batch, series(batch, metric, t, [value], [score]));
}

beforeAll(async () => {
  fixture = await setUpAlertJobs({ fb_down: ALERT_YAML, fb_up: ALERT_YAML, fb_train: ALERT_YAML });
});

afterAll(async () => {
  await fixture?.close();
});

describe('a thumbs-down', () => {
  it('stops a later alert no more unusual than the judged one, and only that', async () => {
    // Setup: a spike scored 0.9 alerts, and the user marks it a false alarm.
    await seed(fixture, 'fb_down', series('fb_down', 'latency', t0, [...calm(30), 400], [...low(30), 0.9]));
    expect(await alert(fixture.batch('fb_down'), fixture.context(t0))).toMatchObject({ rows: 1 });
    expect(await setFeedback(fixture.database.db, fixture.batch('fb_down'), 'latency', t0, 'down')).toBe(true);

    // When: a similar deviation (score 0.88 <= 0.9) ten minutes later.
    await point('fb_down', 'latency', at(10), 390, 0.88);
    const similar = await alert(fixture.batch('fb_down'), fixture.context(at(10)));

    // Then: no alert row, no delivery, and the result says which false alarm suppressed it.
    expect(similar).toMatchObject({ rows: 0, details: { alerts: [], suppressed: [{ metric: 'latency', timestamp: at(10).toISOString(), scoreSmooth: 0.88, falseAlarm: t0.toISOString(), falseAlarmScore: 0.9 }] } });
    expect(await countRows(fixture, 'fb_down', 'alert')).toBe(1);
    expect((await deliveries(fixture)).filter((d) => d.metric_batch === 'fb_down')).toHaveLength(1);
    // A re-run decides the same.
    expect(await alert(fixture.batch('fb_down'), fixture.context(at(10)))).toMatchObject({ rows: 0 });
    expect(await countRows(fixture, 'fb_down', 'alert')).toBe(1);

    // A more unusual point (0.97 > 0.9) still alerts.
    await point('fb_down', 'latency', at(20), 900, 0.97);
    expect(await alert(fixture.batch('fb_down'), fixture.context(at(20)))).toMatchObject({ rows: 1, details: { suppressed: [] } });

    // Past alert_feedback_horizon_days (1 day), a similar point alerts again.
    const later = new Date(t0.getTime() + 25 * 60 * MINUTE);
    await point('fb_down', 'latency', later, 390, 0.88);
    expect(await alert(fixture.batch('fb_down'), fixture.context(later))).toMatchObject({ rows: 1, details: { suppressed: [] } });
    expect(await countRows(fixture, 'fb_down', 'alert')).toBe(3);
  });

  it('keeps its point out of training', async () => {
    // Setup: 40 points, one of them a spike that alerted.
    const values = calm(40);
    values[30] = 5000;
    const spikeAt = new Date(t0.getTime() - 9 * 10 * MINUTE);
    await seed(fixture, 'fb_train', series('fb_train', 'orders', t0, values));
    await seed(fixture, 'fb_train', [{ metric_timestamp: spikeAt, metric_batch: 'fb_train', metric_name: 'orders', metric_type: 'alert', metric_value: 1, metadata: { metric_score_smooth: 0.99 } }]);
    const before = await trainBatch(fixture.batch('fb_train'), fixture.context(t0));
    expect(before).toMatchObject({ status: 'ok', details: { falseAlarmsExcluded: 0 } });

    // When: the spike is thumbed down, and the model retrained.
    expect(await setFeedback(fixture.database.db, fixture.batch('fb_train'), 'orders', spikeAt, 'down')).toBe(true);
    const after = await trainBatch(fixture.batch('fb_train'), fixture.context(t0));

    // Then: one point fewer went into the new model.
    expect(after).toMatchObject({ status: 'ok', details: { falseAlarmsExcluded: 1 } });
    const models = await fixture.database.db.query<{ n_train: number; version: string }>({
      text: `select n_train, version from anomstack_models where metric_batch = 'fb_train' and metric_name = 'orders' order by version`,
      values: [],
    });
    expect(models).toHaveLength(2);
    expect(models[1]!.n_train).toBe(models[0]!.n_train - 1);
  });
});

describe('a thumbs-up', () => {
  it('confirms: a similar later deviation alerts', async () => {
    await seed(fixture, 'fb_up', series('fb_up', 'latency', t0, [...calm(30), 400], [...low(30), 0.9]));
    expect(await alert(fixture.batch('fb_up'), fixture.context(t0))).toMatchObject({ rows: 1 });
    expect(await setFeedback(fixture.database.db, fixture.batch('fb_up'), 'latency', t0, 'up')).toBe(true);

    await point('fb_up', 'latency', at(10), 390, 0.88);
    expect(await alert(fixture.batch('fb_up'), fixture.context(at(10)))).toMatchObject({ rows: 1, details: { suppressed: [] } });
    expect(await countRows(fixture, 'fb_up', 'alert')).toBe(2);
  });

  it('on a later alert overrides an older thumbs-down at or above its score, until it is cleared', async () => {
    // Setup: on fb_up the t0 alert (0.9) is now thumbed down, and the later 10-min alert (0.88) confirmed.
    const batch = fixture.batch('fb_up');
    expect(await setFeedback(fixture.database.db, batch, 'latency', t0, 'down')).toBe(true);
    expect(await setFeedback(fixture.database.db, batch, 'latency', at(10), 'up')).toBe(true);

    // 0.89 is no more unusual than the false alarm (0.9), but at least the confirmed 0.88: it alerts.
    await point('fb_up', 'latency', at(20), 395, 0.89);
    expect(await alert(batch, fixture.context(at(20)))).toMatchObject({ rows: 1, details: { suppressed: [] } });

    // With the confirmation cleared, the thumbs-down at t0 suppresses a similar point again.
    expect(await setFeedback(fixture.database.db, batch, 'latency', at(10), 'clear')).toBe(true);
    await point('fb_up', 'latency', at(30), 395, 0.89);
    expect(await alert(batch, fixture.context(at(30)))).toMatchObject({ rows: 0, details: { suppressed: [{ falseAlarm: t0.toISOString() }] } });
  });
});
