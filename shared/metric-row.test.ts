import { describe, expect, it } from 'vitest';
import { roundHalfEven, storedScore } from './metric-row.js';

describe('roundHalfEven', () => {
  it('rounds as numpy does', () => {
    expect(roundHalfEven(0.125, 2)).toBe(0.12); // exact half: to even
    expect(roundHalfEven(0.375, 2)).toBe(0.38);
    expect(roundHalfEven(2.5, 0)).toBe(2);
    expect(roundHalfEven(-2.5, 0)).toBe(-2);
    expect(roundHalfEven(2.675, 2)).toBe(2.68); // numpy too (2.675 * 100 is exactly 267.5); Python's round() says 2.67
    expect(roundHalfEven(1.23456, 4)).toBe(1.2346);
    expect(roundHalfEven(-0.00001, 4)).toBe(0);
    expect(Object.is(roundHalfEven(-0.00001, 4), -0)).toBe(false);
    expect(roundHalfEven(1e300, 4)).toBe(1e300);
  });
});

describe('storedScore', () => {
  it("rounds the original's models' scores to 3 places first, as the original stored them", () => {
    expect(storedScore(0.12345, 6)).toBe(0.123);
    expect(storedScore(0.9996, 6)).toBe(1);
  });

  it('keeps a calibrated score near 1 apart from its neighbours (0.9995 vs 0.99991)', () => {
    expect(storedScore(0.9995, 6, true)).toBe(0.9995);
    expect(storedScore(0.999912, 6, true)).toBe(0.999912);
    expect(storedScore(0.9999123, 4, true)).toBe(0.9999);
  });
});
