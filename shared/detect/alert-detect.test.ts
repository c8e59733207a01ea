import { describe, expect, it } from 'vitest';
import { detectAlerts, explainSilence, trailingMean, type AlertDetectConfig, type AlertInputPoint } from './alert-detect.js';

const base: AlertDetectConfig = { threshold: 0.8, always: false, smoothN: 0, snoozeN: 3, snoozeMode: 'alert', recentN: 1 };

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

  it('in incident mode, holds while points stay at or above the threshold, and re-arms after snooze_n quiet points', () => {
    const incident = { ...base, snoozeMode: 'incident' as const, recentN: 20, snoozeN: 2 };
    // One long incident (gaps of 1 point below the threshold) alerts once; the alert mode alerts again at 4 and 7.
    const long = points([0.1, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9]);
    expect(detectAlerts(long, incident).alerts).toEqual([1]);
    expect(detectAlerts(long, { ...incident, snoozeMode: 'alert' }).alerts).toEqual([1, 4, 7]);
    // Three quiet points end the incident: the next exceedance is a new one.
    const two = points([0.9, 0.1, 0.1, 0.1, 0.9]);
    expect(detectAlerts(two, incident).alerts).toEqual([0, 4]);
    // An exceedance that was snoozed (not alerted) before the newest point still holds it.
    const held = points([0.1, 0.9, 0.9, 0.1, 0.9], [1]);
    expect(detectAlerts(held, { ...incident, recentN: 1 }).snoozed).toEqual([4]);
    expect(detectAlerts(held, { ...incident, recentN: 1, snoozeMode: 'alert' }).alerts).toEqual([4]);
  });

  it('with alert_always in incident mode, only alerts snooze (not every point)', () => {
    const input = points([0.1, 0.1, 0.1, 0.1]);
    expect(detectAlerts(input, { ...base, always: true, snoozeMode: 'incident', recentN: 4, snoozeN: 1 }).alerts).toEqual([0, 2]);
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

describe('explainSilence', () => {
  const why = (scores: number[], alerts: number[] = [], config = base, rows = scores.length) => {
    const input = points(scores, alerts);
    return explainSilence(input, detectAlerts(input, config), config, rows);
  };

  it('gives the best recent score against the threshold for a metric near it', () => {
    expect(why([0.1, 0.2, 0.7])).toEqual({
      reason: 'below threshold',
      detail: 'best smoothed score 0.7 over the newest 1 points < alert_threshold 0.8',
      bestScore: 0.7,
      threshold: 0.8,
    });
  });

  it('says snoozed when the score crossed but an alert fell within alert_snooze_n', () => {
    expect(why([0.9, 0.1, 0.95], [0])).toMatchObject({ reason: 'snoozed', bestScore: 0.95, detail: expect.stringContaining('alert_snooze_n (3)') });
  });

  it('says too little data without scored points, or with fewer than the smoothing window', () => {
    expect(why([], [], base, 12)).toMatchObject({ reason: 'too little data', detail: '12 rows but none scored yet (the score job needs a trained model)' });
    expect(why([], [], base, 0)).toMatchObject({ reason: 'too little data', detail: 'no rows in the alert window' });
    expect(why([0.5, 0.6], [], { ...base, smoothN: 3 })).toMatchObject({ reason: 'too little data', bestScore: 0.55 });
  });

  it('says nothing for a metric that alerted or one far below the threshold', () => {
    expect(why([0.1, 0.9])).toBeNull();
    expect(why([0.1, 0.2])).toBeNull();
  });
});
