import { ensureMetricsTable, upsertMetricRows } from '../../../shared/db/metrics-store.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricBatch } from '../../../shared/config/metric-batch.js';
import { thresholdBreachesForIngest } from '../../../shared/thresholds/context.js';
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
            python: context.env.python,
            log: (stream, line) => context.log.info({ stream }, line),
          },
        );
  const fetchMs = Date.now() - started;
  const { rows, warnings } = validateIngestRows(batch.name, raw, { rounding: batch.config.ingest_metric_rounding });
  for (const warning of warnings) {
    context.log.warn(warning);
  }
  // Threshold alerts are judged on what was just ingested, as in the original; the tholdalert
  // job sends them.
  const alerts = (await thresholdBreachesForIngest(context.db, batch, rows)).map((breach) => breach.row);
  const toWrite = [...rows, ...alerts];
  const written = context.dryRun ? toWrite.length : await upsertMetricRows(context.db, batch.config.table_key, toWrite);
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
