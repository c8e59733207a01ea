import type { Detector, ExpectedBand } from './detector.js';
import { hasDailyCycle, learnWeekly, weeklyOffset, type WeeklyProfile } from './seasonal-phase.js';
import type { FeatureMatrix } from './types.js';

/**
 * Conformal KNN (after KNN-CAD, Burnaev & Ishimtsev 2016): the nonconformity of a row is the mean
 * distance from its (standardised) lag window to the k nearest training windows, and its score is
 * 1 - p, p the row's tail probability among calibration nonconformities, so a score means the same
 * on every series: 0.999 is "as unusual as 1 training window in 1000". Beyond the calibration's
 * 90th percentile the tail is a generalised Pareto fit (peaks over threshold, as SPOT), so p keeps
 * shrinking for windows stranger than any seen instead of stopping at 1 / (calibration + 1).
 *
 * Meant for raw lag windows (preprocess diff_n 0, smooth_n 0): a spike then makes the window
 * ending at the spike novel, so it is flagged at the spike, not later. The row is longer (lags_n 11)
 * than the KNN window (window_n 6): the flatline detector counts a stuck run over the whole row.
 */

export interface ConformalParams {
  nNeighbors: number;
  /** Lag columns the KNN window and the jump use (the first `windowN` of the row); null = DEFAULT_WINDOW_N. */
  windowN: number | null;
  /** Calibration windows drawn (evenly spaced) from the training rows. */
  calibrationN: number;
  /** Add the time of day as context (when the training rows span at least two days). */
  dailyPhase: boolean;
  /** Take the weekly part out of the values (when the training rows span two weeks and show a weekly pattern). */
  weeklyPhase: boolean;
  /** Second detector: the newest value's jump from the median of the window's older values, calibrated on the training rows. */
  jump: boolean;
  /** Third detector: a run of identical values ending at the newest (counted over the whole row), against how often runs continue in the training rows nearest its level and at any level. */
  flatline: boolean;
  /**
   * 'split': the newest training windows (calibration_n, at most half) are calibrated against the
   * older ones only, as a new point is scored against the past (a metric whose level drifts gets as
   * large a nonconformity in calibration as it will have when scored). 'symmetric': each calibration
   * window against every training window that does not overlap it, before or after (the first
   * default). 'pooled': both sets of nonconformities as one calibration.
   */
  calibration: 'pooled' | 'split' | 'symmetric';
  /** Tail beyond the 90th percentile from few excesses: the predictive (Lomax) tail rather than the moment fit alone. */
  predictiveTail: boolean;
}

/** A calibrated one-dimensional nonconformity: sorted calibration values and their GPD tail. */
type Calibrated = Pick<ConformalState, 'calibration' | 'tailU' | 'tailXi' | 'tailSigma' | 'tailShare'>;

export interface ConformalState {
  /** Standardised training windows, time order, row-major n x w. */
  reference: Float64Array;
  n: number;
  /** Stored row width: `lags` standardised values (less the weekly part when `weekly`), then 2 phase columns when `phaseRadius` > 0. */
  w: number;
  lags: number;
  phaseRadius: number;
  /** The learned weekly profile (absent: off, no weekly pattern found, or a model saved before it). */
  weekly?: WeeklyProfile;
  center: number;
  scale: number;
  /** Calibration nonconformities, ascending. */
  calibration: Float64Array;
  /** Generalised Pareto tail over `tailU`: shape xi >= 0 and scale sigma, fitted on the calibration excesses. */
  tailU: number;
  tailXi: number;
  tailSigma: number;
  /** P(nonconformity > tailU) in the calibration, conformal style: (count + 1) / (c + 1). */
  tailShare: number;
  /** The jump detector's calibration (absent: off, or a model saved before it). */
  jump?: Calibrated;
  /** The flatline detector of a model saved before the level-local rates: `flatP[r]` = P(a run of at least r identical values ends at a row), r = 0..row width (0..lags before the longer row). */
  flatP?: Float64Array;
  /** The flatline detector since the level-local rates: the training rows' newest values, ascending; the values ending a run of 2 or more, ascending, and their runs (aligned)... */
  runLevels?: Float64Array;
  repeatLevels?: Float64Array;
  repeatRuns?: Int32Array;
  /** ...and how many training rows have a run of at least s, s = 0..row width. */
  runCounts?: Float64Array;
}

