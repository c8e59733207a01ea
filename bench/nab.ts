import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { parseLabels, scoreWithLabels, type LabelledScores } from '../shared/backtest/labels.js';
import { formatMetricTable, formatNabSummary } from '../shared/backtest/report.js';
import { runBacktest } from '../shared/backtest/run.js';
import { backtestSettings, type BacktestSettings } from '../shared/backtest/settings.js';
import { loadDefaultBatch } from '../shared/config/load-batches.js';
import type { MetricRow } from '../shared/models/backtest.js';
import { parseUtcTimestamp } from '../shared/models/csv.js';
import { PROFILE_NAMES } from '../shared/nab/score.js';

/**
 * `npm run bench -- nab [--files REGEX] [--with JSON]`
 * Detection quality on the labelled NAB development set (test/fixtures/nab), through the same core
 * as `anomstack backtest` (shared/backtest): every file is one metric named by its path, replayed
 * causally with a batch's train, score and alert settings, and scored as NAB scores. Three batches in
 * one run: the defaults (defaults/defaults.yaml, with any ANOMSTACK_* overrides in the environment,
 * as the CLI), the first Conformal default (the KNN window alone: the same-run baseline for changes to it) and the original's detector (PCA+KNN, diff/smooth preprocess, smoothed score >= 0.8,
 * snooze 3) on the same train schedule; `--with` adds the default with those keys over it.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The keys that give back the original's detection (README, "The original's detector"). */
export const ORIGINAL_DETECTION: Record<string, unknown> = {
  model_configs: [
    { model_name: 'PCA', model_tag: 'pca_default', model_params: { contamination: 0.01 } },
    { model_name: 'KNN', model_tag: 'knn_default', model_params: { contamination: 0.01 } },
  ],
  preprocess_params: { diff_n: 1, smooth_n: 3, lags_n: 5 },
  train_min_n: 14,
  alert_threshold: 0.8,
  alert_smooth_n: 3,
  alert_snooze_n: 3,
  alert_snooze_mode: 'alert',
};

/**
 * The first Conformal default (the KNN window alone, first model kept until the train cron), for the
 * same-run baseline: every later part off or pinned, but for the daily-cycle test, which has no key.
 */
