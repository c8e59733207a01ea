import { describe, expect, it } from 'vitest';
import { detectThresholdBreaches, type ThresholdInputRow } from './detect.js';

const at = (i: number): Date => new Date(Date.UTC(2026, 0, 1, i));

function rows(metric: string, values: number[], start = 0): ThresholdInputRow[] {
  return values.map((value, i) => ({ metric_name: metric, metric_timestamp: at(start + i), metric_value: value }));
}

const thresholds = { cpu: { upper: 90, lower: 10 }, mem: { upper: 50 } };
const options = { batch: 'b', recentN: 1, snoozeN: 3 };

describe('detectThresholdBreaches', () => {
  it('writes a tholdalert row with the breach metadata for a value above upper', () => {
    // When
    const breaches = detectThresholdBreaches(rows('cpu', [50, 95]), thresholds, options);
    // Then
    expect(breaches).toHaveLength(1);
    expect(breaches[0]!.row).toEqual({
      metric_timestamp: at(1),
      metric_batch: 'b',
      metric_name: 'cpu',
      metric_type: 'tholdalert',
      metric_value: 1,
      metadata: {
        thresholds: { upper: 90, lower: 10 },
        breached_threshold_type: 'upper',
        breached_threshold_value: 90,
        metric_value_at_breach: 95,
      },
    });
  });

  it('compares strictly: a value at the bound is not a breach', () => {
    expect(detectThresholdBreaches(rows('cpu', [90]), thresholds, options)).toEqual([]);
    expect(detectThresholdBreaches(rows('cpu', [10]), thresholds, options)).toEqual([]);
    expect(detectThresholdBreaches(rows('cpu', [9.99]), thresholds, options)[0]!.type).toBe('lower');
  });

  it('checks upper before lower (one breach per row)', () => {
    const crossed = { x: { upper: 5, lower: 10 } };
    const breaches = detectThresholdBreaches(rows('x', [7]), crossed, options);
    expect(breaches.map((b) => b.type)).toEqual(['upper']);
  });

  it('ignores metrics without thresholds and excluded metrics', () => {
    expect(detectThresholdBreaches(rows('disk', [1e9]), thresholds, options)).toEqual([]);
    expect(detectThresholdBreaches(rows('cpu', [99]), thresholds, { ...options, exclude: ['cpu'] })).toEqual([]);
  });

  it('checks only the newest tholdalert_recent_n rows of each metric', () => {
    const input = rows('cpu', [99, 50, 50]);
    expect(detectThresholdBreaches(input, thresholds, options)).toEqual([]);
    expect(detectThresholdBreaches(input, thresholds, { ...options, recentN: 3 })).toHaveLength(1);
  });

  it('is snoozed by a tholdalert row in the table within snooze_n points before it', () => {
    const history = new Map([['cpu', [at(0), at(1), at(2)]]]);
    const existing = new Map([['cpu', [at(1)]]]);
    const input = rows('cpu', [99], 3);
    expect(detectThresholdBreaches(input, thresholds, { ...options, history, existing })).toEqual([]);
    // Four points later the earlier alert is out of the snooze.
    const later = rows('cpu', [99], 5);
    const longer = new Map([['cpu', [at(0), at(1), at(2), at(3), at(4)]]]);
    expect(detectThresholdBreaches(later, thresholds, { ...options, history: longer, existing })).toHaveLength(1);
  });

  it('never writes a second tholdalert at a time that has one', () => {
    const existing = new Map([['cpu', [at(0)]]]);
    expect(detectThresholdBreaches(rows('cpu', [99]), thresholds, { ...options, snoozeN: 0, existing })).toEqual([]);
  });

  it('snoozes within one call: a breach holds back the next snooze_n rows', () => {
    const input = rows('cpu', [99, 99, 99, 99, 99]);
    const breaches = detectThresholdBreaches(input, thresholds, { ...options, recentN: 5, snoozeN: 2 });
    expect(breaches.map((b) => b.timestamp)).toEqual([at(0), at(3)]);
  });

  it('handles several metrics, in name order', () => {
    const input = [...rows('mem', [60]), ...rows('cpu', [5])];
    const breaches = detectThresholdBreaches(input, thresholds, options);
    expect(breaches.map((b) => [b.metricName, b.type, b.bound])).toEqual([
      ['cpu', 'lower', 10],
      ['mem', 'upper', 50],
    ]);
  });
});
