/**
 * Change detection (docs/behaviour.md, "Change"): PyOD's MAD detector on smoothed values, the last
 * `change_detect_last_n` points scored against the ones before them. The original never fired
 * (`combine_first` on a coalesced column; docs/behaviour.md, "Differences from the original"); this one flags what it scores.
 * Pure: no I/O.
 */
import { trailingMean } from '../../../shared/detect/alert-detect.js';

/** One value of one metric, oldest first in the input. */
export interface ChangeInputPoint {
  t: Date;
  value: number;
  /** A `change` row already exists at this point. */
  change: boolean;
}

export interface ChangeDetectConfig {
  /** `change_threshold`: a change when the MAD score is greater than this. */
  threshold: number;
  /** `change_smooth_n`: values are the mean of t and the n values before it, first. */
  smoothN: number;
  /** `change_detect_last_n`: how many of the newest points are scored against the rest. */
  detectLastN: number;
  /** `change_snooze_n`: no change while a change row is among the newest n points. */
  snoozeN: number;
}

export interface ChangeDetection {
  /** Smoothed value of every input point. */
  smoothed: number[];
  /** MAD score of every point against the training part (in-sample for the training points). */
  scores: number[];
  /** Indexes (ascending) of the points that are new changes. */
  changes: number[];
  /** Why nothing could be flagged, when that is the case for a reason other than low scores. */
  reason?: string;
}

/** Fewer training points than this make the median deviation meaningless; the metric waits. */
export const MIN_CHANGE_TRAIN_N = 3;

/** Numpy's median: the mean of the two middle values for an even count; NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `np.nan_to_num`: NaN to 0, +/-infinity to the largest finite double. */
function nanToNum(value: number): number {
  if (Number.isNaN(value)) {
    return 0;
  }
  if (value === Infinity) {
    return Number.MAX_VALUE;
  }
  if (value === -Infinity) {
    return -Number.MAX_VALUE;
  }
  return value;
}

/**
 * PyOD `MAD` (pyod/models/mad.py): fitted on `train`, score(x) = 0.6745 * |x - median(train)| /
 * median(|train - median(train)|), through np.nan_to_num (0/0 is 0, x/0 is about 1.8e308).
 * 0.6745 is 1 / 1.4826, so this equals |x - median| / (1.4826 * MAD).
 */
export function madScores(train: readonly number[], values: readonly number[]): number[] {
  const centre = median(train);
  const spread = median(train.map((x) => Math.abs(x - centre)));
  return values.map((x) => nanToNum((0.6745 * Math.abs(x - centre)) / spread));
}

/**
 * Flags the newest `detectLastN` smoothed values of one metric whose MAD score against the
 * earlier values is above the threshold. Snooze: nothing while a change row is among the newest
 * `snoozeN` points; a point with a change row is never flagged again; and, walking oldest first,
 * a change found now snoozes the `snoozeN` points after it.
 */
export function detectChanges(points: readonly ChangeInputPoint[], config: ChangeDetectConfig): ChangeDetection {
  const smoothed = trailingMean(
    points.map((point) => point.value),
    config.smoothN,
  );
  const detectN = Math.max(1, Math.floor(config.detectLastN));
  const snoozeN = Math.max(0, Math.floor(config.snoozeN));
  const trainN = smoothed.length - detectN;
  if (trainN < MIN_CHANGE_TRAIN_N) {
    return {
      smoothed,
      scores: smoothed.map(() => 0),
      changes: [],
      reason: `${points.length} points; change detection needs at least ${MIN_CHANGE_TRAIN_N + detectN}`,
    };
  }
  const scores = madScores(smoothed.slice(0, trainN), smoothed);
  if (points.slice(points.length - snoozeN).some((point) => point.change) && snoozeN > 0) {
    return { smoothed, scores, changes: [], reason: `snoozed: a change within the last ${snoozeN} points` };
  }
  const flagged = points.map((point) => point.change);
  const changes: number[] = [];
  for (let i = trainN; i < points.length; i++) {
    if (flagged[i] || !(scores[i]! > config.threshold)) {
      continue;
    }
    let recent = false;
    for (let j = Math.max(0, i - snoozeN); j < i; j++) {
      recent ||= flagged[j]!;
    }
    if (!recent) {
      flagged[i] = true;
      changes.push(i);
    }
  }
  return { smoothed, scores, changes };
}
