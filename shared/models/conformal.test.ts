import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from './codec.js';
import { detectorWeights, tailProbability, weightedBonferroni, type ConformalState } from './conformal.js';
import { preprocess } from './preprocess.js';
import { Random } from './random.js';
import { expectedBand, fitModel, firedDetectors, scoreModel } from './registry.js';
import { sliceRows, type FeatureMatrix } from './types.js';

const CONFORMAL = { model_name: 'Conformal', model_tag: 'c', model_params: {} };
const RAW_WINDOWS = { diff_n: 0, smooth_n: 0, lags_n: 5, freq: null, freq_agg: 'mean' } as const;
/** The default Conformal row: 12 values, the KNN window the newest 6 of them. */
const DEFAULT_ROWS = { ...RAW_WINDOWS, lags_n: 11 } as const;
const MIN5 = 300_000;

/** A daily sine (288 points a day) with uniform noise. */
function dailySeries(n: number, seed: number, noise = 0.1): { t: Float64Array; v: Float64Array } {
  const random = new Random(seed);
  const t = Float64Array.from({ length: n }, (_, i) => i * MIN5);
  const v = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / 288) + noise * (random.next() - 0.5));
  return { t, v };
}

/** About standard normal (the sum of 12 uniforms). */
function gaussian(random: Random): number {
  let sum = 0;
  for (let k = 0; k < 12; k++) {
    sum += random.next();
  }
  return sum - 6;
}

const windows = (series: { t: Float64Array; v: Float64Array }): FeatureMatrix => preprocess(series, RAW_WINDOWS);

/** The default rows of `series`, a model fitted on the first `trainN`, the scores of the rest and the row of point `point` among them. */
function fitDefaultRows(series: { t: Float64Array; v: Float64Array }, trainN: number, point: number, params: Record<string, unknown> = {}) {
  const X = preprocess(series, DEFAULT_ROWS);
  const model = fitModel({ ...CONFORMAL, model_params: params }, sliceRows(X, 0, trainN));
  const test = sliceRows(X, trainN, X.n);
  return { model, test, scores: scoreModel(model, test), at: test.timestamps.indexOf(point * MIN5) };
}

