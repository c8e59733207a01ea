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
  /** `alert_snooze_n`: no alert when an alert (or, by `snoozeMode`, a point at or above the threshold) is among the n scored points before t. */
  snoozeN: number;
  /**
   * `alert_snooze_mode`: `alert` (the original) counts the snooze from the last alert; `incident`
   * from the last point at or above the threshold, alerted or not, so a run of unusual points with
   * gaps shorter than snoozeN is one incident and alerts once, however long it lasts.
   */
  snoozeMode: 'incident' | 'alert';
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
    snoozeMode: config.alert_snooze_mode,
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
 * no alert (existing or found earlier in this pass) is among the `snoozeN` points before t, nor,
 * in `incident` mode, any point at or above the threshold;
 * the newest points are walked oldest first so an alert found now snoozes the ones after it.
 */
export function detectAlerts(points: readonly AlertInputPoint[], config: AlertDetectConfig): AlertDetection {
  const scoreSmooth = trailingMean(
    points.map((point) => point.score),
    config.smoothN,
  );
  const alerted = points.map((point) => point.alert);
  // What snoozes later points: an alert and, in incident mode, any point at or above the threshold
  // (with alert_always every point would be one, so there only alerts count).
  const holds = points.map((point, i) => point.alert || (config.snoozeMode === 'incident' && !config.always && scoreSmooth[i]! >= config.threshold));
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
      recent ||= alerted[j]! || holds[j]!;
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

/** Scores within this of the threshold count as near it: the metrics a user asks "why not?" about. */
export const NEAR_THRESHOLD = 0.25;

/** Why one metric did not alert in this run. */
export interface Silence {
  reason: 'too little data' | 'snoozed' | 'already alerted' | 'below threshold';
  /** In words, with the numbers. */
  detail: string;
  /** The best smoothed score among the newest alert_recent_n points, when there are any. */
  bestScore?: number;
  threshold: number;
}

/**
 * Explains a metric that did not newly alert: too little data, snoozed, already alerted, or its
 * best recent smoothed score against the threshold. Null for a metric that alerted, and for one
 * whose best score is far below the threshold (more than NEAR_THRESHOLD), which is counted only.
 */
export function explainSilence(
  points: readonly AlertInputPoint[],
  detection: AlertDetection,
  config: AlertDetectConfig,
  totalRows: number,
): Silence | null {
  const threshold = config.threshold;
  if (detection.alerts.length > 0) {
    return null;
  }
  if (points.length === 0) {
    return {
      reason: 'too little data',
      detail: totalRows === 0 ? 'no rows in the alert window' : `${totalRows} rows but none scored yet (the score job needs a trained model)`,
      threshold,
    };
  }
  const first = Math.max(0, points.length - Math.max(0, Math.floor(config.recentN)));
  const recent = detection.scoreSmooth.slice(first);
  const bestScore = Math.max(...recent);
  const rounded = Math.round(bestScore * 1e6) / 1e6;
  if (detection.snoozed.length > 0) {
    return {
      reason: 'snoozed',
      detail:
        config.snoozeMode === 'incident'
          ? `smoothed score ${rounded} >= alert_threshold ${threshold}, but the incident is ongoing: an alert or a point at or above the threshold fell within the last alert_snooze_n (${config.snoozeN}) points`
          : `smoothed score ${rounded} >= alert_threshold ${threshold}, but an alert fell within the last alert_snooze_n (${config.snoozeN}) points`,
      bestScore,
      threshold,
    };
  }
  const recentAlerted = points.slice(first).some((p) => p.alert);
  if (recentAlerted && bestScore >= threshold) {
    return { reason: 'already alerted', detail: `the newest points already have their alert (best smoothed score ${rounded})`, bestScore, threshold };
  }
  if (points.length <= config.smoothN) {
    return {
      reason: 'too little data',
      detail: `${points.length} scored points, fewer than alert_smooth_n + 1 (${config.smoothN + 1}): the smoothed score is over a short window; best ${rounded} < alert_threshold ${threshold}`,
      bestScore,
      threshold,
    };
  }
  if (bestScore < threshold - NEAR_THRESHOLD) {
    return null;
  }
  return {
    reason: 'below threshold',
    detail: `best smoothed score ${rounded} over the newest ${recent.length} points < alert_threshold ${threshold}`,
    bestScore,
    threshold,
  };
}
