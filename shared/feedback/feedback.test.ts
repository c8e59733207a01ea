import { describe, expect, it } from 'vitest';
import { suppressedBy, withoutFalseAlarms, type Verdict } from './feedback.js';

const H = 3_600_000;
const t = (hours: number): Date => new Date(Date.UTC(2026, 0, 1) + hours * H);
const down = (hours: number, score: number | null, metric = 'm'): Verdict => ({ metric, t: t(hours), verdict: 'down', scoreSmooth: score });
const up = (hours: number, score: number, metric = 'm'): Verdict => ({ metric, t: t(hours), verdict: 'up', scoreSmooth: score });
const rule = { horizonMs: 24 * H };

describe('suppressedBy', () => {
  it('suppresses an alert no more unusual than a thumbs-down within the horizon, on that metric only', () => {
    const verdicts = [down(0, 0.9)];
    expect(suppressedBy(verdicts, 'm', t(1), 0.9, rule)?.by).toBe(verdicts[0]);
    expect(suppressedBy(verdicts, 'm', t(1), 0.91, rule)).toBeNull();
    expect(suppressedBy(verdicts, 'other', t(1), 0.5, rule)).toBeNull();
    expect(suppressedBy(verdicts, 'm', t(25), 0.5, rule)).toBeNull();
    // A verdict after the candidate (a backfill) or at the same time does not judge it.
    expect(suppressedBy(verdicts, 'm', t(0), 0.5, rule)).toBeNull();
    expect(suppressedBy(verdicts, 'm', t(1), 0.5, { horizonMs: 0 })).toBeNull();
  });

  it('ignores thumbs-downs on other alert types (no score) and lets a later confirmation override', () => {
    expect(suppressedBy([down(0, null)], 'm', t(1), 0.5, rule)).toBeNull();
    expect(suppressedBy([down(0, 0.9), up(1, 0.8)], 'm', t(2), 0.85, rule)).toBeNull();
    // A confirmation above the candidate's score, or older than the false alarm, does not.
    expect(suppressedBy([down(0, 0.9), up(1, 0.88)], 'm', t(2), 0.85, rule)).not.toBeNull();
    expect(suppressedBy([up(0, 0.8), down(1, 0.9)], 'm', t(2), 0.85, rule)?.by.t).toEqual(t(1));
  });
});

describe('withoutFalseAlarms', () => {
  it('drops exactly the thumbed-down points of each metric', () => {
    const series = new Map([
      ['m', [{ t: t(0).getTime(), v: 1 }, { t: t(1).getTime(), v: 99 }, { t: t(2).getTime(), v: 1 }]],
      ['n', [{ t: t(1).getTime(), v: 5 }]],
    ]);
    const { series: kept, excluded } = withoutFalseAlarms(series, [down(1, 0.9), up(2, 0.9)]);
    expect(excluded).toBe(1);
    expect(kept.get('m')!.map((p) => p.v)).toEqual([1, 1]);
    expect(kept.get('n')).toHaveLength(1);
  });
});
