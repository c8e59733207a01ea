import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_CORES } from '../services/cores.js';
import { runBacktest } from '../shared/backtest/run.js';
import { backtestSettings } from '../shared/backtest/settings.js';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches, loadDefaultBatch } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import type { JobContext } from '../shared/job.js';
import type { JobName } from '../shared/jobs.js';
import { logger } from '../shared/logger.js';
import type { MetricRow } from '../shared/metric-row.js';
import { Random } from '../shared/models/random.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';

// The complaint about the original's detection: a lone spike on the newest point scored 1.0
// and never alerted, as the smoothing averaged it away. With the defaults, it alerts in the very run
// that ingests it: ingest, then score, then alert, as `anomstack run <batch> ingest score alert`.
const START = Date.UTC(2026, 2, 1);
const STEP = 5 * 60_000;
const HISTORY = 600;
const at = (i: number): Date => new Date(START + i * STEP);
/** A daily-ish wave with deterministic noise; point HISTORY is the spike. */
const value = (i: number): number => (i === HISTORY ? 160 : 100 + 10 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 13) / 6);

describe('the default detector on the real jobs', () => {
  let test: TestDatabase;
  let smtp: TestSmtpServer;
  let workdir: string;
  let batch: MetricBatch;
  let context: (now: Date) => JobContext;
  const run = (job: JobName, now: Date) => JOB_CORES[job](batch, context(now));

  beforeAll(async () => {
    workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-default-'));
    fs.mkdirSync(path.join(workdir, 'metrics'));
    // Only what a batch must say: everything about detection comes from defaults.yaml.
    fs.writeFileSync(
      path.join(workdir, 'metrics', 'spiky.yaml'),
      [
        'metric_batch: spiky',
        'table_key: spiky_metrics',
        `model_path: "local://${path.join(workdir, 'models')}"`,
        'alert_methods: email',
        'ingest_sql: select metric_timestamp, metric_name, metric_value from spiky_source where metric_timestamp = {{param.now}}::timestamptz',
        '',
      ].join('\n'),
    );
    const load = loadBatches({ metricsDir: path.join(workdir, 'metrics'), defaultsDir: path.resolve('defaults'), ignoreExamples: false, env: {} });
    expect(load.problems).toEqual([]);
    batch = load.batches[0]!;
    expect(batch.config.model_configs.map((m) => m.model_name)).toEqual(['Conformal']);
    test = await createTestDatabase(load.batches);
    smtp = await startSmtpServer();
    const env = loadEnv({
      ANOMSTACK_DATABASE_URL: test.url,
      ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
    });
    context = (now) => ({ env, db: test.db, batches: load.batches, now, dryRun: false, log: logger });

    await test.db.query({ text: 'create table spiky_source (metric_timestamp timestamptz, metric_name text, metric_value double precision)', values: [] });
    await test.db.query({
      text: 'insert into spiky_source select t, $1, v from unnest($2::timestamptz[], $3::float8[]) as u(t, v)',
      values: ['requests', [at(HISTORY)], [value(HISTORY)]],
    });
    // Two days of history, trained and scored as the crons would have done before the spike.
    const history: MetricRow[] = Array.from({ length: HISTORY }, (_, i) => ({
      metric_timestamp: at(i),
      metric_batch: 'spiky',
      metric_name: 'requests',
      metric_type: 'metric',
      metric_value: value(i),
      metadata: null,
    }));
    await upsertMetricRows(test.db, 'spiky_metrics', history);
    expect(await run('train', at(HISTORY - 1))).toMatchObject({ status: 'ok', rows: batch.config.model_configs.length });
    expect(await run('score', at(HISTORY - 1))).toMatchObject({ status: 'ok' });
    // Normal points do not alert: the spike's alert below is not the detector's background noise.
    expect(await run('alert', at(HISTORY - 1))).toMatchObject({ rows: 0 });
  });

  afterAll(async () => {
    await smtp.close();
    await test.drop();
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  it('alerts on a lone spike at the newest point in the run that ingests it', async () => {
    const now = at(HISTORY);
    expect(await run('ingest', now)).toMatchObject({ status: 'ok', rows: 1 });
    expect(await run('score', now)).toMatchObject({ status: 'ok', rows: 1 });
    const alert = await run('alert', now);
    expect(alert).toMatchObject({ status: 'ok', rows: 1 });
    const rows = await test.db.query<{ metric_timestamp: Date; metadata: { metric_score: number; alert_threshold: number } }>({
      text: `select metric_timestamp, metadata from spiky_metrics where metric_type = 'alert'`,
      values: [],
    });
    expect(rows.map((r) => r.metric_timestamp.getTime())).toEqual([now.getTime()]);
    expect(rows[0]!.metadata.metric_score).toBeGreaterThanOrEqual(rows[0]!.metadata.alert_threshold);
    await smtp.waitFor(1);
    expect(smtp.messages.map((m) => m.subject)).toEqual(['[spiky] requests anomaly']);

    // Why: the score row carries the expected range (value units) of the point, the alert row copies
    // it, and the email says where the value sits against it. Normal values here are 90 to 112.
    const score = await test.db.query<{ metadata: { band: { lo: number; hi: number } } }>({
      text: `select metadata from spiky_metrics where metric_type = 'score' and metric_timestamp = $1`,
      values: [now],
    });
    const band = score[0]!.metadata.band;
    expect((score[0]!.metadata as unknown as { detector: string }).detector).toMatch(/^conformal_default:(window|jump)$/);
    expect(band.lo).toBeGreaterThan(85);
    expect(band.hi).toBeLessThan(120);
    expect(band.lo).toBeLessThanOrEqual(band.hi);
    expect((rows[0]!.metadata as unknown as { band: unknown }).band).toEqual(band);
    expect(smtp.messages[0]!.text).toContain('value 160 is above the expected range');
    expect(smtp.messages[0]!.text).toMatch(/score [\d.]+ >= threshold 0\.999/);
  });
});

// The same defaults, replayed as `anomstack backtest` replays a history (shared/backtest: the jobs'
// train schedule, score and alert rules): three days of a 5-minute metric with a daily wave, then
// one kind of incident. Each must alert within a few points; the daily peak must never alert.
describe('the default detector on incidents (backtest replay of the defaults)', () => {
  const DAY = 288;
  const settings = (overrides: Record<string, unknown> = {}): ReturnType<typeof backtestSettings> => {
    const { batch, problems } = loadDefaultBatch({ defaultsDir: path.resolve('defaults'), name: 'incidents', overrides });
    expect(problems).toEqual([]);
    return backtestSettings(batch!);
  };
  /** A daily wave plus uniform noise (2 decimals, as a real metric is stored), and an optional sharp daily peak at noon. */
  const metric = (n: number, seed: number, peak = false): number[] => {
    const random = new Random(seed);
    return Array.from({ length: n }, (_, i) => {
      const atNoon = peak && Math.abs((i % DAY) - DAY / 2) < 4;
      return Math.round(100 * (100 + 10 * Math.sin((2 * Math.PI * i) / DAY) + 2 * (random.next() - 0.5) + (atNoon ? 60 : 0))) / 100;
    });
  };
  const alertsOf = (values: number[], step = STEP, overrides: Record<string, unknown> = {}): number[] => {
    const rows = values.map((v, i) => ({ metric_name: 'm', metric_timestamp: START + i * step, metric_value: v }));
    const result = runBacktest(rows, settings(overrides));
    return [...result.alert].flatMap((a, i) => (a === 1 ? [i] : []));
  };
  const FROM = 3 * DAY;

  it('alerts on a flatline within a few points', () => {
    const values = metric(FROM + 40, 1);
    values.fill(values[FROM]!, FROM, FROM + 20);
    expect(alertsOf(values).filter((i) => i >= FROM && i < FROM + 8)).not.toEqual([]);
  });

  it('alerts on a stuck value of a metric that never repeats one by its 4th stuck point, with days of history', () => {
    // With the continuation rates' prior of 1/2 the run's p halved per point: 6 points with 3 days of rows.
    for (const seed of [11, 12, 13]) {
      const values = metric(FROM + 40, seed);
      values.fill(values[FROM]!, FROM, FROM + 6);
      expect(alertsOf(values).filter((i) => i >= FROM && i < FROM + 4)).not.toEqual([]);
    }
  });

  it('does not alert on the repeats of metrics whose values are often equal (rounded noise, counts on a daily wave)', () => {
    const random = new Random(21);
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
    // Knuth's Poisson draw: counts from about 2 at night to 40 at the day's peak.
    const poisson = (mean: number): number => {
      let k = 0;
      for (let prod = random.next(); prod > Math.exp(-mean); prod *= random.next()) {
        k++;
      }
      return k;
    };
    const rounded = Array.from({ length: 5 * DAY }, () => Math.round(2 * gauss()));
    const counts = Array.from({ length: 5 * DAY }, (_, i) => poisson(21 - 19 * Math.cos((2 * Math.PI * i) / DAY)));
    for (const values of [rounded, counts]) {
      const repeats = values.flatMap((v, i) => (i > 0 && v === values[i - 1] ? [i] : []));
      expect(repeats.length).toBeGreaterThan(100);
      expect(alertsOf(values).filter((i) => repeats.includes(i))).toEqual([]);
    }
  });

  it('alerts on a long flatline on a new metric (first models of 16 and 32 rows), from its 12th stuck point at the latest', () => {
    // A flat-topped noise metric (no wave: the KNN window sees nothing new in a stuck mid value), stuck from point 45.
    const random = new Random(9);
    const values = Array.from({ length: 70 }, () => Math.round(100 * (100 + 2 * (random.next() - 0.5))) / 100);
    values.fill(100, 45, 70);
    expect(alertsOf(values).filter((i) => i >= 45 && i < 45 + 12)).not.toEqual([]);
  });

  it('alerts on a level shift within a few points, even one that stays inside the daily range', () => {
    const values = metric(FROM + 40, 2).map((v, i) => (i >= FROM ? v + 8 : v));
    expect(alertsOf(values).filter((i) => i >= FROM && i < FROM + 3)).not.toEqual([]);
  });

  it('does not alert on a steady counter, and alerts on a level shift of a random walk', () => {
    // Poisson counts (mean 20) for two days, six metrics: the calibration and tail of the defaults
    // had sent 4 alerts on them, each a new extreme of the counts.
    const poisson = (random: Random, mean: number): number => {
      let k = 0;
      let p = Math.exp(-mean);
      let cdf = p;
      const u = random.next();
      while (u > cdf) {
        k++;
        p *= mean / k;
        cdf += p;
      }
      return k;
    };
    const counters = [1, 2, 3, 4, 5, 6].map((seed) => {
      const random = new Random(seed);
      return alertsOf(Array.from({ length: 2 * DAY }, () => poisson(random, 20))).length;
    });
    expect(counters.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1);
    // A random walk (steps ~ N(0, 1)) that moves up by 10 steps at once: its jump, not its level, alerts.
    const random = new Random(1);
    let x = 100;
    const walk = Array.from({ length: 2 * DAY + 24 }, (_, i) => {
      x += Array.from({ length: 12 }, () => random.next()).reduce((a, b) => a + b, 0) - 6;
      return Math.round(100 * (i >= 2 * DAY ? x + 10 : x)) / 100;
    });
    expect(alertsOf(walk).filter((i) => i >= 2 * DAY && i < 2 * DAY + 3)).not.toEqual([]);
  });

  it('does not alert on a daily peak it has seen on the days before', () => {
    const values = metric(FROM + DAY, 3, true);
    expect(alertsOf(values).filter((i) => i >= 2 * DAY)).toEqual([]);
  });

  // An hourly metric that is busy in working hours on weekdays only (START is a Sunday): six weeks
  // of history, then a Sunday. The working-hours rise is gradual, so no jump gives it away, and the
  // weekdays show that shape every day: only the day of week says a Sunday should not have it.
  const HOUR = 3_600_000;
  const weekdays = (n: number, seed: number, busySunday: number | null): number[] => {
    const random = new Random(seed);
    return Array.from({ length: n }, (_, i) => {
      const hour = i % 24;
      const day = Math.floor(i / 24);
      const busy = (day % 7 !== 0 && day % 7 !== 6) || day === busySunday;
      const work = busy && hour > 7 && hour < 19 ? 40 * Math.sin((Math.PI * (hour - 7)) / 12) : 0;
      return Math.round(100 * (100 + 5 * Math.sin((2 * Math.PI * hour) / 24) + work + 4 * (random.next() - 0.5))) / 100;
    });
  };
  const SUNDAY = 42;
  const sunday = (i: number): boolean => i >= SUNDAY * 24 && i < (SUNDAY + 1) * 24;

  it('alerts on a weekday\'s working hours on a Sunday, and not on a quiet Sunday', () => {
    expect(alertsOf(weekdays(43 * 24, 4, SUNDAY), HOUR).filter(sunday)).not.toEqual([]);
    expect(alertsOf(weekdays(43 * 24, 4, null), HOUR).filter(sunday)).toEqual([]);
    // What the weekly profile adds: without it, the busy Sunday is just another working day.
    const noWeekly = { model_configs: [{ model_name: 'Conformal', model_tag: 'conformal_default', model_params: { weekly_phase: false } }] };
    expect(alertsOf(weekdays(43 * 24, 4, SUNDAY), HOUR, noWeekly).filter(sunday)).toEqual([]);
  });
});
