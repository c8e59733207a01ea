import { describe, expect, it } from 'vitest';

import { IngestInputError } from './ingest-fn/errors.js';
import { validateIngestRows } from './validate-rows.js';

const T = '2024-01-01T00:00:00Z';

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('validateIngestRows', () => {
  it('returns metric rows with the batch, type metric and parsed timestamps', () => {
    // When
    const { rows, warnings } = validateIngestRows(
      'b',
      [
        { metric_name: ' cpu ', metric_value: 1.23456, metric_timestamp: '2024-01-01 10:00:00' },
        { metric_name: 'mem', metric_value: '3.5', metric_timestamp: 1_704_067_200_000, metadata: '{"host":"a"}' },
        { metric_name: 'disk', metric_value: -2, metric_timestamp: new Date(T), metadata: { k: 1 } },
      ],
      { rounding: 4 },
    );
    // Then
    expect(warnings).toEqual([]);
    expect(rows).toEqual([
      { metric_timestamp: new Date('2024-01-01T10:00:00Z'), metric_batch: 'b', metric_name: 'cpu', metric_type: 'metric', metric_value: 1.2346, metadata: null },
      { metric_timestamp: new Date(T), metric_batch: 'b', metric_name: 'mem', metric_type: 'metric', metric_value: 3.5, metadata: { host: 'a' } },
      { metric_timestamp: new Date(T), metric_batch: 'b', metric_name: 'disk', metric_type: 'metric', metric_value: -2, metadata: { k: 1 } },
    ]);
  });

  it('fails on zero rows', () => {
    const error = errorOf(() => validateIngestRows('b', [], { rounding: 4 }));
    expect(error).toBeInstanceOf(IngestInputError);
    expect(error.message).toBe('batch "b": ingest returned no rows');
  });

  it('names the row, column, problem and value', () => {
    const rows = [
      { metric_name: 'ok', metric_value: 1, metric_timestamp: T },
      { metric_name: 'ok', metric_value: 1, metric_timestamp: T },
      { metric_name: 'ok', metric_value: 1, metric_timestamp: T },
      { metric_name: 'x', metric_value: 'abc', metric_timestamp: T },
    ];
    expect(() => validateIngestRows('x', rows, { rounding: 4 })).toThrow(
      new IngestInputError('batch "x": row 3: metric_value: "abc" is not a number'),
    );
  });

  it.each([
    [{ metric_value: null }, 'metric_value: is missing (null)'],
    [{ metric_value: true }, 'metric_value: true is not a number'],
    [{ metric_value: 'NaN' }, 'metric_value: NaN is not a finite number'],
    [{ metric_value: '-Infinity' }, 'metric_value: -Infinity is not a finite number'],
    [{ metric_value: Number.NaN }, 'metric_value: NaN is not a finite number'],
    [{ metric_value: '0x10' }, 'metric_value: "0x10" is not a number'],
    [{ metric_value: '' }, 'metric_value: "" is not a number'],
    [{ metric_name: '  ' }, 'metric_name: is empty'],
    [{ metric_name: 7 }, 'metric_name: 7 is not text'],
    [{ metric_name: null }, 'metric_name: is missing'],
    [{ metric_timestamp: 'yesterday' }, 'metric_timestamp: "yesterday" is not an ISO 8601 timestamp'],
    [{ metric_timestamp: '2024-02-30' }, 'metric_timestamp: "2024-02-30" is not an ISO 8601 timestamp'],
    [{ metric_timestamp: null }, 'metric_timestamp: is missing (null)'],
    [{ metric_timestamp: new Date(Number.NaN) }, 'metric_timestamp: is an invalid Date'],
    [{ metadata: 'not json' }, 'metadata: "not json" is not JSON'],
    [{ metadata: '[1]' }, 'metadata: "[1]" is not a JSON object'],
    [{ metadata: 5 }, 'metadata: 5 is not an object or JSON text'],
    // Issue 14 item 9: valid here, refused by Postgres (a raw error, retried 5 times).
    [{ metric_timestamp: '10000-01-01T00:00:00Z' }, 'metric_timestamp: "10000-01-01T00:00:00Z" is not an ISO 8601 timestamp'],
    [{ metric_timestamp: '9999-12-31T23:00:00-02:00' }, 'metric_timestamp: "9999-12-31T23:00:00-02:00" is outside the years 0001 to 9999 (UTC)'],
    [{ metric_timestamp: '0000-06-01' }, 'metric_timestamp: "0000-06-01" is outside the years 0001 to 9999 (UTC)'],
    [{ metric_timestamp: new Date(Date.UTC(10000, 0, 1)) }, 'metric_timestamp: +010000-01-01T00:00:00.000Z is outside the years 0001 to 9999 (UTC)'],
    [{ metric_timestamp: Date.UTC(12000, 0, 1) }, `metric_timestamp: ${Date.UTC(12000, 0, 1)} is outside the years 0001 to 9999 (UTC)`],
    [{ metric_timestamp: -62198755200000 }, 'metric_timestamp: -62198755200000 is outside the years 0001 to 9999 (UTC)'],
    [{ metric_name: 'bad\u0000name' }, 'metric_name: "bad\\u0000name" contains a NUL character'],
    [{ metric_name: 'n'.repeat(1001) }, 'metric_name: is 1001 characters long (at most 1000)'],
    [{ metric_name: '€'.repeat(700) }, 'metric_name: is 2100 bytes of UTF-8 (at most 2000)'],
    [{ metadata: { note: 'a\u0000b' } }, 'metadata: contains a NUL character'],
    [{ metadata: { ['k\u0000']: 1 } }, 'metadata: contains a NUL character'],
  ])('rejects %j', (patch, problem) => {
    const row = { metric_name: 'm', metric_value: 1, metric_timestamp: T, ...patch };
    expect(() => validateIngestRows('b', [row], { rounding: 4 })).toThrow(`batch "b": row 0: ${problem}`);
  });

  it('accepts the edges of the storable range and a 1000-character name', () => {
    const rows = [
      { metric_name: 'n'.repeat(1000), metric_value: 1, metric_timestamp: '0001-01-01T00:00:00Z' },
      { metric_name: 'm', metric_value: 1, metric_timestamp: '9999-12-31T23:59:59.999Z' },
    ];
    expect(validateIngestRows('b', rows, { rounding: 4 }).rows).toHaveLength(2);
  });

  it('truncates long values and lists at most 10 problems', () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ metric_name: 'm', metric_value: 'v'.repeat(200), metric_timestamp: T, i }));
    const message = errorOf(() => validateIngestRows('b', rows, { rounding: 4 })).message;
    expect(message).toContain(`row 0: metric_value: "${'v'.repeat(59)}… is not a number`);
    expect(message).toContain('row 9:');
    expect(message).not.toContain('row 10:');
    expect(message).toMatch(/and 15 more problems$/);
  });

  it('reports a column missing from every row once', () => {
    const message = errorOf(() => validateIngestRows('b', [{ metric_name: 'a', value: 1 }, { metric_name: 'b', value: 2 }], { rounding: 4 })).message;
    expect(message).toBe('batch "b": missing columns metric_value, metric_timestamp (columns returned: metric_name, value)');
  });

  it('rejects rows that are not objects', () => {
    expect(() => validateIngestRows('b', [[1, 2]] as unknown as Record<string, unknown>[], { rounding: 4 })).toThrow(
      'batch "b": row 0: is an array, not an object',
    );
  });

  it('drops extra columns and overwrites a different metric_batch with warnings', () => {
    const { rows, warnings } = validateIngestRows(
      'b',
      [
        { metric_name: 'a', metric_value: 1, metric_timestamp: T, metric_batch: 'other', zeta: 1, alpha: 2 },
        { metric_name: 'c', metric_value: 1, metric_timestamp: T, metric_batch: 'b', metric_type: 'metric' },
      ],
      { rounding: 4 },
    );
    expect(rows.every((r) => r.metric_batch === 'b')).toBe(true);
    expect(warnings).toEqual([
      'batch "b": dropped extra columns: alpha, zeta',
      'batch "b": 1 rows had metric_batch "other"; set to "b"',
    ]);
  });

  it('averages duplicates of (name, timestamp), keeping the last metadata', () => {
    const { rows, warnings } = validateIngestRows(
      'b',
      [
        { metric_name: 'a', metric_value: 1, metric_timestamp: '2024-01-01T01:00:00+01:00', metadata: { n: 1 } },
        { metric_name: 'b', metric_value: 7, metric_timestamp: T },
        { metric_name: 'a', metric_value: 2, metric_timestamp: T, metadata: { n: 2 } },
        { metric_name: 'a', metric_value: 4, metric_timestamp: Date.parse(T), metadata: { n: 3 } },
      ],
      { rounding: 2 },
    );
    expect(rows.map((r) => [r.metric_name, r.metric_value, r.metadata])).toEqual([
      ['a', 2.33, { n: 3 }],
      ['b', 7, null],
    ]);
    expect(warnings).toEqual(['batch "b": 2 duplicate (metric_name, metric_timestamp) rows averaged, e.g. "a" at 2024-01-01T00:00:00.000Z (3 rows)']);
  });

  it('warns when epoch numbers look like seconds', () => {
    const { warnings } = validateIngestRows('b', [{ metric_name: 'a', metric_value: 1, metric_timestamp: 1_704_067_200 }], { rounding: 4 });
    expect(warnings.join()).toContain('epoch seconds?');
  });
});