/** The POT threshold: the calibration's 90th percentile, the usual start of an extreme-value fit with a few hundred samples. */
const TAIL_QUANTILE = 0.9;
/** p never reaches 0: a score of exactly 1 would hide how much stranger one window is than another. */
const MIN_P = 1e-12;
const DAY_MS = 86_400_000;
/** Neighbours behind an expected range: enough for a range (about the 10th to 90th percentile), few enough to stay local. */
const BAND_NEIGHBOURS = 10;
/**
 * The KNN window (6 values, 30 minutes of 5-minute data), shorter than the default row (lags_n 11,
 * 12 values): the window's novelty is about a shape's last few points, a flatline's about how long it lasts.
 */
const DEFAULT_WINDOW_N = 6;
/**
 * Shares of the false-alarm budget (weighted Bonferroni: score = 1 - min p_i / w_i, the shares of the
 * detectors that are on summing to 1). The window is the general detector (any shape at any level)
 * and keeps most of it: an equal third each cost it the windows whose p lies between 0.001 / 3 and
 * 0.001. The flatline's p falls by about the metric's repeat rate with every further stuck point, so a
 * tenth instead of a third costs it at most a point of delay; the jump mostly fires on the rows the window finds novel too.
 */
const WEIGHTS = { window: 0.8, jump: 0.1, flatline: 0.1 } as const;

