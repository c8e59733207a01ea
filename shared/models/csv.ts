/** Splits one CSV line, honouring double-quoted fields ("a,b" and "" escapes). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}

export function quoteCsvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/i;

/**
 * A timestamp as Postgres, pandas and ISO 8601 print it: `YYYY-MM-DD[ |T]HH:MM[:SS[.fff...]]`
 * with a zone of `Z`, `+HH`, `+HHMM` or `+HH:MM` (Postgres writes `+00`), or none, which is
 * UTC. Returns epoch ms; NaN when malformed.
 */
export function parseUtcTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) {
    return NaN;
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', , sign, zh = '0', zm = '0'] = m;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || Number(zh) > 23 || Number(zm) > 59) {
    return NaN;
  }
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.round(Number(`0${frac}`) * 1000);
  // Date.UTC rolls 2024-02-31 over to March: reject instead.
  if (new Date(local).getUTCDate() !== Number(d)) {
    return NaN;
  }
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
  return sign === undefined ? local : local - offsetMs;
}

/** ISO 8601 in UTC with the zone: `2026-12-01T15:15:00Z` (milliseconds only when there are any). */
export function formatIsoTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC. */
export function formatUtcTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
