/** Timestamps as users' data and Postgres write them. */

// ISO 8601 as Python's isoformat(), pandas and JavaScript write it: date, optional time with
// any number of fraction digits, optional Z or offset. A space may stand for the T.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/i;

/** Parses ISO 8601 text; a timestamp without offset is UTC (docs/behaviour.md, "Ingest"). Fractions below 1 ms are cut. */
export function parseIsoTimestamp(text: string): number | undefined {
  const match = ISO.exec(text);
  if (match === null) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  const ms = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  if (date.getUTCDate() !== day) {
    return undefined; // 2024-02-30
  }
  let time = date.getTime();
  if (zulu === undefined && sign !== undefined) {
    const offset = Number(offsetHours) * 60 + Number(offsetMinutes ?? 0);
    if (Number(offsetHours) > 23 || Number(offsetMinutes ?? 0) > 59) {
      return undefined;
    }
    time -= (sign === '-' ? -1 : 1) * offset * 60_000;
  }
  return Number.isNaN(time) ? undefined : time;
}
