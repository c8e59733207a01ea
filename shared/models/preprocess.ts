import { firstBinStart, parseFrequency } from './frequency.js';
import type { FeatureMatrix, PreprocessParams } from './types.js';

/** A metric observation: epoch ms and value. */
export interface Point {
  t: number;
  v: number;
}

/** Points as two parallel arrays (what the worker pool ships between threads). */
export interface PackedSeries {
  t: Float64Array;
  v: Float64Array;
}

export function packPoints(points: readonly Point[]): PackedSeries {
  const t = new Float64Array(points.length);
  const v = new Float64Array(points.length);
  points.forEach((p, i) => {
    t[i] = p.t;
    v[i] = p.v;
  });
  return { t, v };
}

export function isPackedSeries(points: readonly Point[] | PackedSeries): points is PackedSeries {
  return !Array.isArray(points);
}

/** Guards against a tiny freq over a long span allocating millions of empty bins. */
const MAX_BINS = 5_000_000;

/**
 * The original's default `preprocess()` (pandas semantics): sort, average duplicate timestamps,
 * optional resample, diff, trailing rolling mean, lags, then drop rows with any missing feature.
 * Feature row = [s_t, s_{t-1}, ..., s_{t-lags_n}] where s is the smoothed diff.
 */
export function preprocess(points: readonly Point[] | PackedSeries, p: PreprocessParams): FeatureMatrix {
  let { times, values } = dedupe(isPackedSeries(points) ? points : packPoints(points));
  if (p.freq !== null) {
    ({ times, values } = resample(times, values, parseFrequency(p.freq), p.freq_agg));
  }
  // `values` is this call's own array (dedupe and resample build new ones), so diff and smoothing reuse it.
  if (p.diff_n > 0) {
    diffInPlace(values, p.diff_n);
  }
  if (p.smooth_n > 0) {
    rollingMeanInPlace(values, p.smooth_n);
  }
  return lagMatrix(values, times, p.lags_n);
}

/** Sorts by time and averages values sharing a timestamp (non-finite values are ignored, as pandas' mean skips NaN). */
function dedupe(series: PackedSeries): { times: Float64Array; values: Float64Array } {
  const { t, v } = series;
  const order = new Uint32Array(t.length);
  for (let i = 0; i < t.length; i++) {
    order[i] = i;
  }
  if (!isAscending(t)) {
    order.sort((a, b) => t[a]! - t[b]! || a - b);
  }
  const times = new Float64Array(t.length);
  const values = new Float64Array(t.length);
  let m = 0;
  let i = 0;
  while (i < order.length) {
    const time = t[order[i]!]!;
    let sum = 0;
    let count = 0;
    for (; i < order.length && t[order[i]!]! === time; i++) {
      const value = v[order[i]!]!;
      if (Number.isFinite(value)) {
        sum += value;
        count++;
      }
    }
    times[m] = time;
    values[m] = count > 0 ? sum / count : NaN;
    m++;
  }
  return { times: times.subarray(0, m), values: values.subarray(0, m) };
}

function isAscending(t: Float64Array): boolean {
  for (let i = 1; i < t.length; i++) {
    if (t[i]! < t[i - 1]!) {
      return false;
    }
  }
  return true;
}

/** pandas `resample(freq).mean()` / `.sum()`: an empty bin is NaN for mean and 0 for sum. */
function resample(
  times: Float64Array,
  values: Float64Array,
  stepMs: number,
  agg: 'mean' | 'sum',
): { times: Float64Array; values: Float64Array } {
  if (times.length === 0) {
    return { times, values };
  }
  const start = firstBinStart(times[0]!, stepMs);
  const bins = Math.floor((times[times.length - 1]! - start) / stepMs) + 1;
  if (bins > MAX_BINS) {
    throw new Error(`freq resampling would create ${bins} bins (limit ${MAX_BINS}); use a coarser freq`);
  }
  const sums = new Float64Array(bins);
  const counts = new Uint32Array(bins);
  for (let i = 0; i < times.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      const b = Math.floor((times[i]! - start) / stepMs);
      sums[b]! += v;
      counts[b]!++;
    }
  }
  const binTimes = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    binTimes[b] = start + b * stepMs;
    if (agg === 'mean') {
      sums[b] = counts[b] === 0 ? NaN : sums[b]! / counts[b]!;
    }
  }
  return { times: binTimes, values: sums };
}

/** x[i] − x[i − lag], NaN for the first `lag`; backwards, so every x[i − lag] read is still the input. */
function diffInPlace(x: Float64Array, lag: number): void {
  for (let i = x.length - 1; i >= lag; i--) {
    x[i] = x[i]! - x[i - lag]!;
  }
  x.fill(NaN, 0, Math.min(lag, x.length));
}

/**
 * Trailing mean with min_periods = window: NaN until a full window of non-missing values. Backwards, so
 * every window read is still the input.
 */
function rollingMeanInPlace(x: Float64Array, window: number): void {
  for (let i = x.length - 1; i >= window - 1; i--) {
    let sum = 0;
    for (let j = i - window + 1; j <= i; j++) {
      sum += x[j]!;
    }
    x[i] = sum / window;
  }
  x.fill(NaN, 0, Math.min(window - 1, x.length));
}

function lagMatrix(series: Float64Array, times: Float64Array, lags: number): FeatureMatrix {
  const d = lags + 1;
  const kept = new Uint32Array(Math.max(0, series.length - lags));
  let n = 0;
  for (let i = lags; i < series.length; i++) {
    let complete = true;
    for (let k = 0; k <= lags && complete; k++) {
      complete = Number.isFinite(series[i - k]!);
    }
    if (complete) {
      kept[n++] = i;
    }
  }
  const data = new Float64Array(n * d);
  const timestamps = new Float64Array(n);
  for (let row = 0; row < n; row++) {
    const i = kept[row]!;
    timestamps[row] = times[i]!;
    for (let k = 0; k < d; k++) {
      data[row * d + k] = series[i - k]!;
    }
  }
  return { n, d, data, timestamps };
}
