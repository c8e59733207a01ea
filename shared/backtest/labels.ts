import type { MetricRow } from '../models/backtest.js';
import { parseUtcTimestamp } from '../models/csv.js';
import {
  layoutFile,
  PROFILE_NAMES,
  PROFILES,
  scoreCorpus,
  searchThreshold,
  type CorpusScore,
  type FileLayout,
  type NabProfileName,
  type ThresholdResult,
} from '../nab/score.js';
import type { BacktestResult } from './run.js';

/** NAB's combined_windows.json: metric name -> list of [start, end] (inclusive), epoch ms. */
export type LabelWindows = Map<string, [number, number][]>;

/** Reads NAB's labels format; errors name the metric and window. */
export function parseLabels(text: string): LabelWindows {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error('must be a JSON object: metric name -> list of [start, end]');
  }
  const out: LabelWindows = new Map();
  for (const [metric, windows] of Object.entries(json)) {
    if (!Array.isArray(windows)) {
      throw new Error(`${metric}: must be a list of [start, end], got ${JSON.stringify(windows)}`);
    }
    out.set(
      metric,
      windows.map((w: unknown, i) => {
        const [start, end] = Array.isArray(w) && w.length === 2 ? w.map((x) => (typeof x === 'string' ? parseUtcTimestamp(x) : NaN)) : [NaN, NaN];
        if (Number.isNaN(start) || Number.isNaN(end) || end! < start!) {
          throw new Error(`${metric} window ${i + 1}: must be [start, end] timestamps with start <= end, got ${JSON.stringify(w)}`);
        }
        return [start!, end!];
      }),
    );
  }
  return out;
}

export interface LabelledScores {
  layouts: FileLayout[];
  /** The alert decisions as sent, per profile. */
  alerts: Record<NabProfileName, CorpusScore>;
  /** The raw score with NAB's corpus-wide threshold search, per profile. */
  raw: Record<NabProfileName, ThresholdResult>;
  /** Labelled metrics with no rows in the input, and metrics of the input with no labels (not scored). */
  missing: string[];
  unlabelled: string[];
  /** Windows with no input row inside them (dropped). */
  emptyWindows: string[];
}

/**
 * Scores a backtest against labels as NAB does (shared/nab/score.ts): one "file" per labelled metric,
 * its rows in input order. A window's edges are moved onto the metric's rows (the first row at or
 * after its start, the last at or before its end), as NAB's windows are made of rows.
 */
export function scoreWithLabels(rows: readonly MetricRow[], result: BacktestResult, labels: LabelWindows): LabelledScores {
  const byMetric = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const list = byMetric.get(row.metric_name) ?? [];
    list.push(i);
    byMetric.set(row.metric_name, list);
  });
  const layouts: FileLayout[] = [];
  const alerts: boolean[][] = [];
  const scores: Float64Array[] = [];
  const emptyWindows: string[] = [];
  for (const [metric, windows] of labels) {
    const indexes = byMetric.get(metric);
    if (indexes === undefined) {
      continue;
    }
    const timestamps = indexes.map((i) => rows[i]!.metric_timestamp);
    const sorted = [...new Set(timestamps)].sort((a, b) => a - b);
    const snapped: (readonly [number, number])[] = [];
    windows.forEach(([start, end], w) => {
      const first = sorted.find((t) => t >= start);
      const last = sorted.findLast((t) => t <= end);
      if (first === undefined || last === undefined || first > last) {
        emptyWindows.push(`${metric} window ${w + 1}`);
      } else {
        snapped.push([first, last]);
      }
    });
    layouts.push(layoutFile({ name: metric, timestamps, windows: snapped }));
    alerts.push(indexes.map((i) => result.alert[i] === 1));
    scores.push(Float64Array.from(indexes, (i) => result.score[i]!));
  }
  const alertScores = {} as Record<NabProfileName, CorpusScore>;
  const raw = {} as Record<NabProfileName, ThresholdResult>;
  for (const name of PROFILE_NAMES) {
    alertScores[name] = scoreCorpus(layouts, alerts, PROFILES[name]);
    raw[name] = searchThreshold(layouts, scores, PROFILES[name]);
  }
  return {
    layouts,
    alerts: alertScores,
    raw,
    missing: [...labels.keys()].filter((m) => !byMetric.has(m)),
    unlabelled: [...byMetric.keys()].filter((m) => !labels.has(m)),
    emptyWindows,
  };
}
