import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { detectAlerts, type AlertDetectConfig } from '../shared/detect/alert-detect.js';
import { DEFAULT_DETECT_PREPROCESS, defaultDetectConfigs } from '../shared/detect/defaults.js';
import { parseUtcTimestamp } from '../shared/models/csv.js';
import type { PackedSeries } from '../shared/models/preprocess.js';
import { MODEL_NAMES } from '../shared/models/registry.js';
import { DEFAULT_PREPROCESS, type ModelConfig } from '../shared/models/types.js';
import { replaySeries, type ReplayPipeline } from '../shared/nab/replay.js';
import {
  layoutFile,
  PROFILE_NAMES,
  PROFILES,
  scoreCorpus,
  searchThreshold,
  type CorpusScore,
  type FileLayout,
  type NabProfileName,
} from '../shared/nab/score.js';

/**
 * `npm run bench -- nab [--models PCA,KNN] [--retrain-every 288] [--train-max-n 2500] [--files REGEX]
 *   [--snooze-n N] [--threshold P] [--params JSON]`
 * Detection quality on the labelled NAB sample (test/fixtures/nab), scored exactly as NAB scores
 * (shared/nab/score.ts), for the current default pipeline (baseline: `--models`, default
 * preprocess, mean, alerts as the alert job: smoothed score >= 0.8 over the point and 3 before,
 * snooze 3) and the new default detector (shared/detect), both in the same run. Each series is
 * replayed causally as production would see it: refit every `--retrain-every` points on the
 * newest `--train-max-n`, each point scored only by models fitted on points before it.
 * Two numbers per detector and profile: its alert decisions (what a user receives) and its raw
 * per-point score with NAB's corpus-wide threshold search.
 */

const TRAIN_MIN_N = 14;
const DEFAULT_ALERT_RULE = { threshold: 0.999, snoozeN: 288 };
type AlertRule = typeof DEFAULT_ALERT_RULE;
const decideAlerts = (scores: number[], rule: AlertRule): number[] =>
  detectAlerts(
    scores.map((score) => ({ t: new Date(0), value: 0, score, alert: false })),
    { threshold: rule.threshold, always: false, smoothN: 0, snoozeN: rule.snoozeN, recentN: Infinity },
  ).alerts;
/** The defaults' `alert_*` settings; recentN is irrelevant as detectAlerts sees the whole replay at once. */
const BASELINE_ALERTS: AlertDetectConfig = { threshold: 0.8, always: false, smoothN: 3, snoozeN: 3, recentN: Infinity };

interface Series {
  file: string;
  /** Sorted by time, duplicate timestamps averaged: what the store hands the jobs. */
  points: PackedSeries;
  /** For each row of the file (file order), its point in `points`. */
  rowPoint: Int32Array;
  layout: FileLayout;
}

