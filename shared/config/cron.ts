import { createRequire } from 'node:module';
import type { CronExpressionParser } from 'cron-parser';

/**
 * The check of a `<job>_cron_schedule`. cron-parser (with luxon, which it loads and initialises
 * on the first parse) cost about 0.1 s of every `validate`, and almost every schedule is a plain
 * five-field expression of numbers, `*`, ranges, steps and lists. Those are checked here; every
 * other expression (names, `L`, `#`, `H`, `?`, seconds, `@daily`) and every one this check does
 * not pass goes to cron-parser, so what is rejected is rejected with cron-parser's own message.
 * The plain check accepts only what cron-parser accepts (shared/config/cron.test.ts).
 */

/** minute, hour, day of month, month, day of week: the values cron-parser takes. */
const FIELD_RANGES: readonly (readonly [number, number])[] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

const NUMBER = '(0|[1-9][0-9]?)';
const ITEM = new RegExp(`^(?:(\\*)|${NUMBER}(?:-${NUMBER})?)(?:/${NUMBER})?$`);

/** One plain item within [lo, hi]: `*`, `n`, `a-b`, each with an optional `/step` no wider than its span. */
function plainItem(item: string, lo: number, hi: number): boolean {
  const match = ITEM.exec(item);
  if (match === null) {
    return false;
  }
  const [, star, a, b, step] = match;
  const from = star === undefined ? Number(a) : lo;
  const to = star === undefined ? (b === undefined ? from : Number(b)) : hi;
  if (from < lo || to > hi || from > to) {
    return false;
  }
  if (step === undefined) {
    return true;
  }
  // `n/step` alone means "from n to the end" in some crons: left to cron-parser.
  return (star !== undefined || b !== undefined) && Number(step) >= 1 && Number(step) <= to - from;
}

/** True for a five-field expression of plain items in range (see plainItem). */
export function isPlainCron(expression: string): boolean {
  const fields = expression.trim().split(/\s+/);
  return (
    fields.length === 5 &&
    // A day of month with a month named (`0 0 30 2 *`) may be one no listed month has: cron-parser decides.
    (fields[2] === '*' || fields[3] === '*') &&
    fields.every((field, i) => {
      const items = field.split(',');
      // cron-parser refuses a wildcard inside a list.
      return (items.length === 1 || !field.includes('*')) && items.every((item) => plainItem(item, ...FIELD_RANGES[i]!));
    })
  );
}

let parser: typeof CronExpressionParser | null = null;

/** What is wrong with a cron schedule, or null. */
export function cronProblem(v: string): string | null {
  if (isPlainCron(v)) {
    return null;
  }
  parser ??= (createRequire(import.meta.url)('cron-parser') as { CronExpressionParser: typeof CronExpressionParser }).CronExpressionParser;
  try {
    parser.parse(v, { tz: 'UTC' });
  } catch (error) {
    return `"${v}" is not a valid cron expression (${(error as Error).message})`;
  }
  const fields = v.trim().split(/\s+/).length;
  return fields === 5 || fields === 6 ? null : `"${v}" is not a 5-field cron expression`;
}
