import { describe, expect, it } from 'vitest';
import { parseFrequency } from './frequency.js';
import { preprocess, type Point } from './preprocess.js';
import { DEFAULT_PREPROCESS, type PreprocessParams } from './types.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1, 0, 3); // 00:03, off any 5-minute boundary
const series = (values: number[], step = MINUTE): Point[] => values.map((v, i) => ({ t: T0 + i * step, v }));
const rows = (X: { n: number; d: number; data: Float64Array }): number[][] =>
  Array.from({ length: X.n }, (_, i) => Array.from(X.data.subarray(i * X.d, (i + 1) * X.d)));
const params = (p: Partial<PreprocessParams>): PreprocessParams => ({ ...DEFAULT_PREPROCESS, ...p });

// Expected values are pandas': diff(), rolling(window).mean() (min_periods = window), shift(), dropna().
describe('preprocess', () => {
  const values = [1, 2, 4, 7, 11, 16, 22, 29, 37, 46]; // diffs 1..9, smoothed (3) 2..8

  it('builds [value, lag_1..lag_n] of the smoothed diff and drops incomplete rows', () => {
    const X = preprocess(series(values), DEFAULT_PREPROCESS);
    expect(X.d).toBe(6);
    expect(rows(X)).toEqual([
      [7, 6, 5, 4, 3, 2],
      [8, 7, 6, 5, 4, 3],
    ]);
    expect(Array.from(X.timestamps)).toEqual([T0 + 8 * MINUTE, T0 + 9 * MINUTE]);
  });

  it('loses diff_n + smooth_n - 1 + lags_n leading rows', () => {
    expect(preprocess(series(values), params({ lags_n: 2 })).n).toBe(values.length - 5);
    expect(rows(preprocess(series(values), params({ diff_n: 0, smooth_n: 0, lags_n: 0 })))).toEqual(values.map((v) => [v]));
    expect(rows(preprocess(series(values), params({ diff_n: 2, smooth_n: 0, lags_n: 1 })))[0]).toEqual([5, 3]);
  });

  it('sorts by time and averages duplicate timestamps', () => {
    const points = series(values).reverse();
    points.push({ t: T0 + 9 * MINUTE, v: 48 }); // duplicate of the newest: mean 47
    const X = preprocess(points, params({ smooth_n: 0, lags_n: 0 }));
    expect(rows(X).flat()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
  });

  it('resamples by mean, dropping empty bins', () => {
    // Bins count from midnight: 00:00, 00:05, 00:10, ... ; the 00:10 bin is empty.
    const points = [
      { t: T0, v: 1 }, // 00:03
      { t: T0 + MINUTE, v: 3 }, // 00:04 -> bin 00:00 mean 2
      { t: T0 + 3 * MINUTE, v: 10 }, // 00:06 -> bin 00:05
      { t: T0 + 12 * MINUTE, v: 20 }, // 00:15
      { t: T0 + 18 * MINUTE, v: 30 }, // 00:21 -> bin 00:20
    ];
    const X = preprocess(points, params({ freq: '5min', diff_n: 0, smooth_n: 0, lags_n: 0 }));
    expect(rows(X).flat()).toEqual([2, 10, 20, 30]);
    expect(Array.from(X.timestamps).map((t) => new Date(t).toISOString().slice(11, 16))).toEqual(['00:00', '00:05', '00:15', '00:20']);
  });

  it('resamples by sum, turning empty bins into 0', () => {
    const points = [
      { t: T0, v: 1 },
      { t: T0 + MINUTE, v: 3 },
      { t: T0 + 12 * MINUTE, v: 20 },
    ];
    const X = preprocess(points, params({ freq: '5T', freq_agg: 'sum', diff_n: 0, smooth_n: 0, lags_n: 0 }));
    expect(rows(X).flat()).toEqual([4, 0, 0, 20]);
  });

  it('a missing bin breaks the diff, smoothing and lags around it', () => {
    const points = series([1, 2, 4, 8, 16, 32, 64, 128], 5 * MINUTE).filter((_, i) => i !== 3);
    const X = preprocess(points, params({ freq: '5min', smooth_n: 1, lags_n: 1 }));
    // diffs: [nan, 1, 2, nan, nan, 16, 32, 64] -> complete rows at indexes 2, 6 and 7
    expect(rows(X)).toEqual([
      [2, 1],
      [32, 16],
      [64, 32],
    ]);
  });

  it('reads pandas offset aliases and rejects calendar ones', () => {
    expect(parseFrequency('5min')).toBe(5 * MINUTE);
    expect(parseFrequency('10T')).toBe(10 * MINUTE);
    expect(parseFrequency('H')).toBe(60 * MINUTE);
    expect(parseFrequency('1h')).toBe(60 * MINUTE);
    expect(parseFrequency('1D')).toBe(1440 * MINUTE);
    expect(parseFrequency('30s')).toBe(30_000);
    expect(() => parseFrequency('1M')).toThrow(/unsupported freq '1M'/);
    expect(() => parseFrequency('W')).toThrow(/unsupported freq/);
    expect(() => parseFrequency('0min')).toThrow(/positive/);
  });

  it('returns an empty matrix for too few points', () => {
    expect(preprocess(series([1, 2, 3]), DEFAULT_PREPROCESS).n).toBe(0);
    expect(preprocess([], params({ freq: '1h' })).n).toBe(0);
  });
});