export const conformalDetector: Detector<ConformalParams, ConformalState> & { calibrated: true } = {
  name: 'Conformal',
  calibrated: true,
  // Raw lag windows: a difference or a trailing mean would move a spike's novelty off the spike.
  // Why 12 values (lags_n 11): the flatline needs p < 0.001 x its share (0.1), and a metric that
  // repeats often (counts, rounded values) passes it only after a long run; one that never repeats
  // passes it by the 3rd to 6th value (runProbability).
  preprocess: { diff_n: 0, smooth_n: 0, lags_n: 11 },
  // A model saved when the row was the window (lags_n 5) still scores the longer rows.
  readsRowPrefix: true,
  readParams(r) {
    r.checkKnown(['n_neighbors', 'window_n', 'calibration_n', 'daily_phase', 'weekly_phase', 'jump', 'flatline', 'calibration', 'predictive_tail', 'contamination']);
    r.contamination();
    return {
      // Why 3: an event seen once or twice in the training window is still rare; more would blur the novelty of a shape.
      nNeighbors: r.integer('n_neighbors', 3, 1),
      windowN: r.optionalInteger('window_n', 1),
      // Why 500: enough to resolve p ~ 0.002 empirically (the GPD tail goes further) at a fit cost of 500 x train_max_n distances.
      calibrationN: r.integer('calibration_n', 500, 20),
      // On by default: daily cycles are the commonest seasonality in business and ops metrics, and a
      // metric without one loses little (its neighbours at other times of day are still near).
      dailyPhase: r.boolean('daily_phase', true),
      // On by default: it changes nothing where the training rows show no weekly pattern (seasonal-phase.ts).
      weeklyPhase: r.boolean('weekly_phase', true),
      jump: r.boolean('jump', true),
      flatline: r.boolean('flatline', true),
      // Pooled by default: the symmetric calibration alone let a calibration window find neighbours
      // in the training's future, which a new point never can, so random walks and trends alerted on
      // every new level; the split one alone is honest for them but, on a long metric, holds only its
      // newest calibration_n windows (a quiet stretch makes a narrow calibration).
      calibration: r.oneOf('calibration', 'pooled', ['pooled', 'split', 'symmetric'] as const),
      predictiveTail: r.boolean('predictive_tail', true),
    };
  },
  fit(X, p) {
    const lags = Math.min(p.windowN ?? DEFAULT_WINDOW_N, X.d);
    // Calibration windows must have k neighbours that do not overlap them in time (|i - j| >= lags).
    if (X.n < p.nNeighbors + 2 * lags + 1) {
      throw new Error(`Conformal: needs at least ${p.nNeighbors + 2 * lags + 1} training rows (n_neighbors + 2 windows), got ${X.n}`);
    }
    const { center, scale, sorted } = robustScale(X);
    // Why sqrt(lags): the standardised window has a total variance of about `lags`, and a circle of
    // radius r a total variance of r^2, so time of day weighs as much as the values. Two days at least,
    // or the time of day is just another name for the training's few days; and only when the rows show
    // a time-of-day pattern (seasonal-phase.ts), as the columns only thin out the neighbours of a metric without one.
    const span = X.n > 1 ? X.timestamps[X.n - 1]! - X.timestamps[0]! : 0;
    const values = newestValues(X, center, scale);
    const phaseRadius = p.dailyPhase && span >= 2 * DAY_MS && hasDailyCycle(values, X.timestamps) ? Math.sqrt(lags) : 0;
    const weekly = p.weeklyPhase ? learnWeekly(values, X.timestamps) : undefined;
    const w = lags + (phaseRadius > 0 ? 2 : 0);
    const reference = standardise(X, lags, center, scale, phaseRadius, weekly);
    const calibration = calibrate(reference, X.n, w, lags, p);
    calibration.sort();
    const tail = fitTail(calibration, p.predictiveTail);
    const state: ConformalState = { reference, n: X.n, w, lags, phaseRadius, center, scale, calibration, ...tail };
    if (weekly !== undefined) {
      state.weekly = weekly;
    }
    if (p.jump && lags >= 2) {
      const jumps = Float64Array.from({ length: X.n }, (_, i) => jumpSize(X, i, lags)).sort();
      state.jump = { calibration: jumps, ...fitTail(jumps, p.predictiveTail) };
    }
    if (p.flatline && lags >= 2) {
      Object.assign(state, levelRuns(X, sorted));
    }
    return { state, trainScores: Float64Array.from(calibration, (x) => 1 - tailProbability(state, x)) };
  },
  decision(state, X, p) {
    const queries = standardise(X, state.lags, state.center, state.scale, state.phaseRadius, state.weekly);
    const out = new Float64Array(X.n);
    const best = new Float64Array(p.nNeighbors);
    const weights = detectorWeights(state);
    for (let i = 0; i < X.n; i++) {
      const ncm = nonconformity(state.reference, state.n, state.w, queries, i * state.w, p.nNeighbors, 1, 0, best);
      out[i] = 1 - weightedBonferroni(detectorPValues(state, X, i, ncm), weights);
    }
    return out;
  },
  fired(state, X, p) {
    const queries = standardise(X, state.lags, state.center, state.scale, state.phaseRadius, state.weekly);
    const best = new Float64Array(p.nNeighbors);
    const weights = detectorWeights(state);
    return Array.from({ length: X.n }, (_, i) => {
      // The detector that set the score: the smallest p relative to its share.
      const ps = detectorPValues(state, X, i, nonconformity(state.reference, state.n, state.w, queries, i * state.w, p.nNeighbors, 1, 0, best));
      const relative = ps.map((pv, k) => (weights[k]! > 0 ? pv / weights[k]! : Infinity));
      return DETECTOR_NAMES[relative.indexOf(Math.min(...relative))]!;
    });
  },
  expected(state, X) {
    // What followed the most similar contexts: the nearest training windows by their older lags
    // (and time of day), not by the newest value, so a spike does not pull its own neighbours.
    const queries = standardise(X, state.lags, state.center, state.scale, state.phaseRadius, state.weekly);
    const k = Math.min(BAND_NEIGHBOURS, state.n);
    const lo = new Float64Array(X.n);
    const hi = new Float64Array(X.n);
    const best = new Float64Array(k);
    const bestIndex = new Int32Array(k);
    for (let i = 0; i < X.n; i++) {
      nearestContexts(state.reference, state.n, state.w, queries, i * state.w, best, bestIndex);
      let min = Infinity;
      let max = -Infinity;
      for (let m = 0; m < k; m++) {
        const v = (state.reference[bestIndex[m]! * state.w]! + weeklyOffset(state.weekly, X.timestamps[i]!)) * state.scale + state.center;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      lo[i] = min;
      hi[i] = max;
    }
    return { lo, hi } satisfies ExpectedBand;
  },
};

/** `count` rows evenly spaced over [from, n) (all of them when there are no more). */
function calibrationRows(from: number, n: number, count: number): number[] {
  const c = Math.min(count, n - from);
  return Array.from({ length: c }, (_, j) => from + Math.floor(((j + 0.5) * (n - from)) / c));
}

/**
 * The window's calibration nonconformities. Pooled, the two sets stand for two readings of "a new
 * window is like the training's": exchangeable with all of it (symmetric: exact for a stationary
 * metric) or with its past only (split: honest for one whose level drifts). One set alone, on the
 * metric the other fits, calls the wrong windows rare; pooled, a window is rare only when it is
 * beyond most of both, and the upper tail is mostly the heavier set's.
 */
function calibrate(reference: Float64Array, n: number, w: number, lags: number, p: ConformalParams): Float64Array {
  if (p.calibration !== 'pooled') {
    return (p.calibration === 'split' ? splitCalibration : symmetricCalibration)(reference, n, w, lags, p);
  }
  const split = splitCalibration(reference, n, w, lags, p);
  // As many of each, so neither reading outweighs the other (and a short history's fit costs less than the symmetric alone).
  const symmetric = symmetricCalibration(reference, n, w, lags, { ...p, calibrationN: split.length });
  const pooled = new Float64Array(split.length + symmetric.length);
  pooled.set(split);
  pooled.set(symmetric, split.length);
  return pooled;
}

/** Each calibration window (evenly spaced over the training rows) against every training window that does not overlap it, before or after. */
function symmetricCalibration(reference: Float64Array, n: number, w: number, lags: number, p: ConformalParams): Float64Array {
  const best = new Float64Array(p.nNeighbors);
  // Overlapping windows share values: they would be trivially near, unlike a new window's neighbours.
  return Float64Array.from(calibrationRows(0, n, p.calibrationN), (i) => nonconformity(reference, n, w, reference, i * w, p.nNeighbors, i - lags + 1, i + lags - 1, best));
}

/**
 * Split (inductive) conformal, as KNN-CAD: the newest calibration_n training windows (at most half
 * of them) against the older ones only. A new point is scored against the past, so a calibration
 * window must not find neighbours after it: with them, a random walk or a trend looks normal in
 * calibration wherever it later returns, and every new level is then a 1-in-1000 window. The
 * calibration windows reach up to calibration_n rows (at most half the training) past their
 * references, as new points reach past the model's. A stationary metric loses little: its calibration windows have most of
 * the references a new point has (fewer only make the calibration a little conservative).
 */
function splitCalibration(reference: Float64Array, n: number, w: number, lags: number, p: ConformalParams): Float64Array {
  const best = new Float64Array(p.nNeighbors);
  // k references outside the first calibration window's overlap.
  const from = Math.max(n >> 1, n - p.calibrationN, p.nNeighbors + lags - 1);
  return Float64Array.from(calibrationRows(from, n, p.calibrationN), (i) =>
    nonconformity(reference, n, w, reference, i * w, p.nNeighbors, Math.min(from, i - lags + 1), n - 1, best),
  );
}

/** The names of detectorPValues' entries, in its order. */
const DETECTOR_NAMES = ['window', 'jump', 'flatline'] as const;

/**
 * Each detector's tail probability for row i: the KNN window's, the jump's and the flatline's (when on).
 * The score is 1 - min p_i / w_i (weightedBonferroni), so a score of 0.999 is still "1 in 1000 or
 * rarer" for the ensemble, and adding detectors does not add false alerts.
 */
function detectorPValues(state: ConformalState, X: FeatureMatrix, i: number, ncm: number): number[] {
  // An off detector (or a model saved before it) is p = 1: never the minimum that sets the score.
  return [
    tailProbability(state, ncm),
    state.jump ? tailProbability(state.jump, jumpSize(X, i, state.lags)) : 1,
    flatlineP(state, X, i),
  ];
}

/** WEIGHTS of the detectors that are on, in detectorPValues' order, scaled to sum to 1 (an off detector: 0). */
export function detectorWeights(on: { jump?: unknown; flatP?: unknown; runLevels?: unknown }): number[] {
  const raw = [WEIGHTS.window, on.jump ? WEIGHTS.jump : 0, on.flatP || on.runLevels ? WEIGHTS.flatline : 0];
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / total);
}

