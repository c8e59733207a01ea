/** A chart window: `24h`, `7d` (since a time) or `500n` (the newest points of each metric). */
export interface Window {
  label: string;
  since: Date | null;
  points: number | null;
}

export const WINDOW_CHOICES = ['24h', '7d', '30d', '500n'] as const;
const LIMITS = { h: 24 * 366, d: 3660, n: 20_000 } as const;

function tryParse(raw: unknown, now: Date): Window | null {
  const match = typeof raw === 'string' ? /^([1-9]\d{0,4})([hdn])$/.exec(raw) : null;
  const unit = match?.[2] as keyof typeof LIMITS | undefined;
  const amount = Number(match?.[1]);
  if (!unit || amount > LIMITS[unit]) {
    return null;
  }
  const label = `${amount}${unit}`;
  if (unit === 'n') {
    return { label, since: null, points: amount };
  }
  return { label, since: new Date(now.getTime() - amount * (unit === 'h' ? 3_600_000 : 86_400_000)), points: null };
}

/** Parses `<n>h`, `<n>d` or `<n>n`; anything else (or out of range) is the fallback. */
export function parseWindow(raw: unknown, now: Date, fallback = '24h'): Window {
  return tryParse(raw, now) ?? tryParse(fallback, now) ?? { label: '24h', since: new Date(now.getTime() - 86_400_000), points: null };
}
