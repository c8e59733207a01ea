import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDefaultBatch } from '../config/load-batches.js';
import { detectAlerts } from '../detect/alert-detect.js';
import type { MetricRow } from '../models/backtest.js';
import { parseLabels, scoreWithLabels } from './labels.js';
import { formatBacktestCsv } from './output.js';
import { runBacktest } from './run.js';
import { trainRuns } from './schedule.js';
import { backtestSettings, type BacktestSettings } from './settings.js';

const defaultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'defaults');
const START = Date.UTC(2026, 0, 1);
const STEP = 300_000;

function settings(overrides: Record<string, unknown> = {}): BacktestSettings {
  const { batch, problems } = loadDefaultBatch({ defaultsDir, env: {}, overrides: { train_cron_schedule: '0 0 * * *', ...overrides } });
  expect(problems).toEqual([]);
  return backtestSettings(batch!);
}

/** A daily wave with noise (deterministic), 5-minute points. */
function series(name: string, n: number, spikeAt = -1): MetricRow[] {
  return Array.from({ length: n }, (_, i) => ({
    metric_name: name,
    metric_timestamp: START + i * STEP,
    metric_value: i === spikeAt ? 500 : 100 + 10 * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 13) / 4,
  }));
}

describe('trainRuns', () => {
  it('gives the daily cron runs inside the series', () => {
    const t = Array.from({ length: 3 * 288 }, (_, i) => START + 60_000 + i * STEP);
    expect(trainRuns('0 0 * * *', t)).toEqual([START + 86_400_000, START + 2 * 86_400_000]);
  });
  it('keeps one run per new point when the cron is denser than the points', () => {
    const t = [START, START + 3_600_000, START + 7_200_000];
    expect(trainRuns('* * * * *', t)).toEqual(t);
  });
});

describe('runBacktest', () => {
  it('scores each point only with models fitted on earlier points (later points change nothing before them)', () => {
    const s = settings();
    const rows = series('m', 700);
    const changed = rows.map((r, i) => (i >= 400 ? { ...r, metric_value: r.metric_value * 3 } : r));
    const a = runBacktest(rows, s);
    const b = runBacktest(changed, s);
    expect(Array.from(a.score.subarray(0, 400))).toEqual(Array.from(b.score.subarray(0, 400)));
    expect(Array.from(a.score.subarray(400))).not.toEqual(Array.from(b.score.subarray(400)));
  });

  it('leaves the score empty until the first model, which the chained train fits at train_min_n points', () => {
    const s = settings();
    const result = runBacktest(series('m', 100), s);
    const first = result.score.findIndex((x) => !Number.isNaN(x));
    // train_min_n points train the first model; it scores the next point (raw windows: no rows lost).
    expect(first).toBe(s.pipeline.trainMinN);
    expect(result.metrics[0]).toMatchObject({ name: 'm', rows: 100, points: 100, scored: 100 - first });
  });

  it('gives each input row, in input order, its point: rows shuffled and duplicated get the same answers', () => {
    const s = settings();
    const rows = [...series('a', 400, 350), ...series('b', 300)];
    const base = runBacktest(rows, s);
    const order = rows.map((_, i) => i).sort((x, y) => ((x * 7) % 11) - ((y * 7) % 11) || x - y);
    const shuffled = [...order.map((i) => rows[i]!), rows[10]!];
    const again = runBacktest(shuffled, s);
    order.forEach((i, j) => {
      expect(again.score[j]).toEqual(base.score[i]);
      expect(again.alert[j]).toBe(base.alert[i]);
    });
    expect(again.score[shuffled.length - 1]).toEqual(base.score[10]);
    const lines = formatBacktestCsv(shuffled, again).trim().split('\n');
    expect(lines[0]).toBe('metric_name,metric_timestamp,metric_value,metric_score,alert');
    expect(lines).toHaveLength(shuffled.length + 1);
  });

  it('alerts by the alert job rule on the stored scores, and on a lone spike at the spike', () => {
    const s = settings();
    const result = runBacktest(series('m', 600, 500), s);
    const scored = Array.from(result.score).flatMap((score, i) => (Number.isNaN(score) ? [] : [{ i, score }]));
    const job = detectAlerts(
      scored.map(({ score }) => ({ t: new Date(0), value: 0, score, alert: false })),
      s.alert,
    );
    const alerted = Array.from(result.alert).flatMap((a, i) => (a === 1 ? [i] : []));
    expect(alerted).toEqual(job.alerts.map((k) => scored[k]!.i));
    expect(alerted).toContain(500);
    // Stored as the score job stores a calibrated (Conformal) score: score_metric_rounding places, not the original's 3.
    const places = s.scoreRounding;
    expect(scored.every(({ score }) => Math.round(score * 10 ** places) / 10 ** places === score)).toBe(true);
    expect(scored.some(({ score }) => Math.round(score * 1000) / 1000 !== score)).toBe(true);
  });
});

describe('labels', () => {
  it('scores the alerts as NAB does, windows moved onto the rows', () => {
    const s = settings();
    const rows = series('m', 3000, 2500);
    const result = runBacktest(rows, s);
    const at = (i: number): string => new Date(START + i * STEP + 1000).toISOString();
    const scores = scoreWithLabels(rows, result, parseLabels(JSON.stringify({ m: [[at(2450), at(2550)]], other: [] })));
    expect(scores.alerts.standard.files[0]!.tp).toBe(1);
    expect(scores.missing).toEqual(['other']);
    expect(() => parseLabels('{"m": [["2026-01-02", "yesterday"]]}')).toThrow('m window 1');
  });
});
