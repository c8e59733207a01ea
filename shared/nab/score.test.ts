import { describe, expect, it } from 'vitest';
import {
  detectionsAt,
  layoutFile,
  PROFILES,
  probationRows,
  scaledSigmoid,
  scoreCorpus,
  scoreFile,
  searchThreshold,
  type NabFile,
} from './score.js';

const MIN5 = 300_000;
const T0 = Date.UTC(2014, 3, 1);
const times = (n: number): number[] => Array.from({ length: n }, (_, i) => T0 + i * MIN5);
/** 20 rows (probation 3), one window over rows 10..14 (W = 5). */
const FILE: NabFile = { name: 'f', timestamps: times(20), windows: [[T0 + 10 * MIN5, T0 + 14 * MIN5]] };
const detect = (n: number, rows: number[]): boolean[] => Array.from({ length: n }, (_, i) => rows.includes(i));

// Hand-computed: sigma(-1) = 0.986614, sigma(-0.6) = 0.905148 (row 12), sigma(0.25) = -0.554600
// (row 15, (15 - 14) / (5 - 1)), sigma(1.25) = -0.996147 (row 19); before the window: -1.
describe('NAB layout', () => {
  it('caps the probationary period at 750 rows', () => {
    expect(probationRows(20)).toBe(3);
    expect(probationRows(1000)).toBe(150);
    expect(probationRows(6000)).toBe(750);
  });

  it('weights rows in, after and before a window', () => {
    const layout = layoutFile(FILE);
    expect(layout.windows).toEqual([{ start: 10, end: 14, width: 5 }]);
    expect(layout.sigma[5]).toBe(-1);
    expect(layout.sigma[10]).toBeCloseTo(0.986614, 6);
    expect(layout.sigma[12]).toBeCloseTo(0.905148, 6);
    expect(layout.sigma[15]).toBeCloseTo(-0.5546, 6);
    expect(layout.sigma[19]).toBeCloseTo(-0.996147, 6);
    expect(Array.from(layout.windowOf.slice(9, 16))).toEqual([-1, 0, 0, 0, 0, 0, -1]);
    expect(scaledSigmoid(3.01)).toBe(-1);
  });

  it('rejects a window whose edge is not a row', () => {
    expect(() => layoutFile({ ...FILE, windows: [[T0 + 10 * MIN5 + 1, T0 + 14 * MIN5]] })).toThrow(/edge not among the rows/);
  });
});

describe('NAB file score', () => {
  const layout = layoutFile(FILE);

  it('counts the earliest detection in a window once, false alarms by their position, and skips probation', () => {
    // Row 1 is probationary (free); rows 12 and 13 are in the window (12 counts); 5 and 15 are false.
    const s = scoreFile(layout, detect(20, [1, 5, 12, 13, 15]), PROFILES.standard);
    expect(s.tp).toBe(1);
    expect(s.fp).toBe(2);
    expect(s.windows[0]).toMatchObject({ caught: true, firstRow: 12, position: -0.6 });
    expect(s.windows[0]!.contribution).toBeCloseTo(0.917429, 6);
    expect(s.fpScore).toBeCloseTo(-0.171006, 6);
    expect(s.raw).toBeCloseTo(0.746423, 6);
    expect(s.normalised).toBeCloseTo(87.3211, 4);
    const lowFp = scoreFile(layout, detect(20, [1, 5, 12, 13, 15]), PROFILES.reward_low_FP_rate);
    expect(lowFp.raw).toBeCloseTo(0.917429 - 0.342012, 5);
  });

  it('scores a silent detector as null (0) and a left-edge detection as perfect (100)', () => {
    expect(scoreFile(layout, detect(20, []), PROFILES.reward_low_FN_rate)).toMatchObject({ raw: -2, normalised: 0, fn: 1 });
    expect(scoreFile(layout, detect(20, [10, 11]), PROFILES.standard).normalised).toBeCloseTo(100, 10);
  });

  it('normalises the corpus with the summed null and perfect scores', () => {
    const quiet: NabFile = { name: 'quiet', timestamps: times(20), windows: [] };
    const layouts = [layout, layoutFile(quiet)];
    // The quiet file has no window: its false alarm (row 8) weighs -1 x A_FP.
    const c = scoreCorpus(layouts, [detect(20, [12]), detect(20, [8])], PROFILES.standard);
    expect(c.nullScore).toBe(-1);
    expect(c.perfect).toBe(1);
    expect(c.raw).toBeCloseTo(0.917429 - 0.11, 6);
    expect(c.normalised).toBeCloseTo((100 * (0.917429 - 0.11 + 1)) / 2, 4);
    expect(Number.isNaN(c.files[1]!.normalised)).toBe(true);
  });
});

describe('NAB threshold search', () => {
  it('picks the threshold that excludes a costly false alarm', () => {
    const layout = layoutFile(FILE);
    const scores = new Array<number>(20).fill(0);
    scores[5] = 0.9; // false, full cost
    scores[12] = 0.8; // in the window
    scores[19] = 0.7; // false, far after the window
    const standard = searchThreshold([layout], [scores], PROFILES.standard);
    expect(standard.threshold).toBe(0.8);
    expect(standard.raw).toBeCloseTo(0.807429, 6);
    // At 0.8 the window pays 0.917 for 0.11 (standard) or 0.22 (low FP); at 0.9 nothing is caught.
    expect(searchThreshold([layout], [scores], PROFILES.reward_low_FP_rate).raw).toBeCloseTo(0.697429, 6);
  });

  it('never fires when every detection costs more than it earns', () => {
    const layout = layoutFile(FILE);
    // Rows in the window never score (NaN is no detection): any threshold only adds false alarms.
    const scores = Array.from({ length: 20 }, (_, i) => (i >= 10 && i <= 14 ? NaN : i / 20));
    const r = searchThreshold([layout], [scores], PROFILES.standard);
    expect(r).toMatchObject({ threshold: Infinity, raw: -1, normalised: 0 });
  });

  it('agrees with scoring every distinct threshold (pseudo-random scores, three files)', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const files: NabFile[] = [0, 1, 2].map((f) => ({
      name: `f${f}`,
      timestamps: times(60),
      windows: [
        [T0 + (15 + f) * MIN5, T0 + (22 + f) * MIN5],
        [T0 + 40 * MIN5, T0 + 44 * MIN5],
      ],
    }));
    const layouts = files.map(layoutFile);
    // Scores rounded to 2 places so that ties between rows occur.
    const scores = files.map(() => Array.from({ length: 60 }, () => Math.round(random() * 100) / 100));
    for (const profile of Object.values(PROFILES)) {
      const found = searchThreshold(layouts, scores, profile);
      let bestRaw = -profile.fn * 6;
      for (const t of new Set(scores.flat())) {
        bestRaw = Math.max(bestRaw, scoreCorpus(layouts, scores.map((s) => Array.from(detectionsAt(s, t), Boolean)), profile).raw);
      }
      expect(found.raw).toBeCloseTo(bestRaw, 9);
      const atFound = scoreCorpus(layouts, scores.map((s) => Array.from(detectionsAt(s, found.threshold), Boolean)), profile);
      expect(atFound.raw).toBeCloseTo(found.raw, 9);
    }
  });
});
