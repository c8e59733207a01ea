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

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A timestamp as Postgres (`2026-12-01 15:15:00+00`, `+05:30`), pandas (`+00:00`) and ISO (`T`, `Z`)
 * print it, or naive, which means UTC (docs/behaviour.md, "Ingest"); epoch ms, NaN when malformed.
 */
export function parseUtcTimestamp(text: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) {
    return NaN;
  }
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.round(Number(`0${frac}`) * 1000);
  // Date.UTC rolls 2024-02-31 over to March, and 25:00 into the next day: reject instead.
  const check = new Date(local);
  if (check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi)) {
    return NaN;
  }
  return local - offsetMs(zone);
}

/** `Z`, `+HH`, `+HHMM` or `+HH:MM` in ms east of UTC. */
function offsetMs(zone: string): number {
  if (zone === 'Z' || zone === 'z') {
    return 0;
  }
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0')) * 60_000;
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC. */
export function formatUtcTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
