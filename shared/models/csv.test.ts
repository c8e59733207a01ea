import { describe, expect, it } from 'vitest';
import { formatIsoTimestamp, parseUtcTimestamp } from './csv.js';

const AT = Date.UTC(2026, 11, 1, 15, 15, 0);

describe('parseUtcTimestamp', () => {
  it.each([
    ['Postgres timestamptz', '2026-12-01 15:15:00+00'],
    ['Postgres with microseconds', '2026-12-01 15:15:00.000000+00'],
    ['pandas', '2026-12-01 15:15:00+00:00'],
    ['ISO 8601 with Z', '2026-12-01T15:15:00Z'],
    ['ISO 8601 with milliseconds', '2026-12-01T15:15:00.000Z'],
    ['ISO 8601 basic offset', '2026-12-01T15:15:00+0000'],
    ['naive, read as UTC', '2026-12-01 15:15:00'],
    ['naive ISO, read as UTC', '2026-12-01T15:15'],
    ['another zone', '2026-12-01T17:15:00+02:00'],
    ['a negative zone, Postgres style', '2026-12-01 10:15:00-05'],
  ])('reads %s: %s', (_what, text) => {
    expect(parseUtcTimestamp(text)).toBe(AT);
  });

  it('reads a date alone as midnight UTC', () => {
    expect(parseUtcTimestamp('2026-12-01')).toBe(Date.UTC(2026, 11, 1));
  });

  it.each(['2026-02-31 00:00:00', '2026-12-01 25:00:00', '2026-12-01 15:15:00+00:99', 'yesterday', '2026-12-01 15:15:00 UTC+1'])('rejects %s', (text) => {
    expect(parseUtcTimestamp(text)).toBeNaN();
  });
});

describe('formatIsoTimestamp', () => {
  it('writes ISO 8601 in UTC with the zone, milliseconds only when there are some', () => {
    expect(formatIsoTimestamp(AT)).toBe('2026-12-01T15:15:00Z');
    expect(formatIsoTimestamp(AT + 250)).toBe('2026-12-01T15:15:00.250Z');
    expect(parseUtcTimestamp(formatIsoTimestamp(AT))).toBe(AT);
  });
});