interface DetectorRun {
  label: string;
  /** Per file: per-row raw score (NaN unscored) and alert decision, file order. */
  scores: Float64Array[];
  alerts: boolean[][];
  seconds: number;
  errors: string[];
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      models: { type: 'string', default: 'PCA,KNN' },
      'retrain-every': { type: 'string', default: '288' },
      'train-max-n': { type: 'string', default: '2500' },
      files: { type: 'string', default: '' },
      'snooze-n': { type: 'string', default: String(DEFAULT_ALERT_RULE.snoozeN) },
      threshold: { type: 'string', default: String(DEFAULT_ALERT_RULE.threshold) },
      /** model_params for the new detector, as JSON (e.g. '{"n_neighbors": 5}'), over its defaults. */
      params: { type: 'string', default: '{}' },
    },
  });
  const retrainEvery = positiveInt(values['retrain-every'], 'retrain-every');
  const trainMaxN = positiveInt(values['train-max-n'], 'train-max-n');
  const rule: AlertRule = { ...DEFAULT_ALERT_RULE, snoozeN: positiveInt(values['snooze-n'], 'snooze-n'), threshold: Number(values.threshold) };
  const filter = new RegExp(values.files);
  const series = loadSeries(nabDir()).filter((s) => filter.test(s.file));
  const common = { retrainEvery, trainMaxN, trainMinN: TRAIN_MIN_N };

  console.log(`NAB replay of ${series.length} files: retrain every ${retrainEvery} points on the newest ${trainMaxN}`);
  const baseline = runDetector(`baseline ${values.models}`, series, { ...common, preprocess: DEFAULT_PREPROCESS, configs: parseModels(values.models), combination: 'mean' }, (scores) =>
    detectAlerts(
      scores.map((score) => ({ t: new Date(0), value: 0, score, alert: false })),
      BASELINE_ALERTS,
    ).alerts,
  );
  const candidate = runDetector('new default', series, { ...common, preprocess: DEFAULT_DETECT_PREPROCESS, configs: withParams(defaultDetectConfigs(), values.params), combination: 'max' }, (scores) =>
    decideAlerts(scores, rule),
  );
  console.log(`new alert rule: threshold ${rule.threshold}, snooze ${rule.snoozeN} points`);
  const layouts = series.map((s) => s.layout);
  const summary = [baseline, candidate].map((d) => ({ d, ...nabScores(layouts, d) }));
  printSummary(summary);
  for (const { d, alerts } of summary) {
    printFiles(d.label, alerts.standard);
    d.errors.forEach((e) => console.log(`  ${e}`));
  }
  console.log(`wall time: baseline ${baseline.seconds.toFixed(1)} s, new ${candidate.seconds.toFixed(1)} s (replay incl. refits, ${series.reduce((s, x) => s + x.layout.rows, 0)} rows)`);
}

function runDetector(label: string, series: readonly Series[], pipeline: ReplayPipeline, alertsOf: (scores: number[]) => number[]): DetectorRun {
  const started = performance.now();
  const out: DetectorRun = { label, scores: [], alerts: [], seconds: 0, errors: [] };
  for (const s of series) {
    const replay = replaySeries(s.file, s.points, pipeline);
    // The alert job only ever sees scored points, oldest first.
    const scored: number[] = [];
    const pointOfScored: number[] = [];
    replay.scores.forEach((score, i) => {
      if (!Number.isNaN(score)) {
        scored.push(score);
        pointOfScored.push(i);
      }
    });
    const alertPoints = new Set(alertsOf(scored).map((i) => pointOfScored[i]!));
    out.scores.push(Float64Array.from(s.rowPoint, (p) => replay.scores[p]!));
    out.alerts.push(Array.from(s.rowPoint, (p) => alertPoints.has(p)));
    replay.errors.forEach((e) => out.errors.push(`${s.file}: ${e}`));
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

function nabScores(layouts: readonly FileLayout[], d: DetectorRun): { alerts: Record<NabProfileName, CorpusScore>; raw: Record<NabProfileName, number> } {
  const alerts = {} as Record<NabProfileName, CorpusScore>;
  const raw = {} as Record<NabProfileName, number>;
  for (const name of PROFILE_NAMES) {
    alerts[name] = scoreCorpus(layouts, d.alerts, PROFILES[name]);
    raw[name] = searchThreshold(layouts, d.scores, PROFILES[name]).normalised;
  }
  return { alerts, raw };
}

function printSummary(rows: readonly { d: DetectorRun; alerts: Record<NabProfileName, CorpusScore>; raw: Record<NabProfileName, number> }[]): void {
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(34) : c.padStart(10))).join(' ');
  console.log(`\nNAB normalised score (100 perfect, 0 never fires)`);
  console.log(line(['detector', 'standard', 'low FP', 'low FN']));
  const values: number[][] = [];
  for (const { d, alerts, raw } of rows) {
    const a = PROFILE_NAMES.map((p) => alerts[p].normalised);
    const r = PROFILE_NAMES.map((p) => raw[p]);
    values.push(a, r);
    console.log(line([`${d.label}: alerts`, ...a.map((x) => x.toFixed(1))]));
    console.log(line([`${d.label}: raw, threshold searched`, ...r.map((x) => x.toFixed(1))]));
  }
  const [baseA, baseR, newA, newR] = values as [number[], number[], number[], number[]];
  console.log(line(['new - baseline: alerts', ...newA.map((x, i) => signed(x - baseA[i]!))]));
  console.log(line(['new - baseline: raw', ...newR.map((x, i) => signed(x - baseR[i]!))]));
  console.log(line(['new / baseline: alerts', ...newA.map((x, i) => `${(x / baseA[i]!).toFixed(2)}x`)]));
}

