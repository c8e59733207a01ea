import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { detectAlerts, type AlertDetectConfig } from '../services/alert/src/alert-detect.js';
import { parseUtcTimestamp } from '../shared/models/csv.js';
import { runTrainTask } from '../shared/models/model-tasks.js';
import { preprocess, type PackedSeries } from '../shared/models/preprocess.js';
import { combineScores, MODEL_NAMES, scoreModel } from '../shared/models/registry.js';
import { DEFAULT_PREPROCESS, sliceRows, type FeatureMatrix, type FittedModel, type ModelConfig } from '../shared/models/types.js';

/**
 * `npm run bench -- nab [--models PCA,KNN] [--retrain-every 288] [--train-max-n 2500]`
 * Detection quality on the labelled NAB sample (test/fixtures/nab): each series is
 * replayed as production would see it, point by point, with the default preprocess and alerts
 * (smoothed score >= 0.8 over the point and 3 before, snooze 3), and the alerts are scored
 * against NAB's anomaly windows.
 */

const TRAIN_MIN_N = 14;
/** The defaults' `alert_*` settings; recentN is irrelevant as detectAlerts sees the whole replay at once. */
const ALERTS: AlertDetectConfig = { threshold: 0.8, always: false, smoothN: 3, snoozeN: 3, recentN: Infinity };
/** ECOD and COPOD score a row against the training rows plus its batch; production scores ~1 new point per run. */
const BATCH_DEPENDENT = new Set(['ECOD', 'COPOD']);
const DAY_MS = 86_400_000;

interface Series {
  file: string;
  t: Float64Array;
  v: Float64Array;
  /** NAB anomaly windows, [start, end] epoch ms, inclusive. */
  windows: [number, number][];
}

interface Replay {
  /** Timestamps of the scored points and their combined score, oldest first. */
  t: number[];
  scores: number[];
  errors: Set<string>;
}

interface Stats {
  points: number;
  scored: number;
  days: number;
  windows: number;
  /** Windows with an alert inside them, and windows caught only within one window length after their end. */
  hit: number;
  lateOnly: number;
  alerts: number;
  inside: number;
  late: number;
  /** False alerts (neither inside nor late) in NAB's probationary first 15% of the series, which NAB does not score. */
  warmUp: number;
  /** Scored points inside a window: the precision of alerting at random. */
  scoredInside: number;
  /** Percent of the window elapsed at the first alert inside it, per hit window (NAB centres windows on the label). */
  firstAt: number[];
  seconds: number;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      models: { type: 'string', default: 'PCA,KNN' },
      'retrain-every': { type: 'string', default: '288' },
      'train-max-n': { type: 'string', default: '2500' },
    },
  });
  const configs = parseModels(values.models);
  const retrainEvery = positiveInt(values['retrain-every'], 'retrain-every');
  const trainMaxN = positiveInt(values['train-max-n'], 'train-max-n');

  console.log(`NAB replay: models ${values.models}, retrain every ${retrainEvery} points on the newest ${trainMaxN}`);
  const started = performance.now();
  const rows: [string, Stats][] = [];
  for (const series of loadSeries(nabDir())) {
    const t0 = performance.now();
    const replay = replaySeries(series, configs, retrainEvery, trainMaxN);
    const alerts = detectAlerts(
      replay.t.map((t, i) => ({ t: new Date(t), value: 0, score: replay.scores[i]!, alert: false })),
      ALERTS,
    ).alerts.map((i) => replay.t[i]!);
    rows.push([series.file, evaluate(series, replay, alerts, (performance.now() - t0) / 1000)]);
    for (const error of replay.errors) {
      console.log(`  ${series.file}: ${error}`);
    }
  }
  printTable(rows);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

