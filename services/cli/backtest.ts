import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatMetricTable, formatNabSummary } from '../../shared/backtest/report.js';
import { parseLabels, scoreWithLabels } from '../../shared/backtest/labels.js';
import { formatBacktestCsv } from '../../shared/backtest/output.js';
import { runBacktest, type MetricSummary } from '../../shared/backtest/run.js';
import { backtestSettings, type BacktestSettings } from '../../shared/backtest/settings.js';
import { loadEnv, type AppEnv } from '../../shared/config/env.js';
import { loadBatches, loadDefaultBatch } from '../../shared/config/load-batches.js';
import type { MetricBatch } from '../../shared/config/metric-batch.js';
import type { ConfigProblem } from '../../shared/config/schema.js';
import { parseMetricsCsv } from '../../shared/models/backtest.js';

const USAGE = 'usage: anomstack backtest IN.csv OUT.csv [--batch NAME] [--labels WINDOWS.json]';

/**
 * `anomstack backtest`: replays IN (metric_name,metric_timestamp,metric_value) causally through the
 * batch's train, score and alert settings (shared/backtest) and writes one row per input row to OUT.
 * With --labels, prints NAB's scores. Progress and problems go to stderr. Returns the exit code.
 */
export async function backtestCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { batch: { type: 'string' }, labels: { type: 'string' } } });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [input, output] = parsed.positionals;
  if (input === undefined || output === undefined || parsed.positionals.length > 2) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const env = loadEnv();
  const batch = loadBatch(env, parsed.values.batch);
  if (batch === null) {
    return 1;
  }
  let settings: BacktestSettings;
  try {
    settings = backtestSettings(batch);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  const texts = await readInputs(input, parsed.values.labels);
  if (texts === null) {
    return 1;
  }
  const rows = parseOrReport(input, () => parseMetricsCsv(texts.csv));
  const labels = texts.labels === null ? null : parseOrReport(parsed.values.labels!, () => parseLabels(texts.labels!));
  if (rows === undefined || labels === undefined) {
    return 1;
  }
  if (rows.length === 0) {
    process.stderr.write(`${input}: no rows\n`);
    return 1;
  }
  process.stderr.write(`backtest of ${rows.length} rows with batch ${settings.batch} (train ${settings.pipeline.configs.map((c) => c.model_name).join('+')} on "${settings.trainCron}", alert at ${settings.alert.threshold})\n`);
  const started = Date.now();
  let result;
  try {
    result = runBacktest(rows, settings, (m, done, total) => process.stderr.write(progressLine(m, done, total)));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
  await writeFile(output, formatBacktestCsv(rows, result));
  const alerts = result.alert.reduce((s, a) => s + a, 0);
  process.stderr.write(`wrote ${rows.length} rows to ${output} (${result.metrics.length} metrics, ${alerts} alerts) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (labels !== null) {
    const scores = scoreWithLabels(rows, result, labels);
    const listed = (names: string[]): string => `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, ... (${names.length} in all)` : ''}`;
    const notes = [
      scores.missing.length > 0 ? `labelled metrics with no rows in ${input}, not scored: ${listed(scores.missing)}` : '',
      scores.unlabelled.length > 0 ? `metrics with no labels, not scored: ${listed(scores.unlabelled)}` : '',
      scores.emptyWindows.length > 0 ? `windows holding no row, dropped: ${listed(scores.emptyWindows)}` : '',
    ];
    notes.filter((n) => n !== '').forEach((n) => process.stderr.write(`note: ${n}\n`));
    process.stdout.write(`${formatNabSummary([{ label: settings.batch, scores }])}\n\n${formatMetricTable(settings.batch, scores.alerts.standard)}\n`);
  }
  return 0;
}

function progressLine(m: MetricSummary, done: number, total: number): string {
  const errors = m.errors.length > 0 ? `; ${m.errors.join('; ')}` : '';
  return `[${done}/${total}] ${m.name}: ${m.rows} rows, ${m.scored} scored, ${m.alerts} alerts, ${m.fits} fits, ${m.seconds.toFixed(1)} s${errors}\n`;
}

/** The named batch from the metrics directory, or the defaults.yaml batch; prints problems and returns null on any. */
function loadBatch(env: AppEnv, name: string | undefined): MetricBatch | null {
  let problems: ConfigProblem[];
  let warnings: ConfigProblem[];
  let batch: MetricBatch | null;
  if (name === undefined) {
    ({ batch, problems, warnings } = loadDefaultBatch({ defaultsDir: env.defaultsDir }));
  } else {
    const load = loadBatches({ metricsDir: env.metricsDir, defaultsDir: env.defaultsDir, ignoreExamples: env.ignoreExamples });
    batch = load.batches.find((b) => b.name === name) ?? null;
    // Only this batch's problems matter here: another batch's broken file does not stop a backtest.
    problems = load.problems.filter((p) => batch === null || p.file === batch.file);
    warnings = load.warnings.filter((w) => batch !== null && w.file === batch.file);
    if (batch === null && problems.length === 0) {
      const known = load.batches.map((b) => b.name).join(', ') || 'none';
      problems = [{ file: env.metricsDir, key: '--batch', reason: `no enabled batch "${name}" (batches: ${known})` }];
    }
  }
  for (const w of warnings) {
    process.stderr.write(`warning ${w.file}: ${w.key}: ${w.reason}\n`);
  }
  for (const p of problems) {
    process.stderr.write(`error ${p.file}: ${p.key}: ${p.reason}\n`);
  }
  return problems.length > 0 ? null : batch;
}

async function readInputs(input: string, labels: string | undefined): Promise<{ csv: string; labels: string | null } | null> {
  const read = async (file: string): Promise<string | null> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      process.stderr.write(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
      return null;
    }
  };
  const csv = await read(input);
  const labelText = labels === undefined ? null : await read(labels);
  return csv === null || (labels !== undefined && labelText === null) ? null : { csv, labels: labelText };
}

/** `parse()`, or undefined after printing its error prefixed with the file it read. */
function parseOrReport<T>(file: string, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    process.stderr.write(`${file}: ${(error as Error).message}\n`);
    return undefined;
  }
}
