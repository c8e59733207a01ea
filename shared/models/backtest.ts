import { formatIsoTimestamp, parseUtcTimestamp, quoteCsvField, splitCsvLine } from './csv.js';
import { preprocess, type Point } from './preprocess.js';
import { combineScores, fitModel, MODEL_NAMES, scoreModel } from './registry.js';
import { DEFAULT_PREPROCESS, sliceRows, type CombineMethod, type ModelConfig, type PreprocessParams } from './types.js';

export interface MetricRow {
  metric_name: string;
  /** Epoch ms, UTC. */
  metric_timestamp: number;
  metric_value: number;
}

export interface ScoreCsvOptions {
  /** PyOD class names, default params each. @defaultValue ['PCA', 'KNN'] */
  models?: readonly string[];
  /** Rows scored per metric; the rows before them train. @defaultValue 25 */
  scoreN?: number;
  /** Newest training rows kept. @defaultValue 2500 */
  trainMaxN?: number;
  preprocess?: PreprocessParams;
  /** @defaultValue 'mean' */
  combination?: CombineMethod;
  /** Told the number of metrics before the first, then once after each (for progress lines). */
  onMetric?: (event: { total: number; done: number }) => void;
}

export interface ScoreRow {
  metric_name: string;
  metric_timestamp: number;
  /** 0-1 score per model, in the order of `ScoreCsvResult.models`. */
  scores: number[];
  metric_score: number;
}

export interface ScoreCsvResult {
  models: string[];
  rows: ScoreRow[];
  /** Metrics that could not be scored, with the reason (too few rows, ...). */
  skipped: { metric_name: string; reason: string }[];
}

/** Reads metric_name,metric_timestamp,metric_value CSV (columns in any order); errors name the line. */
export function parseMetricsCsv(text: string): MetricRow[] {
  const lines = text.split(/\r?\n/);
  // A spreadsheet's UTF-8 byte-order mark would otherwise become part of the first column's name.
  const header = splitCsvLine((lines[0] ?? '').replace(/^\uFEFF/, '')).map((h) => h.trim());
  const column = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) {
      throw new Error(`line 1: missing column '${name}' (header: ${header.join(',')})`);
    }
    return i;
  };
  const [nameAt, timeAt, valueAt] = [column('metric_name'), column('metric_timestamp'), column('metric_value')];
  const rows: MetricRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      continue;
    }
    // Most lines have no quotes; a plain split is several times faster on a NAB-sized file.
    const fields = line.includes('"') ? splitCsvLine(line) : line.split(',');
    const name = fields[nameAt]?.trim() ?? '';
    const timeText = fields[timeAt] ?? '';
    const valueText = fields[valueAt]?.trim() ?? '';
    const time = parseUtcTimestamp(timeText);
    const value = Number(valueText);
    if (name === '') {
      throw new Error(`line ${i + 1}: empty metric_name`);
    }
    if (Number.isNaN(time)) {
      throw new Error(`line ${i + 1}: bad metric_timestamp '${timeText}' (use e.g. 2026-12-01 15:15:00+00, 2026-12-01T15:15:00Z; no zone means UTC)`);
    }
    if (valueText === '' || !Number.isFinite(value)) {
      throw new Error(`line ${i + 1}: bad metric_value '${valueText}'`);
    }
    rows.push({ metric_name: name, metric_timestamp: time, metric_value: value });
  }
  return rows;
}

/** Output of `anomstack score-csv`: metric_name, metric_timestamp, score_<MODEL>..., metric_score. */
export function formatScoresCsv(result: ScoreCsvResult): string {
  const header = ['metric_name', 'metric_timestamp', ...result.models.map((m) => `score_${m}`), 'metric_score'];
  const lines = [header.join(',')];
  for (const row of result.rows) {
    lines.push(
      [quoteCsvField(row.metric_name), formatIsoTimestamp(row.metric_timestamp), ...row.scores.map(String), String(row.metric_score)].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Offline backtest of the default pipeline (`anomstack score-csv`, docs/contract.md): per metric, preprocess all its
 * points, train each model on the preprocessed rows but the last `scoreN` (at most the newest
 * `trainMaxN`), and score the last `scoreN`.
 */
export function scoreCsv(inputCsvText: string, options: ScoreCsvOptions = {}): ScoreCsvResult {
  const models = [...(options.models ?? ['PCA', 'KNN'])];
  for (const m of models) {
    if (!(MODEL_NAMES as readonly string[]).includes(m)) {
      throw new Error(`unknown model '${m}' (known: ${MODEL_NAMES.join(', ')})`);
    }
  }
  const scoreN = options.scoreN ?? 25;
  if (!Number.isInteger(scoreN) || scoreN < 1) {
    throw new Error(`score-n must be a positive integer, got ${scoreN}`);
  }
  const configs: ModelConfig[] = models.map((m) => ({ model_name: m, model_tag: m.toLowerCase(), model_params: {} }));
  const result: ScoreCsvResult = { models, rows: [], skipped: [] };
  const groups = groupByMetric(parseMetricsCsv(inputCsvText));
  let done = 0;
  options.onMetric?.({ total: groups.size, done });
  for (const [name, points] of groups) {
    try {
      result.rows.push(...scoreMetric(name, points, configs, scoreN, options));
    } catch (error) {
      result.skipped.push({ metric_name: name, reason: (error as Error).message });
    }
    done += 1;
    options.onMetric?.({ total: groups.size, done });
  }
  return result;
}

function groupByMetric(rows: readonly MetricRow[]): Map<string, Point[]> {
  const groups = new Map<string, Point[]>();
  for (const row of rows) {
    let points = groups.get(row.metric_name);
    if (points === undefined) {
      points = [];
      groups.set(row.metric_name, points);
    }
    points.push({ t: row.metric_timestamp, v: row.metric_value });
  }
  return groups;
}

function scoreMetric(
  name: string,
  points: readonly Point[],
  configs: readonly ModelConfig[],
  scoreN: number,
  options: ScoreCsvOptions,
): ScoreRow[] {
  const X = preprocess(points, options.preprocess ?? DEFAULT_PREPROCESS);
  const trainEnd = X.n - scoreN;
  if (trainEnd < 1) {
    throw new Error(`${X.n} preprocessed rows from ${points.length} points: need more than score-n (${scoreN})`);
  }
  const train = sliceRows(X, Math.max(0, trainEnd - (options.trainMaxN ?? 2500)), trainEnd);
  const test = sliceRows(X, trainEnd, X.n);
  const perModel = configs.map((cfg) => scoreModel(fitModel(cfg, train), test));
  const combined = combineScores(perModel, options.combination ?? 'mean');
  return Array.from(test.timestamps, (t, i) => ({
    metric_name: name,
    metric_timestamp: t,
    scores: perModel.map((s) => s[i]!),
    metric_score: combined[i]!,
  }));
}