describe('Conformal', () => {
  it('scores new data from the training distribution as calibrated tail probabilities', () => {
    const X = windows(dailySeries(3500, 1));
    const model = fitModel(CONFORMAL, sliceRows(X, 0, 2500));
    const scores = scoreModel(model, sliceRows(X, 2500, X.n));
    const share = (t: number): number => scores.filter((s) => s >= t).length / scores.length;
    // P(score >= 1 - a) should be about a; loose bounds (neighbouring windows are not independent).
    expect(share(0.9)).toBeGreaterThan(0.04);
    expect(share(0.9)).toBeLessThan(0.2);
    expect(share(0.99)).toBeLessThan(0.03);
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
  });

  it('flags a spike at the spike, not at the points after it', () => {
    const series = dailySeries(3000, 2);
    series.v[2800] = series.v[2800]! + 1; // ten times the noise amplitude, inside the normal range of values
    const X = windows(series);
    const model = fitModel(CONFORMAL, sliceRows(X, 0, 2500));
    const test = sliceRows(X, 2500, X.n);
    const scores = scoreModel(model, test);
    const at = test.timestamps.indexOf(2800 * MIN5);
    expect(scores[at]).toBeGreaterThan(0.999);
    expect(Math.max(...scores.slice(at - 100, at))).toBeLessThan(0.999);
  });

  it('scores a change of a flat series as certain and the flat value as normal', () => {
    const flat = { t: Float64Array.from({ length: 100 }, (_, i) => i * MIN5), v: new Float64Array(100).fill(5) };
    const model = fitModel(CONFORMAL, windows(flat));
    const probe = windows({ t: flat.t.slice(0, 7), v: Float64Array.of(5, 5, 5, 5, 5, 5, 5.01) });
    // The smallest p (1e-12, the window's) over the window's share of the budget.
    expect(Array.from(scoreModel(model, probe))).toEqual([0, 1 - 1e-12 / 0.8]);
  });

  it('flags a run of identical values in a metric that never repeats one, not in a metric that often sits still', () => {
    const stuck = (series: { t: Float64Array; v: Float64Array }, from: number, n: number): void => {
      series.v.fill(series.v[from]!, from, from + n);
    };
    const noisy = dailySeries(600, 5);
    stuck(noisy, 560, 14);
    const { model, test, scores, at } = fitDefaultRows(noisy, 500, 560);
    // No repeat among the 50 rows nearest its level: p(run of r) = (r - 1)! 50! / (50 + r - 1)!, which must pass
    // 0.001 x 0.1 (the flatline's share): 7.5e-4 at the 3rd value, 4.3e-5 at the 4th (a prior of 1/2 per point: the 7th).
    expect(Math.max(...scores.slice(at, at + 3))).toBeLessThan(0.999);
    expect(scores[at + 3]).toBeGreaterThan(0.999);
    expect(firedDetectors(model, test)?.[at + 3]).toBe('flatline');
    expect(Math.max(...scores.slice(0, at))).toBeLessThan(0.999);
    // A metric that holds its value for stretches of 20 points every other 20: a stuck stretch is business as usual.
    const noise = new Random(6);
    const pausing = { t: noisy.t, v: new Float64Array(600) };
    for (let i = 1; i < 600; i++) {
      pausing.v[i] = Math.floor(i / 20) % 2 === 0 ? pausing.v[i - 1]! : noise.next();
    }
    const P = preprocess(pausing, DEFAULT_ROWS);
    const held = sliceRows(P, 500, P.n);
    const heldScores = scoreModel(fitModel(CONFORMAL, sliceRows(P, 0, 500)), held);
    const repeats = Array.from(heldScores).filter((_, i) => held.data[i * P.d] === held.data[i * P.d + 1]);
    expect(repeats.length).toBeGreaterThan(30);
    expect(Math.max(...repeats)).toBeLessThan(0.999);
  });

  it('flags a stuck run on a first model of 16 rows by its 6th value, and keeps flagging it', () => {
    // White noise stuck at its middle: a flat window there is no stranger to the KNN than a noisy one.
    const random = new Random(8);
    const series = { t: Float64Array.from({ length: 60 }, (_, i) => i * MIN5), v: Float64Array.from({ length: 60 }, () => random.next()) };
    series.v.fill(0.5, 40, 60);
    const { model, test, scores, at } = fitDefaultRows(series, 16, 40, { daily_phase: false });
    // The Polya chain over 16 rows without a repeat: p = 2e-4 at the 5th stuck value, 4.9e-5 at the 6th (a prior of 1/2 per point: the 12th).
    expect(Math.max(...scores.slice(at, at + 5))).toBeLessThan(0.999);
    expect(scores[at + 5]).toBeGreaterThan(0.999);
    expect(firedDetectors(model, test)?.[at + 5]).toBe('flatline');
    expect(Math.min(...scores.slice(at + 5))).toBeGreaterThan(0.999);
  });

  it('scores with a model saved before the level-local run rates by the run probabilities it stored', () => {
    const random = new Random(10);
    const series = { t: Float64Array.from({ length: 60 }, (_, i) => i * MIN5), v: Float64Array.from({ length: 60 }, () => random.next()) };
    series.v.fill(0.5, 40, 60);
    const { model, test, at } = fitDefaultRows(series, 30, 40, { daily_phase: false });
    const { runLevels: _l, repeatLevels: _r, repeatRuns: _u, runCounts: _c, ...saved } = model.state as ConformalState;
    // The old chain for 30 rows without a repeat: 1/31, then a half per point.
    const flatP = Float64Array.from({ length: 12 }, (_, r) => (r < 2 ? 1 : 2 ** -(r - 2) / 31));
    const old = { ...model, state: { ...saved, flatP } };
    const scores = scoreModel(old, test);
    // p = 2^-9 / 31 at the 11th stuck value, 6.3e-5: the first below 1e-4 (the new rates pass at the 5th).
    expect(Math.max(...scores.slice(at, at + 10))).toBeLessThan(0.999);
    expect(firedDetectors(old, test)?.[at + 10]).toBe('flatline');
    expect(scoreModel(model, test)[at + 4]).toBeGreaterThan(0.999);
  });

  it('scores longer rows with a model saved when the row was the window (its runs capped at the window)', () => {
    const series = dailySeries(700, 9);
    series.v.fill(series.v[650]!, 650, 670);
    const narrow = windows(series);
    const model = fitModel(CONFORMAL, sliceRows(narrow, 0, 500));
    const wide = preprocess(series, DEFAULT_ROWS);
    const test = sliceRows(wide, 500 - 6, wide.n);
    const narrowTest = sliceRows(narrow, 500, narrow.n);
    expect(test.timestamps).toEqual(narrowTest.timestamps);
    // The window, the jump and the capped run read the same values: the same scores as on its own rows.
    expect(Array.from(scoreModel(model, test))).toEqual(Array.from(scoreModel(model, narrowTest)));
    expect(expectedBand(model, test)).not.toBeNull();
  });

  it('flags a level shift on its first points even when the new level is within the normal range', () => {
    const series = dailySeries(3000, 7);
    for (let i = 2800; i < 3000; i++) {
      series.v[i] = series.v[i]! + 0.6; // six times the noise, well inside the daily swing of +-1
    }
    const X = windows(series);
    const model = fitModel(CONFORMAL, sliceRows(X, 0, 2500));
    const test = sliceRows(X, 2500, X.n);
    const scores = scoreModel(model, test);
    const at = test.timestamps.indexOf(2800 * MIN5);
    expect(Math.max(...scores.slice(at, at + 3))).toBeGreaterThan(0.999);
    expect(Math.max(...scores.slice(at - 200, at))).toBeLessThan(0.999);
    // Which detector fired on the shift's first point: a jump this size is about as novel to the window.
    expect(firedDetectors(model, test)?.[at]).toMatch(/^(window|jump)$/);
  });

  it('with daily_phase, flags a normal-looking stretch at the wrong time of day', () => {
    const series = dailySeries(3000, 4);
    // Around 06:00 (phase pi / 2, the daily peak) the values are ~1; put that stretch at 18:00 (the trough).
    const trough = 2800 + ((216 - (2800 % 288)) + 288) % 288;
    for (let j = -3; j <= 3; j++) {
      series.v[trough + j] = series.v[trough + j - 144]!;
    }
    const X = windows(series);
    const test = sliceRows(X, 2500, X.n);
    const at = test.timestamps.indexOf(trough * MIN5);
    const plain = scoreModel(fitModel({ ...CONFORMAL, model_params: { daily_phase: false } }, sliceRows(X, 0, 2500)), test);
    const phased = scoreModel(fitModel({ ...CONFORMAL, model_params: { daily_phase: true } }, sliceRows(X, 0, 2500)), test);
    // The jump into the stretch is novel either way; inside it, only the time of day tells.
    expect(plain[at + 3]).toBeLessThan(0.99);
    expect(phased[at + 3]).toBeGreaterThan(0.999);
  });

  it('learns a weekly profile only from rows that span two weeks and show a weekly pattern', () => {
    const HOUR = 3_600_000;
    const random = new Random(8);
    let walk = 0;
    const series = (n: number, value: (i: number) => number): FeatureMatrix =>
      windows({ t: Float64Array.from({ length: n }, (_, i) => i * HOUR), v: Float64Array.from({ length: n }, (_, i) => value(i)) });
    const daily = (i: number): number => Math.sin((2 * Math.PI * i) / 24) + random.next() - 0.5;
    // Days 2 and 3 of every week (from the epoch, a Thursday) sit 1.5 lower: a weekend.
    const weekly = (i: number): number => daily(i) - (Math.floor(i / 24) % 7 >= 2 && Math.floor(i / 24) % 7 <= 3 ? 1.5 : 0);
    const stateOf = (X: FeatureMatrix, params: Record<string, unknown> = {}): { weekly?: unknown; w: number } =>
      fitModel({ ...CONFORMAL, model_params: params }, X).state as { weekly?: unknown; w: number };
    expect(stateOf(series(6 * 7 * 24, weekly)).weekly).toBeDefined();
    expect(stateOf(series(6 * 7 * 24, weekly), { weekly_phase: false }).weekly).toBeUndefined();
    expect(stateOf(series(13 * 24, weekly)).weekly).toBeUndefined(); // under two weeks
    expect(stateOf(series(6 * 7 * 24, daily)).weekly).toBeUndefined();
    // A random walk's days differ, but not by weekday: the test does not mistake a drift for a week.
    expect(stateOf(series(6 * 7 * 24, () => (walk += random.next() - 0.5))).weekly).toBeUndefined();
    // The profile takes the weekly part out of the values: the stored row is no wider.
    expect(stateOf(series(6 * 7 * 24, weekly)).w).toBe(stateOf(series(6 * 7 * 24, daily)).w);
  });

  it('adds the time-of-day columns only to rows that show a daily cycle', () => {
    const random = new Random(10);
    let walk = 0;
    const widthOf = (value: (i: number) => number): number => {
      const series = { t: Float64Array.from({ length: 1000 }, (_, i) => i * MIN5), v: Float64Array.from({ length: 1000 }, (_, i) => value(i)) };
      return (fitModel(CONFORMAL, windows(series)).state as { w: number }).w;
    };
    // 1000 5-minute points: three and a half days, lag windows of 6 values (lags_n 5).
    expect(widthOf((i) => Math.sin((2 * Math.PI * i) / 288) + 0.5 * (random.next() - 0.5))).toBe(8);
    expect(widthOf(() => random.next())).toBe(6);
    expect(widthOf(() => (walk += random.next() - 0.5))).toBe(6);
  });

  it('keeps the weekly profile through the model codec, and scores a model saved before it', () => {
    const HOUR = 3_600_000;
    const random = new Random(9);
    const n = 6 * 7 * 24;
    const X = windows({
      t: Float64Array.from({ length: n }, (_, i) => i * HOUR),
      v: Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / 24) + random.next() - 0.5 - (Math.floor(i / 24) % 7 < 2 ? 1.5 : 0)),
    });
    const model = fitModel(CONFORMAL, sliceRows(X, 0, n - 100));
    const test = sliceRows(X, n - 100, X.n);
    const decoded = decodeModel(encodeModel(model));
    expect((decoded.state as { weekly?: { table: Float64Array } }).weekly?.table).toEqual((model.state as { weekly?: { table: Float64Array } }).weekly?.table);
    expect(Array.from(scoreModel(decoded, test))).toEqual(Array.from(scoreModel(model, test)));
    const { weekly, ...before } = model.state as { weekly?: unknown };
    expect(weekly).toBeDefined();
    const scores = scoreModel({ ...model, state: before }, test);
    expect(scores.every((x) => x >= 0 && x <= 1)).toBe(true);
  });

  it('gives the expected range of each value from what followed similar contexts, in value units', () => {
    const series = dailySeries(3000, 5);
    series.v[2800] = 5; // a spike: its own value must not pull the range
    const X = windows(series);
    const test = sliceRows(X, 2500, X.n);
    const band = expectedBand(fitModel(CONFORMAL, sliceRows(X, 0, 2500)), test)!;
    const at = test.timestamps.indexOf(2800 * MIN5);
    // The wave at point 2800 is sin(2 pi 2800 / 288) ~ -0.77 (noise +-0.05); the range is near it, far from 5.
    const wave = Math.sin((2 * Math.PI * 2800) / 288);
    expect(band.lo[at]).toBeLessThan(wave + 0.15);
    expect(band.hi[at]).toBeGreaterThan(wave - 0.15);
    expect(band.hi[at]! - band.lo[at]!).toBeLessThan(0.5);
    expect(band.hi[at]).toBeLessThan(1);
    // Ordinary points mostly fall inside their range.
    let inside = 0;
    for (let i = 0; i < test.n; i++) {
      const v = test.data[i * test.d]!;
      inside += v >= band.lo[i]! && v <= band.hi[i]! ? 1 : 0;
    }
    expect(inside / test.n).toBeGreaterThan(0.6);
  });

  it('calibrates a random walk against its own past, so its next points are not a stream of 1-in-1000 windows', () => {
    // The symmetric calibration let each training window find neighbours in the walk's future (where
    // it came back), which a new point never can: 3 of these 5 walks then put over 2% of their next
    // 250 points at 0.999 or above. A walk that leaves its whole training range is novel under any
    // calibration of raw levels (one of the 5 here); no other may.
    const walk = (seed: number): { t: Float64Array; v: Float64Array } => {
      const random = new Random(seed);
      let x = 0;
      return { t: Float64Array.from({ length: 800 }, (_, i) => i * MIN5), v: Float64Array.from({ length: 800 }, () => (x += gaussian(random))) };
    };
    const noisy = [1, 2, 3, 4, 5].filter((seed) => {
      const X = windows(walk(seed));
      const scores = scoreModel(fitModel(CONFORMAL, sliceRows(X, 0, 500)), sliceRows(X, 500, 750));
      return scores.filter((s) => s >= 0.999).length > 0.02 * scores.length;
    });
    expect(noisy.length).toBeLessThanOrEqual(1);
  });

  it('does not call the next extreme of a short history certain (a 16-row model of white noise)', () => {
    // A 16-row calibration has one or two values over its 90th percentile; the moment fit's
    // exponential tail from them had put 16 of these 920 ordinary points at 0.999 or above.
    let alerts = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const random = new Random(seed);
      const X = windows({ t: Float64Array.from({ length: 200 }, (_, i) => i * MIN5), v: Float64Array.from({ length: 200 }, () => gaussian(random)) });
      alerts += scoreModel(fitModel(CONFORMAL, sliceRows(X, 0, 16)), sliceRows(X, 16, X.n)).filter((s) => s >= 0.999).length;
    }
    expect(alerts).toBe(0);
  });

  it('does not call ordinary counts certain when a short calibration ties at its top (Poisson counts, 16 to 64 rows)', () => {
    // Small integer counts make calibrations like [.., 2, 2, 2] whose 90th percentile is their
    // maximum: with no value above it the tail had no excesses, and every larger value got p = 1e-12.
    const poisson = (random: Random, mean: number): number => {
      let k = 0;
      for (let p = random.next(); p > Math.exp(-mean); p *= random.next()) {
        k++;
      }
      return k;
    };
    let certain = 0;
    let alerts = 0;
    let scored = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const random = new Random(seed);
      const v = Float64Array.from({ length: 400 }, () => poisson(random, 2));
      const X = preprocess({ t: Float64Array.from({ length: 400 }, (_, i) => i * MIN5), v }, DEFAULT_ROWS);
      for (const trainN of [16, 32, 64]) {
        const scores = scoreModel(fitModel(CONFORMAL, sliceRows(X, 0, trainN)), sliceRows(X, trainN, X.n));
        certain += scores.filter((s) => s >= 1 - 1e-9).length;
        alerts += scores.filter((s) => s >= 0.999).length;
        scored += scores.length;
      }
    }
    expect(certain).toBe(0);
    expect(alerts).toBeLessThanOrEqual(0.002 * scored);
  });

  it('does not learn from a stuck run still going at the end of its training rows', () => {
    // A retrain a few points into a stuck run would otherwise count the run as this metric's normal.
    const random = new Random(21);
    const v = Float64Array.from({ length: 260 }, (_, i) => (i >= 200 ? 5.5 : gaussian(random)));
    const X = preprocess({ t: Float64Array.from({ length: 260 }, (_, i) => i * MIN5), v }, DEFAULT_ROWS);
    const fittedAt = X.timestamps.indexOf(203 * MIN5); // the run's first 4 points are training rows
    const model = fitModel(CONFORMAL, sliceRows(X, 0, fittedAt + 1));
    const later = sliceRows(X, fittedAt + 1, X.n);
    const scores = scoreModel(model, later);
    const fired = firedDetectors(model, later)!;
    const first = scores.findIndex((s) => s >= 0.999);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(8);
    expect(fired[first]).toBe('flatline');
  });

  it('keeps a run that is most of its training as normal (an error count that is nearly always 0)', () => {
    const v = Float64Array.from({ length: 400 }, (_, i) => (i === 11 ? 5 : 0)); // one blip, on the first row
    const X = preprocess({ t: Float64Array.from({ length: 400 }, (_, i) => i * MIN5), v }, DEFAULT_ROWS);
    const model = fitModel(CONFORMAL, sliceRows(X, 0, 300));
    const scores = scoreModel(model, sliceRows(X, 300, X.n));
    expect(Math.max(...scores)).toBeLessThan(0.999);
  });

  it('needs k neighbours outside each calibration window', () => {
    expect(() => fitModel(CONFORMAL, windows(dailySeries(20, 3)))).toThrow(/needs at least 16 training rows/);
  });
});

