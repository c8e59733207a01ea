/**
 * The alert rule for calibrated scores: a point alerts when its own score (no smoothing) is at least
 * `threshold` and no alert fell among the `snoozeN` scored points before it. This is the alert job's
 * rule (services/alert/src/alert-detect.ts) with alert_smooth_n 0, so the services need settings,
 * not code: smoothing averaged a lone spike away, and a calibrated score needs none.
 */
export interface AlertRule {
  /** `alert_threshold`: 1 - the tail probability at which a point alerts. */
  threshold: number;
  /** `alert_snooze_n`: scored points after an alert during which the metric does not alert again. */
  snoozeN: number;
}

export const DEFAULT_ALERT_RULE: AlertRule = {
  threshold: 0.999,
  snoozeN: 288,
};

/** Indexes (ascending) of the points, oldest first, that alert. */
export function decideAlerts(scores: readonly number[], rule: AlertRule): number[] {
  const alerts: number[] = [];
  let last = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! >= rule.threshold && i - last > rule.snoozeN) {
      alerts.push(i);
      last = i;
    }
  }
  return alerts;
}
