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

/** Round half to even, as numpy and pandas round. */
export function roundHalfEven(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const scaled = value * factor;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  const epsilon = 1e-9 * Math.max(1, Math.abs(scaled));
  let rounded: number;
  if (Math.abs(diff - 0.5) < epsilon) {
    rounded = floor % 2 === 0 ? floor : floor + 1;
  } else {
    rounded = Math.round(scaled);
  }
  return rounded / factor;
}
