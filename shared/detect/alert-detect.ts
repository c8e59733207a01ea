/**
 * Anomaly alert detection (docs/behaviour.md, "Alerts"): the config's intended semantics, not the
 * original SQL's reversed window frames (docs/behaviour.md, "Differences from the original"). Pure: no
 * I/O. The alert job and `anomstack backtest` both decide alerts here, so a backtest sends what
 * the service would.
 */
import type { BatchConfig } from '../config/schema.js';

/** One scored point of one metric, oldest first in the input. */
export interface AlertInputPoint {
  t: Date;
  value: number;
  /** The combined 0-1 anomaly score. */
  score: number;
  /** An `alert` row already exists at this point. */
  alert: boolean;
}

export interface AlertDetectConfig {
  /** `alert_threshold`: alert when the smoothed score is at least this. */
  threshold: number;
  /** `alert_always`: alert whatever the score (snooze still applies). */
  always: boolean;
  /** `alert_smooth_n`: the smoothed score at t is the mean of t and the n points before it. */
  smoothN: number;
  /** `alert_snooze_n`: no alert when an alert exists within the n scored points before t. */
  snoozeN: number;
  /** `alert_recent_n`: only the newest n points can newly alert. */
  recentN: number;
}

/** The alert rule a batch's config sets (`alert_threshold`, `alert_always`, `alert_*_n`). */
export function alertDetectConfig(config: BatchConfig): AlertDetectConfig {
  return {
    threshold: config.alert_threshold,
    always: config.alert_always,
    smoothN: config.alert_smooth_n,
    snoozeN: config.alert_snooze_n,
    recentN: config.alert_recent_n,
  };
}

export interface AlertDetection {
  /** The smoothed score of every input point, same order. */
  scoreSmooth: number[];
  /** Indexes (into the input, ascending) of the points that alert now. */
  alerts: number[];
  /** Indexes among the newest recentN that crossed the threshold but were snoozed. */
  snoozed: number[];
}

/**
 * Mean of `values[i - n] .. values[i]` for each i (fewer at the start), the trailing window
 * `rows between n preceding and current row` taken in time order.
 */
export function trailingMean(values: readonly number[], n: number): number[] {
  const window = Math.max(0, Math.floor(n));
  // Summed afresh per point (windows are small): a running sum drifts, and a score exactly at
  // the threshold must compare as equal.
  return values.map((_, i) => {
    const start = Math.max(0, i - window);
    let sum = 0;
    for (let j = start; j <= i; j++) {
      sum += values[j]!;
    }
    return sum / (i - start + 1);
  });
}

/**
 * Decides which of one metric's newest `recentN` scored points alert. Points are oldest first.
 * A point t alerts when smooth(t) >= threshold (or `always`), no alert exists at t already, and
 * no alert (existing or found earlier in this pass) is among the `snoozeN` points before t;
 * the newest points are walked oldest first so an alert found now snoozes the ones after it.
 */
export function detectAlerts(points: readonly AlertInputPoint[], config: AlertDetectConfig): AlertDetection {
  const scoreSmooth = trailingMean(
    points.map((point) => point.score),
    config.smoothN,
  );
  const alerted = points.map((point) => point.alert);
  const alerts: number[] = [];
  const snoozed: number[] = [];
  const first = Math.max(0, points.length - Math.max(0, Math.floor(config.recentN)));
  for (let i = first; i < points.length; i++) {
    if (alerted[i]) {
      continue;
    }
    if (!(config.always || scoreSmooth[i]! >= config.threshold)) {
      continue;
    }
    let recent = false;
    for (let j = Math.max(0, i - Math.floor(config.snoozeN)); j < i; j++) {
      recent ||= alerted[j]!;
    }
    if (recent) {
      snoozed.push(i);
      continue;
    }
    alerted[i] = true;
    alerts.push(i);
  }
  return { scoreSmooth, alerts, snoozed };
}
