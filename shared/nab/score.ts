/**
 * The Numenta Anomaly Benchmark's scoring (NAB v1.1 sweeper), pure: per-row weights of one file,
 * the score of a set of detections, and the threshold search NAB runs over raw anomaly scores.
 * Rules as docs/NAB-SCORING (copied here so the code stands alone):
 *  - the first min(floor(0.15 rows), 750) rows (file order) are not scored at all;
 *  - in a window of W rows with right edge R, row i sits at p = -(R - i + 1) / W; after a window,
 *    p = (i - R) / (W - 1); before any window the row's weight is -1;
 *  - sigma(p) = 2 / (1 + exp(5p)) - 1 for p <= 3, else -1;
 *  - a window adds A_TP sigma(p_first) / sigma(-1) for its earliest detection, or -A_FN when it has
 *    none; a detection outside every window adds A_FP sigma(p);
 *  - normalised = 100 (raw - null) / (perfect - null), null = -A_FN per window, perfect = A_TP per window.
 */

export interface NabProfile {
  name: NabProfileName;
  tp: number;
  fp: number;
  fn: number;
}

export const PROFILE_NAMES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;
export type NabProfileName = (typeof PROFILE_NAMES)[number];

export const PROFILES: Record<NabProfileName, NabProfile> = {
  standard: { name: 'standard', tp: 1, fp: 0.11, fn: 1 },
  reward_low_FP_rate: { name: 'reward_low_FP_rate', tp: 1, fp: 0.22, fn: 1 },
  reward_low_FN_rate: { name: 'reward_low_FN_rate', tp: 1, fp: 0.11, fn: 2 },
};

/** One data file as NAB reads it: its rows' timestamps in file order, and its labelled windows. */
export interface NabFile {
  name: string;
  /** Epoch ms of every row, in the file's order (duplicates and disorder kept: NAB scores rows, not times). */
  timestamps: ArrayLike<number>;
  /** [start, end] epoch ms, inclusive; both occur in `timestamps`. */
  windows: readonly (readonly [number, number])[];
}

export interface WindowRows {
  /** Row indexes of the left and right edge (inclusive). */
  start: number;
  end: number;
  width: number;
}

/** Everything about a file that does not depend on the detector. */
export interface FileLayout {
  name: string;
  rows: number;
  /** Rows [0, probation) are not scored. */
  probation: number;
  windows: WindowRows[];
  /** Per row: index into `windows` of the window holding it, or -1. */
  windowOf: Int32Array;
  /** Per row: sigma(p) (before any window: -1). */
  sigma: Float64Array;
  /** Days from the first scored row to the last row (for false alerts per day). */
  scoredDays: number;
}

const DAY_MS = 86_400_000;

/** NAB's probationary share of a file and its cap (probationPercent 0.15 x 5000 rows). */
export function probationRows(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}

export function scaledSigmoid(p: number): number {
  return p > 3 ? -1 : 2 / (1 + Math.exp(5 * p)) - 1;
}

/** sigma(-1): a detection at a window's left edge earns exactly A_TP. */
const MAX_TP = scaledSigmoid(-1);

/**
 * Per-row weights as NAB's sweeper assigns them, walking the rows in file order: a window is entered
 * at the first row (from the previous window's end on) carrying its start time, and its right edge is
 * the first row carrying its end time.
 */
export function layoutFile(file: NabFile): FileLayout {
  const { timestamps } = file;
  const n = timestamps.length;
  const windowOf = new Int32Array(n).fill(-1);
  const sigma = new Float64Array(n);
  const windows: WindowRows[] = [];
  const firstIndexOf = (t: number, from: number): number => {
    for (let i = from; i < n; i++) {
      if (timestamps[i] === t) {
        return i;
      }
    }
    return -1;
  };
  let cursor = 0;
  for (const [startTime, endTime] of file.windows) {
    const start = firstIndexOf(startTime, cursor);
    const end = start < 0 ? -1 : firstIndexOf(endTime, start);
    if (start < 0 || end < 0) {
      throw new Error(`${file.name}: window [${new Date(startTime).toISOString()}, ${new Date(endTime).toISOString()}] has an edge not among the rows`);
    }
    windows.push({ start, end, width: end - start + 1 });
    cursor = end + 1;
  }
  let next = 0;
  let previous: WindowRows | null = null;
  for (let i = 0; i < n; i++) {
    const w = windows[next];
    if (w !== undefined && i >= w.start) {
      if (i <= w.end) {
        windowOf[i] = next;
        sigma[i] = scaledSigmoid(-(w.end - i + 1) / w.width);
        continue;
      }
      previous = w;
      next++;
    }
    // A one-row window has W - 1 = 0: NAB divides by it too, giving +inf past it (weight -1).
    sigma[i] = previous === null ? -1 : scaledSigmoid((i - previous.end) / (previous.width - 1));
  }
  const probation = probationRows(n);
  const scoredDays = n > probation ? (Number(timestamps[n - 1]) - Number(timestamps[probation])) / DAY_MS : 0;
  return { name: file.name, rows: n, probation, windows, windowOf, sigma, scoredDays };
}

export interface WindowResult {
  caught: boolean;
  /** Row of the earliest scored detection in the window, or -1. */
  firstRow: number;
  /** Relative position p of that detection (-1 at the left edge, ~0 at the right), or NaN. */
  position: number;
  /** What the window adds to the raw score. */
  contribution: number;
}

export interface FileScore {
  name: string;
  raw: number;
  /** This file's own normalisation (NaN for a file without windows, whose null and perfect are both 0). */
  normalised: number;
  nullScore: number;
  perfect: number;
  tp: number;
  fn: number;
  /** Scored detections outside every window, and their summed (negative) weight. */
  fp: number;
  fpScore: number;
  falsePerDay: number;
  windows: WindowResult[];
}

