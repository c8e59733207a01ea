import { describe, expect, it } from 'vitest';
import { startProgress, type ProgressFields } from './progress.js';

function recorder(): { lines: { phase: string; message: string; fields: ProgressFields }[]; sink: Parameters<typeof startProgress>[0] } {
  const lines: { phase: string; message: string; fields: ProgressFields }[] = [];
  return { lines, sink: (phase, message, fields) => lines.push({ phase, message, fields }) };
}

describe('startProgress', () => {
  it('writes a start line, a progress line at most every everyMs with counts and rate, and an end line with totals', () => {
    // Given a clock the test moves
    let clock = 1_000;
    const { lines, sink } = recorder();
    const progress = startProgress(sink, { task: 'train b', unit: 'metrics', total: 1000, everyMs: 5000, now: () => clock });
    // When work is done in steps of 100 metrics, 2 s apart
    for (let step = 0; step < 10; step += 1) {
      clock += 2000;
      progress.add(100);
    }
    progress.end('998 trained, 2 skipped');
    // Then
    expect(lines.map((l) => l.phase)).toEqual(['start', 'progress', 'progress', 'progress', 'end']);
    expect(lines[0]?.message).toBe('train b: started, 1000 metrics');
    expect(lines[1]?.message).toBe('train b: 300/1000 metrics (30%), 50 metrics/s');
    expect(lines[1]?.fields).toMatchObject({ done: 300, total: 1000, rate: 50, elapsedS: 6 });
    expect(lines.at(-1)?.message).toBe('train b: done, 1000 metrics in 20 s (50 metrics/s), 998 trained, 2 skipped');
  });

  it('writes no progress line for work shorter than everyMs, and the end line only once', () => {
    let clock = 0;
    const { lines, sink } = recorder();
    const progress = startProgress(sink, { task: 'migrate', unit: 'tables', total: 3, now: () => clock });
    clock += 10;
    progress.add(3);
    progress.end();
    progress.end();
    expect(lines.map((l) => l.phase)).toEqual(['start', 'end']);
    expect(lines[1]?.message).toBe('migrate: done, 3 tables in 0 s (300 tables/s)');
  });
});
