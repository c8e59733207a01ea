/** What a row of a metrics table says (docs/contract.md, "Postgres"). */
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

/**
 * What the metrics tables can store, so that a row Postgres would refuse is rejected first, as
 * the batch's input error naming row and column: timestamps in the years 0001 to 9999 (UTC;
 * ISO text and the COPY path have no others), names without NUL characters (Postgres text has
 * none) and short enough for the unique index (btree entries are limited to about 2,700 bytes).
 */
export const STORABLE = {
  /** 0001-01-01T00:00:00.000Z (Date.UTC would read year 1 as 1901). */
  minTime: -62_135_596_800_000,
  /** 9999-12-31T23:59:59.999Z */
  maxTime: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  maxNameChars: 1000,
  maxNameBytes: 2000,
} as const;

/** Why `time` (epoch ms) cannot be stored, or null. */
export function unstorableTime(time: number): string | null {
  return time < STORABLE.minTime || time > STORABLE.maxTime ? 'is outside the years 0001 to 9999 (UTC)' : null;
}

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
 * `alert_threshold`: as the original, rounded to 3 places, then to `score_metric_rounding`. A
 * calibrated score (every model a tail probability, e.g. Conformal) skips the 3 places: its
 * meaning is near 1, where 0.9995 (1 in 2,000) and 0.99999 (1 in 100,000) would both store as 1.
 */
export function storedScore(score: number, scoreRounding: number, calibrated = false): number {
  return calibrated ? roundHalfEven(score, scoreRounding) : roundHalfEven(roundHalfEven(score, 3), scoreRounding);
}