export const PREVIOUS_DEFAULT: Record<string, unknown> = {
  // Its calibration too: symmetric, tail by moments (the split calibration and predictive tail came later).
  model_configs: [{ model_name: 'Conformal', model_tag: 'conformal_default', model_params: { jump: false, flatline: false, weekly_phase: false, calibration: 'symmetric', predictive_tail: false } }],
  // Its row and first fit as they were (the default's row is now 12 values for the flatline).
  preprocess_params: { lags_n: 5 },
  train_min_n: 21,
  train_early_retrain_n: 0,
};

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { files: { type: 'string', default: '' }, with: { type: 'string', default: '' } } });
  const dir = path.join(repoRoot, 'test', 'fixtures', 'nab');
  const labels = parseLabels(readFileSync(path.join(dir, 'labels', 'combined_windows.json'), 'utf8'));
  const filter = new RegExp(values.files);
  const rows = loadRows(path.join(dir, 'data'), (file) => filter.test(file) && labels.has(file));
  const overrides = Object.keys(process.env).filter((k) => k.startsWith('ANOMSTACK_'));
  console.log(`NAB development set: ${new Set(rows.map((r) => r.metric_name)).size} files, ${rows.length} rows${overrides.length > 0 ? `; environment overrides: ${overrides.join(', ')}` : ''}`);

  const runs: { label: string; scores: LabelledScores; seconds: number; errors: string[]; halves: string[] }[] = [];
  // Split-half guard against fitting the 12 files: settings are chosen on half A (even positions in
  // file order) and reported on half B (docs/nab-scoring.md, "How the defaults were chosen").
  const files = [...new Set(rows.map((r) => r.metric_name))].sort();
  const halfA = new Set(files.filter((_, i) => i % 2 === 0));
  const batches: [string, Record<string, unknown>][] = [
    ['default', {}],
    ['KNN window alone (the first Conformal default)', PREVIOUS_DEFAULT],
    ['PCA+KNN (original)', ORIGINAL_DETECTION],
  ];
  if (values.with !== '') {
    // A candidate change, in the same run as the default it would replace.
    batches.push([`default + ${values.with}`, JSON.parse(values.with) as Record<string, unknown>]);
  }
  for (const [label, keys] of batches) {
    const settings = benchSettings('nab', keys);
    const started = performance.now();
    const result = runBacktest(rows, settings);
    const seconds = (performance.now() - started) / 1000;
    const models = settings.pipeline.configs.map((c) => c.model_name).join('+');
    console.log(`${label}: ${models}, train "${settings.trainCron}", alert_threshold ${settings.alert.threshold}, smooth ${settings.alert.smoothN}, snooze ${settings.alert.snoozeN}: ${seconds.toFixed(1)} s`);
    const halves = [true, false].map((inA) => {
      const picked = rows.flatMap((r, i) => (halfA.has(r.metric_name) === inA ? [i] : []));
      const part = scoreWithLabels(
        picked.map((i) => rows[i]!),
        { score: Float64Array.from(picked, (i) => result.score[i]!), alert: Uint8Array.from(picked, (i) => result.alert[i]!), metrics: [] },
        labels,
      );
      return PROFILE_NAMES.map((p) => part.alerts[p].normalised.toFixed(1)).join(' / ');
    });
    runs.push({ label, scores: scoreWithLabels(rows, result, labels), seconds, errors: result.metrics.flatMap((m) => m.errors.map((e) => `${m.name}: ${e}`)), halves });
  }
  console.log(`\n${formatNabSummary(runs)}`);
  console.log(`\nSplit halves, alerts as sent (standard / low FP / low FN); A = ${[...halfA].map((f) => path.basename(f)).join(', ')}`);
  for (const r of runs) {
    console.log(`${r.label.padEnd(52)} A ${r.halves[0]}   B ${r.halves[1]}`);
  }
  for (const r of runs) {
    console.log(`\n${formatMetricTable(r.label, r.scores.alerts.standard)}`);
    r.errors.forEach((e) => console.log(`  ${e}`));
  }
}

/** The default batch's replay settings with `keys` over defaults/defaults.yaml (and any ANOMSTACK_* in the environment). */
export function benchSettings(name: string, keys: Record<string, unknown>): BacktestSettings {
  const { batch, problems } = loadDefaultBatch({ defaultsDir: path.join(repoRoot, 'defaults'), name, overrides: keys });
  if (batch === null) {
    throw new Error(problems.map((p) => `${p.key}: ${p.reason}`).join('; '));
  }
  return backtestSettings(batch);
}

/** Every data file as one metric named by its path under data/ (NAB's label keys). */
function loadRows(dataDir: string, wanted: (file: string) => boolean): MetricRow[] {
  const files = readdirSync(dataDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.csv'))
    .map((f) => f.split(path.sep).join('/'))
    .filter(wanted)
    .sort();
  return files.flatMap((file) => {
    const lines = readFileSync(path.join(dataDir, file), 'utf8').split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines[0]?.trim() !== 'timestamp,value') {
      throw new Error(`${file}: expected header 'timestamp,value', got '${lines[0] ?? ''}'`);
    }
    return lines.slice(1).map((line, i) => {
      const [time = '', value = ''] = line.split(',');
      const t = parseUtcTimestamp(time);
      if (Number.isNaN(t) || value.trim() === '' || !Number.isFinite(Number(value))) {
        throw new Error(`${file} line ${i + 2}: bad row '${line}'`);
      }
      return { metric_name: file, metric_timestamp: t, metric_value: Number(value) };
    });
  });
}
