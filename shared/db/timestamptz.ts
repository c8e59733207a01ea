/**
 * timestamptz text as Postgres sends it in a UTC session ("2026-06-01 12:00:00+00", with up to 6
 * fraction digits), parsed without regular expressions: the train and score windows return a
 * timestamp per row, and pg's general parser (postgres-date) was their largest single cost in
 * Node. Anything else (another offset, years before 100, BC, infinity) goes to `fallback`, so the
 * result is the same Date either way.
 */
export function parseTimestamptz(text: string, fallback: (text: string) => unknown): unknown {
  const n = text.length;
  // 22 characters without a fraction; with one, 24 to 29 (a dot and 1 to 6 digits).
  const plain = n === 22;
  if (
    (plain || (n >= 24 && n <= 29 && text.charCodeAt(19) === DOT)) &&
    text.charCodeAt(n - 3) === PLUS &&
    text.charCodeAt(n - 2) === ZERO &&
    text.charCodeAt(n - 1) === ZERO &&
    text.charCodeAt(4) === DASH &&
    text.charCodeAt(7) === DASH &&
    text.charCodeAt(10) === SPACE &&
    text.charCodeAt(13) === COLON &&
    text.charCodeAt(16) === COLON
  ) {
    const year = digits(text, 0, 4);
    const month = digits(text, 5, 2);
    const day = digits(text, 8, 2);
    const hour = digits(text, 11, 2);
    const minute = digits(text, 14, 2);
    const second = digits(text, 17, 2);
    const fractionOk = plain || digits(text, 20, n - 23) >= 0;
    if (year >= 100 && month >= 0 && day >= 0 && hour >= 0 && minute >= 0 && second >= 0 && fractionOk) {
      // As postgres-date computes it, so a fraction rounds the same way.
      const ms = plain ? 0 : 1000 * parseFloat(text.slice(19, n - 3));
      return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
    }
  }
  return fallback(text);
}

const DOT = 46;
const PLUS = 43;
const ZERO = 48;
const DASH = 45;
const SPACE = 32;
const COLON = 58;

/** The decimal number in text[at, at + count), or -1 if any of those is not a digit. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) {
      return -1;
    }
    value = value * 10 + d;
  }
  return value;
}