/** min p_i / w_i over the detectors with a share, at most 1: P(any fires at level a) <= sum w_i a = a, whatever their dependence. */
export function weightedBonferroni(ps: readonly number[], weights: readonly number[]): number {
  let least = 1;
  ps.forEach((p, i) => {
    if (weights[i]! > 0) {
      least = Math.min(least, p / weights[i]!);
    }
  });
  return least;
}

/** |newest - median of the window's older values|: a spike or a level shift on its first points, whatever the level. */
function jumpSize(X: FeatureMatrix, i: number, lags: number): number {
  const base = i * X.d;
  const older = X.data.slice(base + 1, base + lags).sort();
  const mid = older.length >> 1;
  const med = older.length % 2 === 1 ? older[mid]! : (older[mid - 1]! + older[mid]!) / 2;
  return Math.abs(X.data[base]! - med);
}

/** How many of row i's first `lags` values, from the newest back, equal the newest (1..lags). */
function runLength(X: FeatureMatrix, i: number, lags: number): number {
  const base = i * X.d;
  let r = 1;
  while (r < lags && X.data[base + r] === X.data[base]) {
    r++;
  }
  return r;
}

/** The training rows' newest values in ascending order (`sorted`, robustScale's), those of the rows ending a run (of 2 or more) with their runs, and the counts of runs over all rows. */
function levelRuns(X: FeatureMatrix, sorted: Float64Array): Pick<ConformalState, 'runLevels' | 'repeatLevels' | 'repeatRuns' | 'runCounts'> {
  // 32-bit: a byte wrapped a run of 256 (lags_n 255 or more) to 0.
  const runs = Int32Array.from({ length: X.n }, (_, i) => runLength(X, i, X.d));
  // A run still going at the newest training row is the one the model will be asked about next:
  // not evidence that such runs are normal (a young metric's retrain every few points would
  // otherwise learn its own stuck value within a few points and stop flagging it). Unless it is
  // half the training or more: a metric that has mostly had one value (an error count that is
  // nearly always 0) is flat, not stuck.
  let start = X.n - 1;
  while (start > 0 && X.data[(start - 1) * X.d] === X.data[start * X.d]) {
    start--;
  }
  if (X.n - start < X.n / 2) {
    runs.fill(1, start, X.n);
  }
  // Only the repeats need their runs beside them: few, so their sort by level is cheap; all the levels sort as a typed array.
  const repeats = Array.from({ length: X.n }, (_, i) => i)
    .filter((i) => runs[i]! >= 2)
    .sort((a, b) => X.data[a * X.d]! - X.data[b * X.d]!);
  return {
    runLevels: sorted,
    repeatLevels: Float64Array.from(repeats, (i) => X.data[i * X.d]!),
    repeatRuns: Int32Array.from(repeats, (i) => runs[i]!),
    runCounts: countRuns(runs, 0, X.n, X.d),
  };
}

