/** What a row of a metrics table says (CONTRACT.md, "Postgres"). */
export const METRIC_TYPES = [
  'metric',
  'score',
  'alert',
  'change',
  'tholdalert',
  'llmalert',
  'thumbsup',
  'thumbsdown',
] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

export interface MetricRow {
  metric_timestamp: Date;
  metric_batch: string;
  metric_name: string;
  metric_type: MetricType;
  metric_value: number;
  metadata: Record<string, unknown> | null;
}

/**
 * numpy's `round(x, decimals)`: scale by 10^decimals, round half to even on the scaled double,
 * scale back, on doubles as numpy does (so 2.675 gives 2.68 like numpy, not 2.67 like Python's round()).
 */
export function roundHalfEven(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const scaled = value * factor;
  if (!Number.isFinite(scaled) || Math.abs(scaled) >= 2 ** 52) {
    return value;
  }
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  const rounded = diff < 0.5 ? floor : diff > 0.5 ? floor + 1 : floor % 2 === 0 ? floor : floor + 1;
  const result = rounded / factor;
  return result === 0 ? 0 : result; // no -0
}

/**
 * A combined score as the score job stores it, and so as the alert job compares it with
 * `alert_threshold`: as the original, rounded to 3 places, then to `score_metric_rounding`.
 */
export function storedScore(score: number, scoreRounding: number): number {
  return roundHalfEven(roundHalfEven(score, 3), scoreRounding);
}
