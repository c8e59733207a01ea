import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from './timestamptz.js';

// pg's own timestamptz parser (postgres-date), before shared/db/pool.ts replaces it.
const general = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => unknown;

const same = (text: string): void => {
  const fast = parseTimestamptz(text, general);
  const slow = general(text);
  expect(fast instanceof Date ? fast.getTime() : fast, text).toEqual(slow instanceof Date ? slow.getTime() : slow);
};

describe('parseTimestamptz', () => {
  it('gives what the general parser gives for UTC timestamps, with and without fractions', () => {
    for (const text of [
      '2026-06-01 12:00:00+00',
      '1970-01-01 00:00:00+00',
      '2024-02-29 23:59:59+00',
      '2026-06-01 12:00:00.5+00',
      '2026-06-01 12:00:00.123+00',
      '2026-06-01 12:00:00.1234+00',
      '2026-06-01 12:00:00.999999+00',
      '2026-06-01 12:00:00.000001+00',
      '0100-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999999+00',
    ]) {
      same(text);
    }
    let seed = 7;
    const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let i = 0; i < 2000; i++) {
      const iso = new Date(Math.floor(random() * 4e12)).toISOString();
      const fraction = String(Math.floor(random() * 1e6)).padStart(6, '0').slice(0, 1 + Math.floor(random() * 6));
      same(`${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}+00`);
      same(`${iso.slice(0, 10)} ${iso.slice(11, 19)}+00`);
    }
  });

  it('hands everything else to the general parser', () => {
    for (const text of ['2026-06-01 12:00:00+02', '2026-06-01 12:00:00-05:30', '0099-01-01 00:00:00+00', '0044-03-15 12:00:00+00 BC', 'infinity', '-infinity', '2026-06-01 1a:00:00+00']) {
      const calls: string[] = [];
      const fallback = (t: string): unknown => {
        calls.push(t);
        return general(t);
      };
      parseTimestamptz(text, fallback);
      expect(calls, text).toEqual([text]);
      same(text);
    }
  });
});