function parseModels(list: string): ModelConfig[] {
  return list.split(',').map((name) => {
    if (!(MODEL_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
    }
    // contamination as in defaults.yaml: it sets PyOD's label threshold only, never the scores.
    return { model_name: name, model_tag: name.toLowerCase(), model_params: { contamination: 0.01 } };
  });
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a positive integer, got '${text}'`);
  }
  return n;
}

/** The NAB development sample ships in the repo (test/fixtures/nab, with its licence). */
function nabDir(): string {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = path.join(repoRoot, 'test', 'fixtures', 'nab');
  if (!existsSync(path.join(dir, 'labels', 'combined_windows.json'))) {
    throw new Error(`NAB sample not found at ${dir}: expected data/**/*.csv and labels/combined_windows.json there`);
  }
  return dir;
}

function loadSeries(dir: string): Series[] {
  const labels = JSON.parse(readFileSync(path.join(dir, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;
  const files = readdirSync(path.join(dir, 'data'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.csv'))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
  return files.map((file) => {
    const windows = labels[file];
    if (windows === undefined) {
      throw new Error(`${file}: no entry in labels/combined_windows.json`);
    }
    return {
      file,
      ...parseNabCsv(readFileSync(path.join(dir, 'data', file), 'utf8'), file),
      windows: windows.map(([start, end]) => [timestamp(start, file), timestamp(end, file)]),
    };
  });
}

/**
 * Sorted by time with duplicate timestamps averaged, as the store hands points to the jobs:
 * some NAB files repeat timestamps, and machine_temperature repeats a whole hour out of order.
 */
function parseNabCsv(text: string, file: string): PackedSeries {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines[0]?.trim() !== 'timestamp,value') {
    throw new Error(`${file}: expected header 'timestamp,value', got '${lines[0] ?? ''}'`);
  }
  const rows = lines.slice(1).map((line) => {
    const [time = '', value = ''] = line.split(',');
    return { t: timestamp(time, file), v: Number(value) };
  });
  rows.sort((a, b) => a.t - b.t);
  const t: number[] = [];
  const v: number[] = [];
  let count = 0;
  for (const row of rows) {
    const last = t.length - 1;
    if (last >= 0 && row.t === t[last]) {
      count++;
      v[last]! += (row.v - v[last]!) / count;
    } else {
      t.push(row.t);
      v.push(row.v);
      count = 1;
    }
  }
  return { t: Float64Array.from(t), v: Float64Array.from(v) };
}

function timestamp(text: string, file: string): number {
  const ms = parseUtcTimestamp(text);
  if (Number.isNaN(ms)) {
    throw new Error(`${file}: bad timestamp '${text}'`);
  }
  return ms;
}

/**
 * Walks forward as the train and score jobs would: every `retrainEvery` points the models are
 * refitted on the newest `trainMaxN` points seen so far, and the points until the next refit are
 * scored with them; the first fit comes after `retrainEvery` points, as a daily train job's
 * first run over a new metric would. Preprocessing is causal (diff, trailing mean, lags), so the
 * features of the whole series, computed once, equal those production builds from the history
 * before each point (checked against runScoreTask on a point's own history).
 */
function replaySeries(series: Series, configs: readonly ModelConfig[], retrainEvery: number, trainMaxN: number): Replay {
  const X = preprocess(series, DEFAULT_PREPROCESS);
  const firstRowPoint = series.t.length - X.n;
  const replay: Replay = { t: [], scores: [], errors: new Set() };
  let models = new Map<string, FittedModel>();
  for (let k = retrainEvery; k < series.t.length; k += retrainEvery) {
    models = retrain(series, k, configs, trainMaxN, models, replay);
    if (models.size === 0) {
      continue; // No model yet: the score job skips the metric.
    }
    const from = Math.max(k, firstRowPoint);
    const to = Math.min(k + retrainEvery, series.t.length);
    if (from < to) {
      scoreRows(sliceRows(X, from - firstRowPoint, to - firstRowPoint), [...models.values()], replay);
    }
  }
  return replay;
}

/** Fits every config on the points before `k`; a config that fails keeps its previous model, as production does. */
function retrain(
  series: Series,
  k: number,
  configs: readonly ModelConfig[],
  trainMaxN: number,
  previous: Map<string, FittedModel>,
  replay: Replay,
): Map<string, FittedModel> {
  if (k < TRAIN_MIN_N) {
    return previous;
  }
  const start = Math.max(0, k - trainMaxN);
  const result = runTrainTask({
    key: series.file,
    points: { t: series.t.subarray(start, k), v: series.v.subarray(start, k) },
    preprocess: DEFAULT_PREPROCESS,
    configs,
  });
  result.errors.forEach((e) => replay.errors.add(e));
  const models = new Map(previous);
  result.models.forEach((m) => models.set(m.modelTag, m));
  return models;
}

function scoreRows(rows: FeatureMatrix, models: readonly FittedModel[], replay: Replay): void {
  const perModel = models.map((model) => (BATCH_DEPENDENT.has(model.modelName) ? scoreOneByOne(model, rows) : scoreModel(model, rows)));
  const combined = combineScores(perModel, 'mean');
  rows.timestamps.forEach((t, i) => {
    replay.t.push(t);
    replay.scores.push(combined[i]!);
  });
}

function scoreOneByOne(model: FittedModel, rows: FeatureMatrix): Float64Array {
  const out = new Float64Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    out[i] = scoreModel(model, sliceRows(rows, i, i + 1))[0]!;
  }
  return out;
}

/** Inside: in a window. Late: after a window's end by at most its length (caught, but after NAB's window). */
function evaluate(series: Series, replay: Replay, alerts: readonly number[], seconds: number): Stats {
  const inWindow = (t: number): boolean => series.windows.some(([s, e]) => t >= s && t <= e);
  const lateFor = ([s, e]: [number, number]) => (t: number): boolean => t > e && t <= e + (e - s) && !inWindow(t);
  const probationEnd = series.t[Math.floor(0.15 * series.t.length)]!;
  const stats: Stats = {
    points: series.t.length,
    scored: replay.t.length,
    days: (series.t[series.t.length - 1]! - series.t[0]!) / DAY_MS,
    windows: series.windows.length,
    hit: 0,
    lateOnly: 0,
    scoredInside: replay.t.filter(inWindow).length,
    alerts: alerts.length,
    inside: alerts.filter(inWindow).length,
    late: alerts.filter((t) => series.windows.some((w) => lateFor(w)(t))).length,
    warmUp: alerts.filter((t) => t < probationEnd && !inWindow(t) && !series.windows.some((w) => lateFor(w)(t))).length,
    firstAt: [],
    seconds,
  };
  for (const window of series.windows) {
    const [s, e] = window;
    const first = alerts.find((t) => t >= s && t <= e);
    if (first !== undefined) {
      stats.hit++;
      stats.firstAt.push((100 * (first - s)) / (e - s));
    } else if (alerts.some(lateFor(window))) {
      stats.lateOnly++;
    }
  }
  return stats;
}

function printTable(rows: readonly [string, Stats][]): void {
  const header = ['series', 'points', 'scored', 'win', 'hit', 'late-only', 'alerts', 'in-win', 'late', 'false', 'warm-up', 'false/day', 'prec', 'base', 'first@', 'sec'];
  const total = rows.map(([, s]) => s).reduce(addStats);
  const lines = [...rows.map(([file, s]) => format(shortName(file), s)), format('TOTAL', total)];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pad = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(pad(header));
  lines.forEach((l, i) => {
    if (i === lines.length - 1) {
      console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    }
    console.log(pad(l));
  });
  console.log(
    [
      'hit: windows with an alert inside; late-only: windows caught only within one window length after their end',
      'in-win / late / false: alerts inside a window / in that late stretch / elsewhere (warm-up: in NAB\'s unscored first 15%)',
      'prec: in-win / alerts; base: % of scored points inside a window (the precision of random alerts)',
      'first@: median % of the window elapsed at its first alert (NAB centres windows on the label)',
    ].join('\n'),
  );
}

function format(name: string, s: Stats): string[] {
  const falseAlerts = s.alerts - s.inside - s.late;
  return [
    name,
    String(s.points),
    String(s.scored),
    String(s.windows),
    String(s.hit),
    String(s.lateOnly),
    String(s.alerts),
    String(s.inside),
    String(s.late),
    String(falseAlerts),
    String(s.warmUp),
    (falseAlerts / s.days).toFixed(2),
    s.alerts > 0 ? `${((100 * s.inside) / s.alerts).toFixed(0)}%` : '-',
    s.scored > 0 ? `${((100 * s.scoredInside) / s.scored).toFixed(0)}%` : '-',
    s.firstAt.length > 0 ? `${median(s.firstAt).toFixed(0)}%` : '-',
    s.seconds.toFixed(1),
  ];
}

function addStats(a: Stats, b: Stats): Stats {
  return {
    points: a.points + b.points,
    scored: a.scored + b.scored,
    days: a.days + b.days,
    windows: a.windows + b.windows,
    hit: a.hit + b.hit,
    lateOnly: a.lateOnly + b.lateOnly,
    scoredInside: a.scoredInside + b.scoredInside,
    alerts: a.alerts + b.alerts,
    inside: a.inside + b.inside,
    late: a.late + b.late,
    warmUp: a.warmUp + b.warmUp,
    firstAt: [...a.firstAt, ...b.firstAt],
    seconds: a.seconds + b.seconds,
  };
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** 'realKnownCause/nyc_taxi.csv' -> 'nyc_taxi'. */
function shortName(file: string): string {
  return path.basename(file, '.csv');
}