/** A_s = how many of runs[from..to) are at least s, for s = 0..width. */
function countRuns(runs: Int32Array, from: number, to: number, width: number): Float64Array {
  const atLeast = new Float64Array(width + 1);
  for (let j = from; j < to; j++) {
    for (let s = Math.min(width, runs[j]!); s >= 0; s--) {
      atLeast[s]!++;
    }
  }
  return atLeast;
}

/**
 * Why a neighbourhood by level: how often a value repeats depends on its level (counts near zero
 * repeat far more often than busy-hour counts; a rounded value more often near its mode), so a run is
 * first compared with the runs of the training rows nearest its value: a tenth of them, at least 50
 * (the fewest over which a run without any repeat before it passes 1e-4, the flatline's share of 0.001, by its 4th value).
 */
const levelNeighbours = (n: number): number => Math.min(n, Math.max(50, Math.ceil(n / 10)));

/** The flatline's p for row i: its run against the training rows' (a model saved before the level-local rates: its stored chain). */
function flatlineP(state: ConformalState, X: FeatureMatrix, i: number): number {
  const { runLevels, repeatLevels, repeatRuns, runCounts } = state;
  if (runLevels === undefined || repeatLevels === undefined || repeatRuns === undefined || runCounts === undefined) {
    // A model saved before the longer row knows runs up to its window only: a longer one counts as that.
    return state.flatP ? state.flatP[Math.min(state.flatP.length - 1, runLength(X, i, X.d))]! : 1;
  }
  const r = Math.min(runCounts.length - 1, runLength(X, i, X.d));
  if (r < 2) {
    return 1;
  }
  // The levels of the nearest rows, ties at either end included: every row at the stuck value counts.
  const { lo, hi } = nearestLevels(runLevels, X.data[i * X.d]!, levelNeighbours(runLevels.length));
  const n = upperBound(runLevels, hi) - lowerBound(runLevels, lo);
  const local = countRuns(repeatRuns, lowerBound(repeatLevels, lo), upperBound(repeatLevels, hi), r);
  // The rows that end no run of 2 have runs of 1: A_0 = A_1 = n.
  local[0] = local[1] = n;
  return runProbability(local, n, runCounts);
}