describe('weightedBonferroni', () => {
  it('gives the window 0.8 of the budget, jump and flatline 0.1 each, rescaled over the detectors that are on', () => {
    const all = detectorWeights({ jump: {}, flatP: new Float64Array(1) });
    expect(all.map((w) => +w.toFixed(12))).toEqual([0.8, 0.1, 0.1]);
    expect(detectorWeights({}).map((w) => +w.toFixed(12))).toEqual([1, 0, 0]);
    expect(detectorWeights({ jump: {} }).map((w) => +w.toFixed(12))).toEqual([0.888888888889, 0.111111111111, 0]);
    // A window p of 7e-4 alerts at 0.999 (an equal third each would have made it 0.0021); a jump's needs 1e-4.
    expect(weightedBonferroni([7e-4, 1, 1], all)).toBeLessThan(0.001);
    expect(weightedBonferroni([1, 2e-4, 1], all)).toBeGreaterThan(0.001);
    expect(weightedBonferroni([0.5, 1, 1e-5], all)).toBeCloseTo(1e-4, 12);
    expect(weightedBonferroni([1, 1, 1], all)).toBe(1);
  });
});

describe('tailProbability', () => {
  // 20 calibration values 1..20: the 90th percentile (index 18) is 19, one value (20) above it.
  const calibration = Float64Array.from({ length: 20 }, (_, i) => i + 1);
  const state = { calibration, tailU: 19, tailXi: 0, tailSigma: 1, tailShare: 2 / 21 };

  it('is the conformal p-value up to the tail threshold', () => {
    expect(tailProbability(state, 0)).toBe(1); // (20 + 1) / 21
    expect(tailProbability(state, 5)).toBeCloseTo(17 / 21, 12); // 16 values >= 5
    expect(tailProbability(state, 19)).toBeCloseTo(3 / 21, 12);
  });

  it('decays exponentially beyond it (xi = 0) and as a Pareto power (xi > 0)', () => {
    expect(tailProbability(state, 21)).toBeCloseTo((2 / 21) * Math.exp(-2), 12);
    expect(tailProbability({ ...state, tailXi: 0.5 }, 21)).toBeCloseTo((2 / 21) * (1 + 0.5 * 2) ** -2, 12);
    expect(tailProbability(state, 1e6)).toBe(1e-12);
  });
});
