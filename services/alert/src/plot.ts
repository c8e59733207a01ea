/**
 * The plot job: one PNG per metric under ANOMSTACK_PLOTS_DIR, the same drawing as the alert chart (value
 * on top, score below with alert_threshold, alert/change/threshold points marked), written to
 * `<plotsDir>/<batch>/<metric>.png` atomically (temporary file, then rename), so a reader never
 * sees half a file. Nothing goes to the database.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderAlertChart } from '../../../shared/alerts/chart.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import { renderSql } from '../../../shared/templates.js';
import { groupByMetric, toChartPoints, type WindowRow } from './window.js';

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

/**
 * A file-system-safe name for a metric or batch: the name itself when it is made of letters,
 * digits, `.`, `_` and `-` (not starting with `.`, at most 100 characters); otherwise the
 * unsafe characters replaced by `_` plus a short hash of the original, so two names that differ
 * only in unsafe characters never share a file.
 */
export function safeFileStem(name: string): string {
  if (SAFE_NAME.test(name)) {
    return name;
  }
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[.]+/, '_')
    .slice(0, 80);
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${cleaned}-${hash}`;
}

/** Where the plot job writes a metric's PNG. */
export function plotPath(plotsDir: string, batch: string, metric: string): string {
  return path.join(plotsDir, safeFileStem(batch), `${safeFileStem(metric)}.png`);
}

/** Writes a file by writing a temporary file in the same directory and renaming it over. */
export async function writeFileAtomic(file: string, bytes: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export const plotBatch: JobCore = async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
  if (batch.disabled.plot) {
    return skipped(batch, 'plot', 'plots are disabled (disable_plot)');
  }
  const threshold = batch.config.alert_threshold;
  const smoothN = batch.config.alert_smooth_n;
  const rows = await context.db.query<WindowRow>(renderSql(batch, 'plot_sql', { now: context.now }));
  const files: { metric: string; file: string; points: number }[] = [];
  for (const [metricName, metricRows] of groupByMetric(rows)) {
    const file = plotPath(context.env.plotsDir, batch.name, metricName);
    files.push({ metric: metricName, file, points: metricRows.length });
    if (context.dryRun) {
      continue;
    }
    const png = await renderAlertChart({
      title: `[${batch.name}] ${metricName}`,
      threshold,
      points: toChartPoints(metricRows, smoothN),
    });
    await writeFileAtomic(file, png);
  }
  return {
    batch: batch.name,
    job: 'plot',
    status: 'ok',
    rows: 0,
    details: { plots: files.length, dir: path.join(context.env.plotsDir, safeFileStem(batch.name)), files, ...(context.dryRun ? { written: false } : {}) },
  };
};
