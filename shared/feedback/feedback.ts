/**
 * What a thumbs-up/down does to detection (docs/behaviour.md, "Feedback"). Pure: the train and
 * alert cores read the verdicts (shared/feedback/read.ts) and ask this module what to do.
 *
 * - A thumbs-down marks a false alarm. Its point is kept out of training, so a glitch the user
 *   waved off does not widen the model's idea of normal; and for `alert_feedback_horizon_days`
 *   after it, a new alert of that metric whose smoothed score is no higher than the judged
 *   alert's is suppressed (the user said that much deviation is fine).
 * - A thumbs-up confirms an alert. It is kept in training, and it lifts the suppression of any
 *   older thumbs-down at or above its score: "this level is real" overrides "that level was fine".
 */
import type { BatchConfig } from '../config/schema.js';

export interface Verdict {
  metric: string;
  t: Date;
  verdict: 'up' | 'down';
  /** The smoothed score of the `alert` row judged; null when the verdict is on another alert type. */
  scoreSmooth: number | null;
}

export interface FeedbackRule {
  /** How long a thumbs-down suppresses similar alerts; 0 turns suppression off. */
  horizonMs: number;
}

const DAY_MS = 86_400_000;

export function feedbackRule(config: Pick<BatchConfig, 'alert_feedback_horizon_days'>): FeedbackRule {
  return { horizonMs: config.alert_feedback_horizon_days * DAY_MS };
}

/** The points of each metric with a thumbs-down at their time removed; how many were removed. */
export function withoutFalseAlarms<P extends { t: number }>(
  series: ReadonlyMap<string, P[]>,
  verdicts: readonly Verdict[],
): { series: Map<string, P[]>; excluded: number } {
  const down = new Map<string, Set<number>>();
  for (const v of verdicts) {
    if (v.verdict === 'down') {
      const times = down.get(v.metric) ?? new Set<number>();
      times.add(v.t.getTime());
      down.set(v.metric, times);
    }
  }
  let excluded = 0;
  const out = new Map<string, P[]>();
  for (const [metric, points] of series) {
    const times = down.get(metric);
    const kept = times === undefined ? points : points.filter((p) => !times.has(p.t));
    excluded += points.length - kept.length;
    out.set(metric, kept);
  }
  return { series: out, excluded };
}

export interface Suppression {
  /** The thumbs-down that suppresses the alert. */
  by: Verdict;
}

/**
 * Whether a would-be alert of `metric` at `t` with smoothed score `scoreSmooth` is suppressed:
 * a thumbs-down on that metric within the horizon before t, judged at a smoothed score >= this
 * one, with no thumbs-up after it at a score <= this one. Null: the alert fires.
 */
export function suppressedBy(
  verdicts: readonly Verdict[],
  metric: string,
  t: Date,
  scoreSmooth: number,
  rule: FeedbackRule,
): Suppression | null {
  if (rule.horizonMs <= 0) {
    return null;
  }
  const at = t.getTime();
  const inHorizon = verdicts.filter(
    (v) => v.metric === metric && v.scoreSmooth !== null && v.t.getTime() < at && at - v.t.getTime() <= rule.horizonMs,
  );
  const confirmed = inHorizon.filter((v) => v.verdict === 'up' && v.scoreSmooth! <= scoreSmooth);
  // The newest qualifying thumbs-down that no later confirmation overrides.
  const downs = inHorizon
    .filter((v) => v.verdict === 'down' && scoreSmooth <= v.scoreSmooth!)
    .filter((d) => !confirmed.some((u) => u.t.getTime() > d.t.getTime()))
    .sort((a, b) => b.t.getTime() - a.t.getTime());
  return downs[0] === undefined ? null : { by: downs[0] };
}