const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

/** Per file (standard profile, alert decisions): windows caught, how early, false alerts. */
function printFiles(label: string, score: CorpusScore): void {
  console.log(`\n${label}: alert decisions per file (standard profile)`);
  const header = ['series', 'win', 'caught', 'first at p', 'false', 'false/day', 'score'];
  const lines = score.files.map((f) => [
    path.basename(f.name, '.csv'),
    String(f.windows.length),
    String(f.tp),
    f.windows.map((w) => (w.caught ? w.position.toFixed(2) : 'miss')).join(' ') || '-',
    String(f.fp),
    f.falsePerDay.toFixed(2),
    f.raw.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pad = (cells: string[]): string => cells.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(pad(header));
  lines.forEach((l) => console.log(pad(l)));
  const tp = score.files.reduce((s, f) => s + f.tp, 0);
  const windows = score.files.reduce((s, f) => s + f.windows.length, 0);
  const fp = score.files.reduce((s, f) => s + f.fp, 0);
  console.log(`caught ${tp} of ${windows} windows, ${fp} false alerts; first at p: -1 = window's left edge, 0 = its right edge`);
}

function withParams(configs: ModelConfig[], json: string): ModelConfig[] {
  const extra = JSON.parse(json) as Record<string, unknown>;
  return configs.map((c) => ({ ...c, model_params: { ...c.model_params, ...extra } }));
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
    const rows = parseNabCsv(readFileSync(path.join(dir, 'data', file), 'utf8'), file);
    const { points, rowPoint } = storeView(rows);
    const layout = layoutFile({
      name: file,
      timestamps: rows.map((r) => r.t),
      windows: windows.map(([start, end]) => [timestamp(start, file), timestamp(end, file)] as const),
    });
    return { file, points, rowPoint, layout };
  });
}

function parseNabCsv(text: string, file: string): { t: number; v: number }[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines[0]?.trim() !== 'timestamp,value') {
    throw new Error(`${file}: expected header 'timestamp,value', got '${lines[0] ?? ''}'`);
  }
  return lines.slice(1).map((line) => {
    const [time = '', value = ''] = line.split(',');
    return { t: timestamp(time, file), v: Number(value) };
  });
}

/**
 * Sorted by time with duplicate timestamps averaged, as the store hands points to the jobs:
 * some NAB files repeat timestamps, and machine_temperature repeats a whole hour out of order.
 * NAB itself scores the file's rows, so each row keeps a link to its point.
 */
function storeView(rows: readonly { t: number; v: number }[]): { points: PackedSeries; rowPoint: Int32Array } {
  const sorted = [...rows].sort((a, b) => a.t - b.t);
  const t: number[] = [];
  const v: number[] = [];
  let count = 0;
  for (const row of sorted) {
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
  const index = new Map(t.map((time, i) => [time, i]));
  return { points: { t: Float64Array.from(t), v: Float64Array.from(v) }, rowPoint: Int32Array.from(rows, (r) => index.get(r.t)!) };
}

function timestamp(text: string, file: string): number {
  const ms = parseUtcTimestamp(text);
  if (Number.isNaN(ms)) {
    throw new Error(`${file}: bad timestamp '${text}'`);
  }
  return ms;
}
