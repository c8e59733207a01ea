import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { cronProblem, isPlainCron } from './cron.js';

const parses = (expression: string): boolean => {
  try {
    CronExpressionParser.parse(expression, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
};

/** Items around every edge of a field's range: in, out, reversed, steps too wide or zero. */
function candidates(lo: number, hi: number): string[] {
  const values = [lo - 1, lo, lo + 1, Math.floor((lo + hi) / 2), hi - 1, hi, hi + 1, 60, 99];
  const steps = [0, 1, 2, hi - lo - 1, hi - lo, hi - lo + 1, 100];
  const items = ['*', ...values.map(String), '05', '-1', ''];
  for (const step of steps) {
    items.push(`*/${step}`, `${lo}/${step}`);
    for (const [a, b] of [[lo, hi], [lo + 1, hi - 1], [hi, lo], [lo, hi + 1], [lo - 1, hi]]) {
      items.push(`${a}-${b}/${step}`);
    }
  }
  for (const [a, b] of [[lo, hi], [hi, lo], [lo, lo], [lo, hi + 1]]) {
    items.push(`${a}-${b}`);
  }
  return items;
}

const RANGES: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];

describe('cron schedules: the plain check agrees with cron-parser', () => {
  it('accepts only what cron-parser accepts, field by field and in lists', () => {
    let plain = 0;
    RANGES.forEach(([lo, hi], position) => {
      const items = candidates(lo, hi);
      const fields = [...items, ...items.slice(0, 12).map((item, i) => `${item},${items[(i * 7) % items.length]}`)];
      for (const field of fields) {
        const expression = RANGES.map((_, i) => (i === position ? field : '*')).join(' ');
        if (isPlainCron(expression)) {
          plain += 1;
          expect(parses(expression), expression).toBe(true);
        }
      }
    });
    expect(plain).toBeGreaterThan(50);
  });

  it('takes the common schedules on the plain path', () => {
    for (const expression of ['*/2 * * * *', '0 0 * * *', '0 6 * * *', ' 0  9 * * 1-5 ', '0,30 */6 1-15 * 0', '0 0 * 1,7 0']) {
      expect(isPlainCron(expression), expression).toBe(true);
      expect(cronProblem(expression)).toBeNull();
    }
  });

  it('leaves a day of month with a month named to cron-parser, which refuses a day no listed month has', () => {
    for (const expression of ['0 0 30 2 *', '0 0 31 4 *', '0 0 31 2,4 *']) {
      expect(cronProblem(expression), expression).toContain('is not a valid cron expression');
    }
    expect(cronProblem('0 0 15 2 *')).toBeNull();
  });

  it("gives cron-parser's message for the rest, and still takes what cron-parser does", () => {
    expect(cronProblem('*/2 * * 13 *')).toBe('"*/2 * * 13 *" is not a valid cron expression (Constraint error, got value 13 expected range 1-12)');
    expect(cronProblem('0 0 * * MON')).toBeNull();
    expect(cronProblem('@daily')).toBe('"@daily" is not a 5-field cron expression');
    expect(cronProblem('0 0 0 * * *')).toBeNull();
    expect(cronProblem('1 2 3 4 5 6 7')).toMatch(/^"1 2 3 4 5 6 7" is not a valid cron expression \(Invalid cron expression, too many fields\)$/);
  });
});
