import { describe, expect, it } from 'vitest';
import { hasDailyCycle } from './seasonal-phase.js';

const MIN5 = 300_000;
const DAY = 86_400_000;

/** 5-minute points from 09:00 to 17:00 UTC only, for `days` days (a metric reported in business hours). */
function businessHours(days: number, value: (i: number) => number): { v: Float64Array; t: Float64Array } {
  const t: number[] = [];
  for (let d = 0; d < days; d++) {
    for (let m = 9 * 12; m < 17 * 12; m++) {
      t.push(d * DAY + m * MIN5);
    }
  }
  return { t: Float64Array.from(t), v: Float64Array.from(t, (_, i) => value(i)) };
}

describe('hasDailyCycle', () => {
  // Tied values had ranks in time order: a run of ties became a ramp within each day, a "cycle".
  it('finds none in a constant metric with daily gaps', () => {
    const { v, t } = businessHours(10, () => 5);
    expect(hasDailyCycle(v, t)).toBe(false);
  });

  it('finds one in a metric that peaks at noon every day', () => {
    const { v, t } = businessHours(10, (i) => -Math.abs((i % 96) - 36) + ((i * 7919) % 13) / 13);
    expect(hasDailyCycle(v, t)).toBe(true);
  });
});
