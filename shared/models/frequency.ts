const UNIT_MS: Record<string, number> = {
  ms: 1,
  L: 1,
  s: 1_000,
  S: 1_000,
  T: 60_000,
  min: 60_000,
  h: 3_600_000,
  H: 3_600_000,
  d: 86_400_000,
  D: 86_400_000,
};

const FREQ_PATTERN = /^(\d+)?\s*([A-Za-z]+)$/;

/**
 * Length in ms of a fixed pandas offset alias such as '5min', '10T', '1h', 'H', '1D'.
 * Calendar offsets ('W', 'M', 'Q', ...) have no fixed length and are rejected.
 */
export function parseFrequency(freq: string): number {
  const match = FREQ_PATTERN.exec(freq.trim());
  const unit = match?.[2];
  const unitMs = unit === undefined ? undefined : UNIT_MS[unit];
  if (match === null || unitMs === undefined) {
    throw new Error(
      `unsupported freq '${freq}': use a fixed pandas offset alias such as '30s', '5min', '1h' or '1D' ` +
        `(units: ${Object.keys(UNIT_MS).join(', ')})`,
    );
  }
  const multiple = match[1] === undefined ? 1 : Number(match[1]);
  if (multiple <= 0) {
    throw new Error(`unsupported freq '${freq}': the multiple must be positive`);
  }
  return multiple * unitMs;
}

const DAY_MS = 86_400_000;

/** First bin start as pandas' resample(origin='start_day'): bins count from midnight (UTC) of the first day. */
export function firstBinStart(firstMs: number, stepMs: number): number {
  const midnight = Math.floor(firstMs / DAY_MS) * DAY_MS;
  return midnight + Math.floor((firstMs - midnight) / stepMs) * stepMs;
}
