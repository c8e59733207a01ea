import { describe, expect, it } from 'vitest';
import { detectChanges, madScores, median, type ChangeDetectConfig, type ChangeInputPoint } from './change-detect.js';

const base: ChangeDetectConfig = { threshold: 3.5, smoothN: 0, detectLastN: 1, snoozeN: 3 };

function points(values: number[], changes: number[] = []): ChangeInputPoint[] {
  return values.map((value, i) => ({ t: new Date(Date.UTC(2026, 0, 1, i)), value, change: changes.includes(i) }));
}

// A noisy level around 10.
const level = [10, 11, 9, 10, 12, 10, 11, 9, 10, 10.5];

describe('median', () => {
  it('is numpy median: middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });
});

describe('madScores', () => {
  it('matches PyOD MAD: 0.6745 |x - median| / median absolute deviation', () => {
    // Expected values computed with numpy by pyod/models/mad.py's formula.
    const scores = madScores(level, [10, 13, 30, 10.25]);
    expect(scores[0]).toBe(0);
    expect(scores[1]).toBeCloseTo(2.698, 12);
    expect(scores[2]).toBeCloseTo(17.986666666666668, 12);
    expect(scores[3]).toBeCloseTo(0.22483333333333333, 12);
  });

  it('follows np.nan_to_num on a zero deviation: 0/0 is 0, x/0 the largest double', () => {
    expect(madScores([5, 5, 5, 5], [5, 6])).toEqual([0, Number.MAX_VALUE]);
  });
});

describe('detectChanges', () => {
  it('flags a level shift in the newest point', () => {
    // Setup
    const input = points([...level, 30]);
    // When
    const result = detectChanges(input, base);
    // Then
    expect(result.changes).toEqual([10]);
    expect(result.scores[10]).toBeCloseTo(17.986666666666668, 10);
  });

  it('does not flag ordinary noise', () => {
    expect(detectChanges(points([...level, 11]), base).changes).toEqual([]);
  });

  it('scores smoothed values when change_smooth_n is set', () => {
    const input = points([...level, 30]);
    const result = detectChanges(input, { ...base, smoothN: 1 });
    // The newest smoothed value is (10.5 + 30) / 2.
    expect(result.smoothed[10]).toBeCloseTo(20.25);
    expect(result.changes).toEqual([10]);
  });

  it('scores the newest change_detect_last_n points against the earlier ones', () => {
    const input = points([...level, 30, 31, 29]);
    expect(detectChanges(input, { ...base, detectLastN: 3, snoozeN: 0 }).changes).toEqual([10, 11, 12]);
    // With a snooze, the first change holds back the next snooze_n points of this pass.
    expect(detectChanges(input, { ...base, detectLastN: 3, snoozeN: 3 }).changes).toEqual([10]);
  });

  it('is snoozed while a change row is among the newest change_snooze_n points', () => {
    const input = points([...level, 30, 30], [10]);
    const result = detectChanges(input, base);
    expect(result.changes).toEqual([]);
    expect(result.reason).toMatch(/snoozed/);
    expect(detectChanges(input, { ...base, snoozeN: 0 }).changes).toEqual([11]);
  });

  it('waits when there are too few points to fit on', () => {
    const result = detectChanges(points([1, 2, 30]), base);
    expect(result.changes).toEqual([]);
    expect(result.reason).toMatch(/needs at least/);
  });

  it('flags any move off a flat line (the deviation is zero)', () => {
    expect(detectChanges(points([5, 5, 5, 5, 5, 6]), base).changes).toEqual([5]);
    expect(detectChanges(points([5, 5, 5, 5, 5, 5]), base).changes).toEqual([]);
  });
});
