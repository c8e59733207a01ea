import { ensureMetricsTable, upsertMetricRows } from '../../../shared/db/metrics-store.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricBatch } from '../../../shared/config/metric-batch.js';
import { logSink, startProgress, type Progress } from '../../../shared/progress.js';
import { thresholdBreachesForIngest } from '../../../shared/thresholds/context.js';
import { findPython } from './ingest-fn/find-python.js';
import { runIngestFn } from './ingest-fn/index.js';
import { runIngestSql } from './ingest-sql.js';
import { validateIngestRows } from './validate-rows.js';

/**
 * Ingest: rows from the batch's SQL or function, validated as a whole (one bad row rejects the
 * run, naming it), then written through the one upsert path together with any threshold
 * alerts they raise, so a re-run for the same timestamps leaves one row per key.
 */
export const ingestBatch: JobCore = async (batch, context) => {
  if (batch.disabled.ingest) {
    return skipped(batch, 'ingest', 'disable_ingest is set');
  }
  if (context.dryRun) {
    // Writes nothing, not even the batch's table: it exists (for ingest_sql and the threshold
    // check to read) only inside a transaction that is rolled back.
    return context.db.rolledBack(async (tx) => {
      await tx.run('create_metrics_table', [], { table: batch.config.table_key });
      return ingestOnce(batch, { ...context, db: tx });
    });
  }
  // ingest_sql may read the batch's own table (the examples backfill on their first run).
  await ensureMetricsTable(context.db, batch.config.table_key);
  return ingestOnce(batch, context);
};

/** From this many fetched rows an ingest logs its progress (a backfill): fetched, then written, with the rate. */
export const INGEST_PROGRESS_MIN_ROWS = 10_000;

async function ingestOnce(batch: MetricBatch, context: JobContext): Promise<JobResult> {
  const started = Date.now();
  const raw =
    batch.ingest.kind === 'sql'
      ? await runIngestSql(batch, context.db, context.now, process.env, { statementTimeoutMs: context.env.statementTimeoutS * 1000 })
      : await runIngestFn(
          {
            batch: batch.name,
            language: batch.ingest.language,
            source: batch.ingest.source,
            ...(batch.ingest.path ? { path: batch.ingest.path } : {}),
            params: batch.ingest.params,
            timeoutMs: batch.config.ingest_timeout_s * 1000,
            memoryMb: batch.config.ingest_memory_mb,
          },
          {
            python: batch.ingest.language === 'python' ? await findPython(context.env.python) : (context.env.python ?? 'python3'),
            log: (stream, line) => {
              context.log.info({ stream }, line);
              context.jobLog?.(stream === 'stderr' ? `[stderr] ${line}` : line);
            },
          },
        );
  const fetchMs = Date.now() - started;
  // A backfill's first run returns many rows: say what was fetched before the write starts.
  let progress: Progress | null = null;
  if (raw.length >= INGEST_PROGRESS_MIN_ROWS) {
    context.log.info({ rows: raw.length, fetchMs }, `ingest ${batch.name}: fetched ${raw.length} rows in ${(fetchMs / 1000).toFixed(1)} s`);
    progress = startProgress(logSink(context.log), { task: `ingest ${batch.name} write`, unit: 'rows', total: raw.length });
  }
  const { rows, warnings } = validateIngestRows(batch.name, raw, { rounding: batch.config.ingest_metric_rounding });
  for (const warning of warnings) {
    context.log.warn(warning);
  }
  // Threshold alerts are judged on what was just ingested, as in the original; the tholdalert
  // job sends them.
  const alerts = (await thresholdBreachesForIngest(context.db, batch, rows)).map((breach) => breach.row);
  const toWrite = [...rows, ...alerts];
  const written = context.dryRun ? toWrite.length : await upsertMetricRows(context.db, batch.config.table_key, toWrite);
  progress?.add(raw.length);
  progress?.end(`${written} rows new or changed, ${new Set(rows.map((r) => r.metric_name)).size} metrics, ${alerts.length} threshold alerts`);
  return {
    batch: batch.name,
    job: 'ingest',
    status: 'ok',
    rows: written,
    details: {
      metrics: new Set(rows.map((r) => r.metric_name)).size,
      points: rows.length,
      tholdalerts: alerts.length,
      warnings,
      fetchMs,
    },
    ...(context.dryRun ? { wouldWrite: toWrite } : {}),
  };
}
