import { describe, expect, it } from 'vitest';
import { buildPrompt, DEFAULT_SYSTEM_PROMPT, LlmAnswerError, parseVerdict, promptSeries } from './llm-prompt.js';

const at = (minute: number): Date => new Date(Date.UTC(2026, 0, 1, 0, minute));

describe('promptSeries', () => {
  const points = [1, 2, 3, 4, 5].map((value, i) => ({ t: at(i), value }));

  it('smooths with a rolling mean (dropping the first n-1), rounds, and keeps the newest maxN', () => {
    expect(promptSeries(points, { smoothN: 2, rounding: 0, maxN: 3 }).map((p) => [p.t.getUTCMinutes(), p.value])).toEqual([
      [2, 3], // (2+3)/2 = 2.5 rounds to 3 (toFixed)
      [3, 4],
      [4, 5],
    ]);
  });

  it('leaves values as they are with smoothN 0 and rounding -1, and drops non-finite ones', () => {
    const withNaN = [...points, { t: at(9), value: Number.NaN }];
    expect(promptSeries(withNaN, { smoothN: 0, rounding: -1, maxN: 100 }).map((p) => p.value)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('buildPrompt', () => {
  it('sends the series as CSV under metric_value and asks for the JSON answer', () => {
    const prompt = buildPrompt([{ t: at(5), value: 42.5 }], null);
    expect(prompt.system.startsWith(DEFAULT_SYSTEM_PROMPT)).toBe(true);
    expect(prompt.system).toContain('"anomalous"');
    expect(prompt.user).toContain('metric_timestamp,metric_value\n2026-01-01 00:05:00,42.5');
  });

  it('uses the batch’s prompt as the system prompt', () => {
    expect(buildPrompt([], 'Only flag drops to zero.').system.startsWith('Only flag drops to zero.')).toBe(true);
  });
});

describe('parseVerdict', () => {
  it('reads a JSON answer, also inside a ```json fence', () => {
    expect(parseVerdict('{"anomalous": true, "explanation": "spike"}')).toEqual({ anomalous: true, explanation: 'spike' });
    expect(parseVerdict('```json\n{"anomalous": false, "explanation": "noise"}\n```')).toEqual({ anomalous: false, explanation: 'noise' });
  });

  it.each([
    ['', /empty answer/],
    ['yes it is', /not JSON/],
    ['{"anomalous": "yes", "explanation": "x"}', /anomalous/],
    ['{"anomalous": true, "explanation": "  "}', /explanation/],
    ['[true]', /not \{anomalous, explanation\}/],
  ])('refuses %j', (content, message) => {
    expect(() => parseVerdict(content)).toThrow(LlmAnswerError);
    expect(() => parseVerdict(content)).toThrow(message);
  });
});
