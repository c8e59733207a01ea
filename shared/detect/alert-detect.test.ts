import { describe, expect, it } from 'vitest';
import { detectAlerts, trailingMean, type AlertDetectConfig, type AlertInputPoint } from './alert-detect.js';

const base: AlertDetectConfig = { threshold: 0.8, always: false, smoothN: 0, snoozeN: 3, recentN: 1 };

function points(scores: number[], alerts: number[] = []): AlertInputPoint[] {
  return scores.map((score, i) => ({ t: new Date(Date.UTC(2026, 0, 1, i)), value: i, score, alert: alerts.includes(i) }));
}

describe('trailingMean', () => {
  it('averages t and the n values before it, fewer at the start', () => {
    expect(trailingMean([1, 2, 3, 4], 2)).toEqual([1, 1.5, 2, 3]);
  });
  it('is the identity for n = 0', () => {
    expect(trailingMean([0.1, 0.9], 0)).toEqual([0.1, 0.9]);
  });
  it('gives exactly the threshold for equal scores (no drift)', () => {
    expect(trailingMean([0.8, 0.8, 0.8, 0.8, 0.8, 0.8], 3).every((x) => x >= 0.8)).toBe(true);
  });
});

describe('detectAlerts', () => {
  it('alerts on the newest point when its smoothed score reaches the threshold', () => {
    // Setup
    const input = points([0.1, 0.2, 0.1, 0.9]);
    // When
    const result = detectAlerts(input, base);
    // Then
    expect(result.alerts).toEqual([3]);
  });

  it('compares the smoothed score: the mean of t and alert_smooth_n points before it', () => {
    const input = points([0.1, 0.1, 0.1, 0.95]);
    expect(detectAlerts(input, { ...base, smoothN: 3 }).alerts).toEqual([]);
    expect(detectAlerts(input, { ...base, smoothN: 3 }).scoreSmooth[3]).toBeCloseTo(0.3125);
    const sustained = points([0.1, 0.9, 0.9, 0.9]);
    expect(detectAlerts(sustained, { ...base, smoothN: 2 }).alerts).toEqual([3]);
  });

  it('treats a score exactly at the threshold as an alert (>=)', () => {
    expect(detectAlerts(points([0.1, 0.8]), base).alerts).toEqual([1]);
  });

  it('looks only at the newest alert_recent_n points', () => {
    const input = points([0.9, 0.1, 0.1]);
    expect(detectAlerts(input, base).alerts).toEqual([]);
    expect(detectAlerts(input, { ...base, recentN: 3 }).alerts).toEqual([0]);
  });

  it('is snoozed by an alert row within alert_snooze_n points before t', () => {
    const input = points([0.1, 0.9, 0.1, 0.1, 0.9], [1]);
    expect(detectAlerts(input, { ...base, snoozeN: 3 }).alerts).toEqual([]);
    expect(detectAlerts(input, { ...base, snoozeN: 3 }).snoozed).toEqual([4]);
    // The earlier alert is 3 points back: snooze 2 does not reach it.
    expect(detectAlerts(input, { ...base, snoozeN: 2 }).alerts).toEqual([4]);
    expect(detectAlerts(input, { ...base, snoozeN: 0 }).alerts).toEqual([4]);
  });

  it('never alerts twice at the same point', () => {
    const input = points([0.1, 0.9], [1]);
    expect(detectAlerts(input, { ...base, snoozeN: 0 }).alerts).toEqual([]);
  });

  it('lets an alert found in this pass snooze the later recent points', () => {
    const input = points([0.1, 0.9, 0.9, 0.9, 0.9, 0.9]);
    expect(detectAlerts(input, { ...base, recentN: 5, snoozeN: 2 }).alerts).toEqual([1, 4]);
  });

  it('alerts whatever the score with alert_always, still snoozed', () => {
    expect(detectAlerts(points([0.1, 0.1]), { ...base, always: true }).alerts).toEqual([1]);
    expect(detectAlerts(points([0.1, 0.1], [0]), { ...base, always: true }).alerts).toEqual([]);
  });

  it('returns nothing for no points', () => {
    expect(detectAlerts([], base)).toEqual({ scoreSmooth: [], alerts: [], snoozed: [] });
  });
});
