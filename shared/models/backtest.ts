import { formatIsoTimestamp, parseUtcTimestamp, quoteCsvField, splitCsvLine } from './csv.js';
import { preprocess, type PackedSeries } from './preprocess.js';
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
  const rows: MetricRow[] = [];
  const reader = new MetricsCsvReader((name, time, value) => rows.push({ metric_name: name, metric_timestamp: time, metric_value: value }));
  reader.lines(text.split(/\r?\n/));
  reader.end();
  return rows;
}

/** Distinct timestamp texts remembered per reader: a file's metrics share their timestamps, so most rows skip the parse. */
const TIMESTAMP_CACHE_MAX = 100_000;

/**
 * metric_name,metric_timestamp,metric_value CSV fed line by line (the first is the header), each
 * good row handed to `onRow`; errors name the line. Holds no lines, so a file can be streamed.
 */
export class MetricsCsvReader {
  private lineNumber = 0;
  private columns: [number, number, number] | null = null;
  private readonly times = new Map<string, number>();

  constructor(private readonly onRow: (name: string, time: number, value: number) => void) {}

  lines(lines: Iterable<string>): void {
    for (const line of lines) {
      this.line(line);
    }
  }

  line(line: string): void {
    this.lineNumber += 1;
    if (this.columns === null) {
      this.columns = this.header(line);
      return;
    }
    if (line.trim() === '') {
      return;
    }
    const [nameAt, timeAt, valueAt] = this.columns;
    // Most lines have no quotes; a plain split is several times faster on a NAB-sized file.
    const fields = line.includes('"') ? splitCsvLine(line) : line.split(',');
    const name = fields[nameAt]?.trim() ?? '';
    const timeText = fields[timeAt] ?? '';
    const valueText = fields[valueAt]?.trim() ?? '';
    let time = this.times.get(timeText);
    if (time === undefined) {
      time = parseUtcTimestamp(timeText);
      if (this.times.size >= TIMESTAMP_CACHE_MAX) {
        this.times.clear();
      }
      this.times.set(timeText, time);
    }
    const value = Number(valueText);
    if (name === '') {
      throw new Error(`line ${this.lineNumber}: empty metric_name`);
    }
    if (Number.isNaN(time)) {
      throw new Error(`line ${this.lineNumber}: bad metric_timestamp '${timeText}' (use e.g. 2026-12-01 15:15:00+00, 2026-12-01T15:15:00Z; no zone means UTC)`);
    }
    if (valueText === '' || !Number.isFinite(value)) {
      throw new Error(`line ${this.lineNumber}: bad metric_value '${valueText}'`);
    }
    this.onRow(name, time, value);
  }

  /** Call after the last line: an empty input has no header either. */
  end(): void {
    if (this.columns === null) {
      this.line('');
    }
  }

  private header(line: string): [number, number, number] {
    // A spreadsheet's UTF-8 byte-order mark would otherwise become part of the first column's name.
    const header = splitCsvLine(line.replace(/^\uFEFF/, '')).map((h) => h.trim());
    const column = (name: string): number => {
      const i = header.indexOf(name);
      if (i < 0) {
        throw new Error(`line 1: missing column '${name}' (header: ${header.join(',')})`);
      }
      return i;
    };
    return [column('metric_name'), column('metric_timestamp'), column('metric_value')];
  }
}

/** Points per metric in the order metrics first appear, as two growing arrays of doubles each (16 bytes a point). */
export class MetricSeriesCollector {
  readonly series = new Map<string, { t: number[]; v: number[] }>();

  readonly add = (name: string, time: number, value: number): void => {
    let points = this.series.get(name);
    if (points === undefined) {
      points = { t: [], v: [] };
      this.series.set(name, points);
    }
    points.t.push(time);
    points.v.push(value);
  };
}

/** Output of `anomstack score-csv`: metric_name, metric_timestamp, score_<MODEL>..., metric_score. */
export function formatScoresCsv(result: ScoreCsvResult): string {
  return `${scoresCsvHeader(result.models)}${scoresCsvLines(result.rows)}`;
}

/** The header line of `formatScoresCsv`, with its newline. */
export function scoresCsvHeader(models: readonly string[]): string {
  return `${['metric_name', 'metric_timestamp', ...models.map((m) => `score_${m}`), 'metric_score'].join(',')}\n`;
}

/** The lines of `formatScoresCsv` for `rows`, each with its newline. */
export function scoresCsvLines(rows: readonly ScoreRow[]): string {
  let text = '';
  for (const row of rows) {
    text += `${[quoteCsvField(row.metric_name), formatIsoTimestamp(row.metric_timestamp), ...row.scores.map(String), String(row.metric_score)].join(',')}\n`;
  }
  return text;
}

/**
 * Offline backtest of the default pipeline (`anomstack score-csv`, docs/contract.md): per metric, preprocess all its
 * points, train each model on the preprocessed rows but the last `scoreN` (at most the newest
 * `trainMaxN`), and score the last `scoreN`.
 */
export function scoreCsv(inputCsvText: string, options: ScoreCsvOptions = {}): ScoreCsvResult {
  checkScoreCsvOptions(options);
  const collector = new MetricSeriesCollector();
  const reader = new MetricsCsvReader(collector.add);
  reader.lines(inputCsvText.split(/\r?\n/));
  reader.end();
  const rows: ScoreRow[] = [];
  const result = scoreSeries(collector.series, options, (scored) => {
    rows.push(...scored);
  });
  return { ...result, rows };
}

/** The models and score-n of `options`, checked (before a file is read: a typo fails at once). */
export function checkScoreCsvOptions(options: ScoreCsvOptions): { models: string[]; scoreN: number; configs: ModelConfig[] } {
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
  return { models, scoreN, configs: models.map((m) => ({ model_name: m, model_tag: m.toLowerCase(), model_params: {} })) };
}

/**
 * `scoreCsv` on series already read (a MetricSeriesCollector's), handing each metric's score
 * rows to `onRows` as it is scored, so a caller can write them and let them go. Each series is
 * released once scored. Returns the models and the metrics skipped.
 */
export function scoreSeries(
  series: Map<string, { t: number[]; v: number[] }>,
  options: ScoreCsvOptions,
  onRows: (rows: ScoreRow[]) => void,
): Omit<ScoreCsvResult, 'rows'> {
  const { models, scoreN, configs } = checkScoreCsvOptions(options);
  const skipped: ScoreCsvResult['skipped'] = [];
  const total = series.size;
  let done = 0;
  options.onMetric?.({ total, done });
  for (const [name, points] of series) {
    series.delete(name);
    try {
      onRows(scoreMetric(name, { t: Float64Array.from(points.t), v: Float64Array.from(points.v) }, configs, scoreN, options));
    } catch (error) {
      skipped.push({ metric_name: name, reason: (error as Error).message });
    }
    done += 1;
    options.onMetric?.({ total, done });
  }
  return { models, skipped };
}

function scoreMetric(
  name: string,
  points: PackedSeries,
  configs: readonly ModelConfig[],
  scoreN: number,
  options: ScoreCsvOptions,
): ScoreRow[] {
  const X = preprocess(points, options.preprocess ?? DEFAULT_PREPROCESS);
  const trainEnd = X.n - scoreN;
  if (trainEnd < 1) {
    throw new Error(`${X.n} preprocessed rows from ${points.t.length} points: need more than score-n (${scoreN})`);
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
