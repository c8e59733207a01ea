import { describe, expect, it } from 'vitest';
import { detectAlerts } from '../../services/alert/src/alert-detect.js';
import { decideAlerts } from './alert-rule.js';

describe('decideAlerts', () => {
  const scores = [0.1, 0.9995, 0.2, 0.9999, 0.3, 0.3, 0.9991, 0.5, 0.9999];

  it('alerts on a lone point over the threshold and snoozes the next snoozeN points', () => {
    expect(decideAlerts(scores, { threshold: 0.999, snoozeN: 3 })).toEqual([1, 6]);
    expect(decideAlerts(scores, { threshold: 0.999, snoozeN: 1 })).toEqual([1, 3, 6, 8]);
    expect(decideAlerts(scores, { threshold: 0.9999, snoozeN: 0 })).toEqual([3, 8]);
  });

  it('is the alert job rule with alert_smooth_n 0', () => {
    for (const snoozeN of [0, 1, 2, 3, 5]) {
      const job = detectAlerts(
        scores.map((score) => ({ t: new Date(0), value: 0, score, alert: false })),
        { threshold: 0.999, always: false, smoothN: 0, snoozeN, recentN: Infinity },
      );
      expect(decideAlerts(scores, { threshold: 0.999, snoozeN })).toEqual(job.alerts);
    }
  });
});
