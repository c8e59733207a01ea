import { Random } from './random.js';

/**
 * Seasonality for the Conformal KNN, found in the training rows. The daily phase columns (the time
 * of day, conformal.ts) are added only when the rows show a time-of-day pattern (hasDailyCycle).
 * The weekly profile (learnWeekly) is what the day of week and hour add to a value beyond its time
 * of day, taken out of every lag value before the windows are compared, and only when a test on the
 * rows finds a weekly pattern. A Sunday window then looks like any other day's, so it has every
 * day's windows as neighbours, and a weekday's level on a Sunday stands out by the difference.
 */

const DAY_MS = 86_400_000;
const WEEK_DAYS = 7;
/** Time-of-day resolution of the weekly profile: hours (or the metric's own step when coarser). */
const MAX_BINS = 24;
/** Shuffles behind the tests' p-values: 199 resolve the 1% level with a margin of one exceedance. */
const PERMUTATIONS = 199;
/** The tests' level, the conventional 1%: a metric without the pattern is taken to have it about 1 time in 100. */
const ALPHA = 0.01;
/** Fixed seed: one training set always gets the same decision. */
const SEED = 7;

export interface WeeklyProfile {
  /** Time-of-day bins per day. */
  bins: number;
  /** The metric's usual step (ms): lag j of a row at t is taken to be at t - j x step. */
  step: number;
  /** The weekly part (standardised units) per (day of week, bin), at table[dayOfWeek * bins + bin]. */
  table: Float64Array;
}

/** The weekly part of a standardised value at time t (0 without a profile). */
export function weeklyOffset(weekly: WeeklyProfile | undefined, t: number): number {
  if (weekly === undefined) {
    return 0;
  }
  return weekly.table[dayOfWeek(dayIndex(t)) * weekly.bins + binOf(t, weekly.bins)]!;
}

/**
 * The weekly profile of the training rows (values standardised, times ascending), or undefined when
 * they span under two weeks or show no weekly pattern. Each calendar day becomes a vector of hourly
 * cells: the values less a linear trend and the time-of-day profile. The test asks whether the day
 * of week explains those cells (between-group sum of squares) more than shuffled day labels do, 199
 * shuffles, at the 1% level. Shuffling whole days keeps the hours of a day together, and a drift only
 * spreads the same weekday's days apart, so it makes the test stricter, not looser. The profile is
 * the day-of-week x hour means shrunk by the share the shuffles explain (James-Stein style: what
 * chance alone gives is taken out).
 */
export function learnWeekly(values: Float64Array, times: Float64Array): WeeklyProfile | undefined {
  const n = values.length;
  if (n < 2 || times[n - 1]! - times[0]! < 2 * WEEK_DAYS * DAY_MS) {
    return undefined;
  }
  const step = medianStep(times);
  const bins = binsPerDay(step);
  const residuals = deseasonalisedDaily(values, times, bins);
  const { cells, days } = dayCells(residuals, times, bins);
  const labels = Int32Array.from(days, dayOfWeek);
  const observed = between(cells, labels, bins);
  const random = new Random(SEED);
  const shuffled = labels.slice();
  let exceed = 0;
  let nullSum = 0;
  for (let k = 0; k < PERMUTATIONS; k++) {
    shuffle(shuffled, random);
    const s = between(cells, shuffled, bins).ss;
    nullSum += s;
    exceed += s >= observed.ss ? 1 : 0;
  }
  if ((exceed + 1) / (PERMUTATIONS + 1) > ALPHA) {
    return undefined;
  }
  const shrink = Math.max(0, 1 - nullSum / PERMUTATIONS / observed.ss);
  return { bins, step, table: observed.means.map((m) => shrink * m) };
}

/**
 * Whether the rows show a time-of-day pattern: each day's hourly cells (of the values' ranks, so a
 * spike counts as one high value, less a linear trend and the day's own mean) averaged over the
 * days, against the same with every day's cells rotated by a random number of hours, 199 rotations,
 * at the 1% level. A rotation keeps a day's own wiggles (a drift, autocorrelated noise) and breaks
 * only their alignment across days. Two days cannot pass (1 rotation in 24 aligns them): three can.
 */
