import { describe, expect, it } from 'vitest';
import { parseIsoTimestamp } from './timestamps.js';

describe('parseIsoTimestamp', () => {
  it.each([
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-05-01T12:30', '2024-05-01T12:30:00.000Z'],
    ['2024-05-01 12:30:15.123456789', '2024-05-01T12:30:15.123Z'],
    ['2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T12:00:00-0530', '2024-05-01T17:30:00.000Z'],
    ['2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00.500Z'],
    ['2024-05-01T12:00:00+00:00', '2024-05-01T12:00:00.000Z'],
  ])('reads %s', (text, iso) => {
    expect(new Date(parseIsoTimestamp(text)!).toISOString()).toBe(iso);
  });

  it.each(['2024-13-01', '2024-05-01T24:00', '05/01/2024', '2024-05-01T12:00:00+25:00', ''])('rejects %j', (text) => {
    expect(parseIsoTimestamp(text)).toBeUndefined();
  });
});

