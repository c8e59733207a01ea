import { describe, expect, it } from 'vitest';
import { parsePreviewForm, PREVIEW_LIMITS, PreviewInputError } from './preview-run.js';

describe('parsePreviewForm', () => {
  it("takes empty fields as the batch's own, and bounds the points", () => {
    expect(parsePreviewForm({ batch: 'b', alert_threshold: '', metric: ' ' })).toEqual({
      batch: 'b',
      metric: null,
      points: PREVIEW_LIMITS.points,
      threshold: null,
      smoothN: null,
      snoozeN: null,
      csv: null,
    });
    expect(parsePreviewForm({ batch: 'b', points: '50', alert_snooze_n: '0', alert_threshold: '0.95' })).toMatchObject({ points: 50, snoozeN: 0, threshold: 0.95 });
  });

  it('names the field of a bad value', () => {
    const bad = (body: Record<string, unknown>): string => {
      try {
        parsePreviewForm(body);
      } catch (error) {
        expect(error).toBeInstanceOf(PreviewInputError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(bad({})).toMatch(/^batch: /);
    expect(bad({ batch: 'b', alert_threshold: '2' })).toBe('alert_threshold: "2" is not a number from 0 to 1');
    expect(bad({ batch: 'b', points: '999999' })).toMatch(/^points: "999999" is not a whole number from 10 to 3000/);
    expect(bad({ batch: 'b', alert_smooth_n: '1.5' })).toMatch(/^alert_smooth_n: /);
    expect(bad({ batch: 'b', metric: '(' })).toMatch(/^metric: not a valid regular expression/);
  });
});