export function hasDailyCycle(values: Float64Array, times: Float64Array): boolean {
  const n = values.length;
  const bins = n < 2 ? 1 : binsPerDay(medianStep(times));
  if (bins < 2) {
    return false;
  }
  const { cells, days } = dayCells(detrended(ranks(values), times), times, bins, true);
  const observed = alignedSs(cells, days.length, bins, new Int32Array(days.length));
  const random = new Random(SEED);
  const shifts = new Int32Array(days.length);
  let exceed = 0;
  for (let k = 0; k < PERMUTATIONS; k++) {
    shifts.forEach((_, r) => (shifts[r] = random.below(bins)));
    exceed += alignedSs(cells, days.length, bins, shifts) >= observed ? 1 : 0;
  }
  return (exceed + 1) / (PERMUTATIONS + 1) <= ALPHA;
}

/** The between-bin sum of squares of the days' cells with every day rotated by its shift (cell c of day r counted in bin c - shift). */
function alignedSs(cells: Float64Array, days: number, bins: number, shifts: Int32Array): number {
  return groupSs(cells, days, bins, bins, (r, c) => (c - shifts[r]! + bins) % bins).ss;
}

/** Each value's rank, as a share in (0, 1), ties given their average rank: a spike counts as one high value, not as its size, and a run of equal values as no pattern. */
function ranks(values: Float64Array): Float64Array {
  const order = Array.from(values.keys()).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) {
      end++;
    }
    const rank = ((start + end - 1) / 2 + 0.5) / values.length;
    for (let r = start; r < end; r++) {
      out[order[r]!] = rank;
    }
    start = end;
  }
  return out;
}

function timeOfDay(t: number): number {
  return ((t % DAY_MS) + DAY_MS) % DAY_MS;
}

function dayIndex(t: number): number {
  return Math.floor(t / DAY_MS);
}

/** 0..6 from the epoch's day (a Thursday): any fixed origin names the same seven groups. */
function dayOfWeek(day: number): number {
  return ((day % WEEK_DAYS) + WEEK_DAYS) % WEEK_DAYS;
}

function binOf(t: number, bins: number): number {
  return Math.min(bins - 1, Math.floor((timeOfDay(t) * bins) / DAY_MS));
}

/** Hourly cells, or one per step of a metric coarser than hourly. */
function binsPerDay(step: number): number {
  return Math.min(MAX_BINS, Math.max(1, Math.round(DAY_MS / step)));
}

function medianStep(times: Float64Array): number {
  const steps = new Float64Array(times.length - 1);
  for (let i = 1; i < times.length; i++) {
    steps[i - 1] = times[i]! - times[i - 1]!;
  }
  steps.sort();
  return Math.max(1, steps[steps.length >> 1]!);
}

/** The values less their least-squares line in time and then their mean per time-of-day bin. */
function deseasonalisedDaily(values: Float64Array, times: Float64Array, bins: number): Float64Array {
  const out = detrended(values, times);
  const profile = binMeans(out, (i) => binOf(times[i]!, bins), bins);
  return out.map((r, i) => r - profile[binOf(times[i]!, bins)]!);
}

/** The values less their least-squares line in time. */
function detrended(values: Float64Array, times: Float64Array): Float64Array {
  const n = values.length;
  let mt = 0;
  let mv = 0;
  for (let i = 0; i < n; i++) {
    mt += times[i]! / n;
    mv += values[i]! / n;
  }
  let stv = 0;
  let stt = 0;
  for (let i = 0; i < n; i++) {
    stv += (times[i]! - mt) * (values[i]! - mv);
    stt += (times[i]! - mt) ** 2;
  }
  const slope = stt > 0 ? stv / stt : 0;
  return Float64Array.from(values, (v, i) => v - mv - slope * (times[i]! - mt));
}