/** The first index of ascending `values` whose value is >= v (upperBound: > v). */
function lowerBound(values: Float64Array, v: number): number {
  return firstIndex(values, (x) => x >= v);
}

function upperBound(values: Float64Array, v: number): number {
  return firstIndex(values, (x) => x > v);
}

function firstIndex(values: Float64Array, past: (x: number) => boolean): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (past(values[mid]!)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

/** The lowest and highest of the `m` entries of ascending `levels` nearest `v`. */
function nearestLevels(levels: Float64Array, v: number, m: number): { lo: number; hi: number } {
  let from = lowerBound(levels, v);
  let to = from;
  while (to - from < m) {
    if (to >= levels.length || (from > 0 && v - levels[from - 1]! <= levels[to]! - v)) {
      from--;
    } else {
      to++;
    }
  }
  return { lo: levels[from]!, hi: levels[to - 1]! };
}

/**
 * P(run >= r), r = local.length - 1, from the counts A_s of the n level-neighbours whose run is at least s,
 * as a chain of continuation rates c_s = P(run >= s | run >= s - 1). c_2 = (A_2 + 1) / (n + 1), the
 * conformal +1. A longer rate is the measured A_s / A_{s-1} shrunk toward c_{s-1} (one pseudo-row),
 * and never below:
 * - c_{s-1}: under the null a run's chance to go on does not fall with its length (the values that
 *   repeat more often make the longer runs: a mixture of geometric run lengths), so no long run
 *   among a few hundred rows is no evidence that runs stop;
 * - the Polya rate (A_2 + s - 1) / (n + s - 1): the repeat rate updated as if each stuck point were one
 *   more repeat seen (a uniform prior on the rate), what n rows without a repeat honestly say;
 * - the rate at which runs went on at any level, G_s / (G_{s-1} + 1) over all the training rows (`all`):
 *   a metric that has sat still before, wherever, is not surprised to sit still again.
 * The rate had been (A_s + 1) / (A_{s-1} + 2), a prior of 1/2 whatever the metric: on one that never
 * repeats, p halved per stuck point and a run needed 8 values to pass 1e-4 with 300 rows (now 3 or 4).
 */
function runProbability(local: Float64Array, n: number, all: Float64Array): number {
  let p = 1;
  let rate = 1;
  for (let s = 2; s < local.length; s++) {
    const polya = (local[2]! + s - 1) / (n + s - 1);
    rate = s === 2 ? polya : Math.max(polya, rate, (local[s]! + rate) / (local[s - 1]! + 1), all[s]! / (all[s - 1]! + 1));
    p *= rate;
  }
  return p;
}

/** The k (= best.length) reference rows nearest to the query by every column but the newest value (column 0). */
function nearestContexts(reference: Float64Array, n: number, w: number, queries: Float64Array, q: number, best: Float64Array, bestIndex: Int32Array): void {
  bestIndex.fill(0);
  nearest(reference, n, w, queries, q, 1, 1, 0, best, bestIndex);
}

/**
 * The one brute-force search both the score and the band use: the k (= best.length) smallest
 * squared distances from the query at `q` to the reference rows, over columns `from`..w-1, skipping
 * rows [skipFrom, skipTo], ascending in `best` (and their rows in `bestIndex` when given). A
 * candidate's sum is abandoned once it exceeds the current k-th best, which with brute force over
 * <= train_max_n rows is what keeps the replay fast.
 */
function nearest(
  reference: Float64Array,
  n: number,
  w: number,
  queries: Float64Array,
  q: number,
  from: number,
  skipFrom: number,
  skipTo: number,
  best: Float64Array,
  bestIndex: Int32Array | null,
): void {
  const k = best.length;
  best.fill(Infinity);
  let kth = Infinity;
  for (let j = 0; j < n; j++) {
    if (j >= skipFrom && j <= skipTo) {
      continue;
    }
    let sum = 0;
    const base = j * w;
    for (let c = from; c < w && sum < kth; c++) {
      const diff = reference[base + c]! - queries[q + c]!;
      sum += diff * diff;
    }
    if (sum < kth) {
      // Insert into the ascending k best.
      let pos = k - 1;
      while (pos > 0 && best[pos - 1]! > sum) {
        best[pos] = best[pos - 1]!;
        if (bestIndex !== null) {
          bestIndex[pos] = bestIndex[pos - 1]!;
        }
        pos--;
      }
      best[pos] = sum;
      if (bestIndex !== null) {
        bestIndex[pos] = j;
      }
      kth = best[k - 1]!;
    }
  }
}

/** Median and 1.4826 x MAD of the newest-value column (std, then 1, when that is 0: a flat series still gets a unit), and that column sorted. */
function robustScale(X: FeatureMatrix): { center: number; scale: number; sorted: Float64Array } {
  const values = new Float64Array(X.n);
  for (let i = 0; i < X.n; i++) {
    values[i] = X.data[i * X.d]!;
  }
  // median sorts its argument in place: the sorted newest values are the flatline's levels too.
  const sorted = values.slice();
  const center = median(sorted);
  const deviations = values.map((v) => Math.abs(v - center));
  let scale = 1.4826 * median(deviations);
  if (!(scale > 0)) {
    let sum = 0;
    for (const v of values) {
      sum += (v - center) ** 2;
    }
    scale = Math.sqrt(sum / X.n);
  }
  return { center, scale: scale > 0 ? scale : 1, sorted };
}

function median(values: Float64Array): number {
  values.sort();
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

function standardise(X: FeatureMatrix, lags: number, center: number, scale: number, phaseRadius: number, weekly: WeeklyProfile | undefined): Float64Array {
  const w = lags + (phaseRadius > 0 ? 2 : 0);
  const out = new Float64Array(X.n * w);
  const step = weekly?.step ?? 0;
  for (let i = 0; i < X.n; i++) {
    for (let j = 0; j < lags; j++) {
      // Lag j is taken to sit j steps back: the weekly profile is hourly, so a gap's few rows barely move it.
      out[i * w + j] = (X.data[i * X.d + j]! - center) / scale - weeklyOffset(weekly, X.timestamps[i]! - j * step);
    }
    if (phaseRadius > 0) {
      const angle = (2 * Math.PI * (((X.timestamps[i]! % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
      out[i * w + lags] = phaseRadius * Math.cos(angle);
      out[i * w + lags + 1] = phaseRadius * Math.sin(angle);
    }
  }
  return out;
}

/** The newest-value column, standardised: the series the seasonal tests read. */
function newestValues(X: FeatureMatrix, center: number, scale: number): Float64Array {
  return Float64Array.from({ length: X.n }, (_, i) => (X.data[i * X.d]! - center) / scale);
}

/** Mean Euclidean distance from the query window at `q` to its k (= best.length) nearest reference windows, skipping reference rows [skipFrom, skipTo]. */
function nonconformity(
  reference: Float64Array,
  n: number,
  w: number,
  queries: Float64Array,
  q: number,
  k: number,
  skipFrom: number,
  skipTo: number,
  best: Float64Array,
): number {
  nearest(reference, n, w, queries, q, 0, skipFrom, skipTo, best, null);
  let total = 0;
  let count = 0;
  for (let i = 0; i < k; i++) {
    if (Number.isFinite(best[i]!)) {
      total += Math.sqrt(best[i]!);
      count++;
    }
  }
  return count > 0 ? total / count : 0;
}

/**
 * Generalised Pareto tail by the method of moments on the excesses over the 90th percentile:
 * xi = (1 - mean^2 / var) / 2, sigma = mean (mean^2 / var + 1) / 2. xi is kept in [0, 0.5]: a
 * negative xi would put a hard ceiling on the tail (any stranger window p = 0), and the moments
 * say nothing reliable beyond 0.5 (infinite variance).
 */
function fitTail(calibration: Float64Array, predictive: boolean): Omit<Calibrated, 'calibration'> {
  const c = calibration.length;
  // The predictive tail keeps at least one value above the threshold (a short calibration's 90th percentile is its maximum).
  const tailU = predictive ? belowMaximum(calibration, Math.max(0, Math.min(c - 2, Math.floor(TAIL_QUANTILE * c)))) : calibration[Math.min(c - 1, Math.floor(TAIL_QUANTILE * c))]!;
  let sum = 0;
  let sumSq = 0;
  let m = 0;
  for (const x of calibration) {
    if (x > tailU) {
      sum += x - tailU;
      sumSq += (x - tailU) ** 2;
      m++;
    }
  }
  const tailShare = (m + 1) / (c + 1);
  if (m === 0 || (m === 1 && !predictive)) {
    return { tailU, tailXi: 0, tailSigma: sum, tailShare };
  }
  const mean = sum / m;
  const variance = sumSq / m - mean * mean;
  const ratio = variance > 0 ? (mean * mean) / variance : Infinity;
  const tailXi = m >= 2 && Number.isFinite(ratio) ? Math.min(0.5, Math.max(0, (1 - ratio) / 2)) : 0;
  if (predictive && tailXi < 1 / m) {
    return { tailU, ...lomaxTail(m, mean), tailShare };
  }
  // With xi clamped, sigma from the mean excess alone (mean = sigma / (1 - xi)).
  return { tailU, tailXi, tailSigma: mean * (1 - tailXi), tailShare };
}

/**
 * A few excesses say little about how fast the tail falls. For an exponential tail of unknown rate
 * (prior 1 / rate), the predictive distribution after m excesses of mean `mean` is a Lomax, a GPD
 * with xi = 1 / m and sigma = mean: P(excess > e) = (1 + e / (m mean))^-m. With 3 excesses a value
 * 10 mean excesses out is 1 in 81 of the tail, not the exponential's 1 in 22,000 (a 16-row model's
 * calibration had made every new extreme a certain anomaly); with many it is the exponential.
 */
function lomaxTail(m: number, mean: number): { tailXi: number; tailSigma: number } {
  return { tailXi: 1 / m, tailSigma: mean };
}

/**
 * The sorted calibration's value at `at`, or when that is its maximum (ties at the top: small
 * integer counts give calibrations like [.., 2, 2, 2]) the largest value below the maximum, so the
 * tail has excesses to fit; without them every larger value was p = 1e-12. A constant calibration keeps its one value.
 */
function belowMaximum(calibration: Float64Array, at: number): number {
  const max = calibration[calibration.length - 1]!;
  let i = at;
  while (i > 0 && calibration[i]! >= max) {
    i--;
  }
  return calibration[i]!;
}

/** P(calibration nonconformity >= x): empirical (conformal, (count + 1) / (c + 1)) up to the tail threshold, the GPD beyond. */
export function tailProbability(s: Calibrated, x: number): number {
  const cal = s.calibration;
  const c = cal.length;
  if (x <= s.tailU) {
    // First index with cal[i] >= x.
    let lo = 0;
    let hi = c;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cal[mid]! < x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return (c - lo + 1) / (c + 1);
  }
  const excess = x - s.tailU;
  if (!(s.tailSigma > 0)) {
    return MIN_P;
  }
  const survival = s.tailXi > 0 ? (1 + (s.tailXi * excess) / s.tailSigma) ** (-1 / s.tailXi) : Math.exp(-excess / s.tailSigma);
  return Math.max(MIN_P, s.tailShare * survival);
}