/** Scores one file's detections (one boolean per row, file order) under a profile. */
export function scoreFile(layout: FileLayout, detections: ArrayLike<boolean>, profile: NabProfile): FileScore {
  if (detections.length !== layout.rows) {
    throw new Error(`${layout.name}: ${detections.length} detections for ${layout.rows} rows`);
  }
  const first = new Int32Array(layout.windows.length).fill(-1);
  let fp = 0;
  let fpScore = 0;
  for (let i = layout.probation; i < layout.rows; i++) {
    if (!detections[i]) {
      continue;
    }
    const w = layout.windowOf[i]!;
    if (w < 0) {
      fp++;
      fpScore += profile.fp * layout.sigma[i]!;
    } else if (first[w]! < 0) {
      first[w] = i;
    }
  }
  const windows = layout.windows.map((w, k): WindowResult => {
    const row = first[k]!;
    if (row < 0) {
      return { caught: false, firstRow: -1, position: NaN, contribution: -profile.fn };
    }
    return {
      caught: true,
      firstRow: row,
      position: -(w.end - row + 1) / w.width,
      contribution: (profile.tp * layout.sigma[row]!) / MAX_TP,
    };
  });
  const tp = windows.filter((w) => w.caught).length;
  const raw = windows.reduce((sum, w) => sum + w.contribution, fpScore);
  const nullScore = -profile.fn * layout.windows.length;
  const perfect = profile.tp * layout.windows.length;
  return {
    name: layout.name,
    raw,
    normalised: normalise(raw, nullScore, perfect),
    nullScore,
    perfect,
    tp,
    fn: windows.length - tp,
    fp,
    fpScore,
    falsePerDay: layout.scoredDays > 0 ? fp / layout.scoredDays : 0,
    windows,
  };
}

export interface CorpusScore {
  profile: NabProfileName;
  raw: number;
  nullScore: number;
  perfect: number;
  normalised: number;
  files: FileScore[];
}

export function normalise(raw: number, nullScore: number, perfect: number): number {
  return perfect === nullScore ? NaN : (100 * (raw - nullScore)) / (perfect - nullScore);
}

/** Scores every file's detections and sums them: NAB's corpus score for one profile. */
export function scoreCorpus(layouts: readonly FileLayout[], detections: readonly ArrayLike<boolean>[], profile: NabProfile): CorpusScore {
  if (layouts.length !== detections.length) {
    throw new Error(`${layouts.length} files but ${detections.length} detection arrays`);
  }
  const files = layouts.map((layout, i) => scoreFile(layout, detections[i]!, profile));
  const raw = files.reduce((s, f) => s + f.raw, 0);
  const nullScore = files.reduce((s, f) => s + f.nullScore, 0);
  const perfect = files.reduce((s, f) => s + f.perfect, 0);
  return { profile: profile.name, raw, nullScore, perfect, normalised: normalise(raw, nullScore, perfect), files };
}

/** Rows whose score is >= threshold (NaN never is). */
export function detectionsAt(scores: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    out[i] = scores[i]! >= threshold ? 1 : 0;
  }
  return out;
}

export interface ThresholdResult {
  /** Best threshold (a row's score: rows scoring at least it are detections); Infinity when firing never pays. */
  threshold: number;
  raw: number;
  normalised: number;
}

/**
 * NAB's threshold sweep: the one corpus-wide threshold that maximises the raw total. Rows are taken in
 * descending score and each distinct score is a candidate (all rows tied at it join together); a window's
 * contribution is updated when a row earlier in it (a larger sigma) joins. O(rows log rows). Ties between
 * equally good thresholds go to the highest.
 */
export function searchThreshold(layouts: readonly FileLayout[], scores: readonly ArrayLike<number>[], profile: NabProfile): ThresholdResult {
  if (layouts.length !== scores.length) {
    throw new Error(`${layouts.length} files but ${scores.length} score arrays`);
  }
  const entries: { score: number; file: number; row: number }[] = [];
  let windowBase = 0;
  const baseOf: number[] = [];
  layouts.forEach((layout, f) => {
    const s = scores[f]!;
    if (s.length !== layout.rows) {
      throw new Error(`${layout.name}: ${s.length} scores for ${layout.rows} rows`);
    }
    for (let i = layout.probation; i < layout.rows; i++) {
      if (!Number.isNaN(s[i]!)) {
        entries.push({ score: s[i]!, file: f, row: i });
      }
    }
    baseOf.push(windowBase);
    windowBase += layout.windows.length;
  });
  entries.sort((a, b) => b.score - a.score);
  const best = new Float64Array(windowBase).fill(NaN);
  const nullScore = -profile.fn * windowBase;
  const perfect = profile.tp * windowBase;
  let total = nullScore;
  let result: ThresholdResult = { threshold: Infinity, raw: total, normalised: normalise(total, nullScore, perfect) };
  for (let k = 0; k < entries.length; ) {
    const threshold = entries[k]!.score;
    for (; k < entries.length && entries[k]!.score === threshold; k++) {
      const { file, row } = entries[k]!;
      const layout = layouts[file]!;
      const s = layout.sigma[row]!;
      const w = layout.windowOf[row]!;
      if (w < 0) {
        total += profile.fp * s;
        continue;
      }
      const key = baseOf[file]! + w;
      const previous = best[key]!;
      if (Number.isNaN(previous)) {
        total += profile.fn + (profile.tp * s) / MAX_TP;
        best[key] = s;
      } else if (s > previous) {
        total += (profile.tp * (s - previous)) / MAX_TP;
        best[key] = s;
      }
    }
    if (total > result.raw) {
      result = { threshold, raw: total, normalised: normalise(total, nullScore, perfect) };
    }
  }
  return result;
}