/** Mean of values per group (0 for an empty group). */
function binMeans(values: Float64Array, group: (i: number) => number, groups: number): Float64Array {
  const sum = new Float64Array(groups);
  const count = new Float64Array(groups);
  for (let i = 0; i < values.length; i++) {
    sum[group(i)]! += values[i]!;
    count[group(i)]!++;
  }
  return sum.map((s, g) => (count[g]! > 0 ? s / count[g]! : 0));
}

/** One row of `bins` cells per calendar day present (the mean residual of its points in each bin, NaN where none), each bin centred over the days. */
function dayCells(residuals: Float64Array, times: Float64Array, bins: number, centreDays = false): { cells: Float64Array; days: number[] } {
  const first = dayIndex(times[0]!);
  const span = dayIndex(times[times.length - 1]!) - first + 1;
  const sum = new Float64Array(span * bins);
  const count = new Float64Array(span * bins);
  for (let i = 0; i < residuals.length; i++) {
    const cell = (dayIndex(times[i]!) - first) * bins + binOf(times[i]!, bins);
    sum[cell]! += residuals[i]!;
    count[cell]!++;
  }
  const days: number[] = [];
  const rows: number[] = [];
  for (let d = 0; d < span; d++) {
    if (count.subarray(d * bins, (d + 1) * bins).some((c) => c > 0)) {
      days.push(first + d);
      rows.push(d);
    }
  }
  const cells = new Float64Array(days.length * bins).fill(NaN);
  rows.forEach((d, r) => {
    for (let b = 0; b < bins; b++) {
      const c = d * bins + b;
      if (count[c]! > 0) {
        cells[r * bins + b] = sum[c]! / count[c]!;
      }
    }
  });
  if (centreDays) {
    // Each day less its own mean: a day's level is not a time of day.
    for (let r = 0; r < days.length; r++) {
      const row = cells.subarray(r * bins, (r + 1) * bins);
      const mean = meanOfPresent(row);
      row.forEach((x, b) => (row[b] = x - mean));
    }
    return { cells, days };
  }
  for (let b = 0; b < bins; b++) {
    const mean = meanOfPresent(Float64Array.from(days, (_, r) => cells[r * bins + b]!));
    for (let r = 0; r < days.length; r++) {
      cells[r * bins + b]! -= mean;
    }
  }
  return { cells, days };
}

/** The mean of the values that are not NaN (0 when none are). */
function meanOfPresent(xs: Float64Array): number {
  const present = xs.filter((x) => !Number.isNaN(x));
  return present.reduce((a, x) => a + x, 0) / Math.max(1, present.length);
}

/** Between-group sum of squares of the (bin-centred) cells grouped by day label and bin, and the group x bin means. */
function between(cells: Float64Array, labels: Int32Array, bins: number): { ss: number; means: Float64Array } {
  return groupSs(cells, labels.length, bins, WEEK_DAYS * bins, (r, b) => labels[r]! * bins + b);
}

/** Sum over groups of (sum of its cells)^2 / count, each cell (r, b) not NaN in group(r, b), and each group's mean (0 when empty). */
function groupSs(cells: Float64Array, rows: number, bins: number, groups: number, group: (r: number, b: number) => number): { ss: number; means: Float64Array } {
  const sum = new Float64Array(groups);
  const count = new Float64Array(groups);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < bins; b++) {
      const x = cells[r * bins + b]!;
      if (!Number.isNaN(x)) {
        sum[group(r, b)]! += x;
        count[group(r, b)]!++;
      }
    }
  }
  let ss = 0;
  for (let g = 0; g < groups; g++) {
    ss += count[g]! > 0 ? sum[g]! ** 2 / count[g]! : 0;
  }
  return { ss, means: sum.map((s, g) => (count[g]! > 0 ? s / count[g]! : 0)) };
}

/** Fisher-Yates, in place. */
function shuffle(a: Int32Array, random: Random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = random.below(i + 1);
    const x = a[i]!;
    a[i] = a[j]!;
    a[j] = x;
  }
}
