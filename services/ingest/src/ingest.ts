import { ensureMetricsTable, upsertMetricRowsStreamed, type MetricRowStage } from '../../../shared/db/metrics-store.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import type { MetricBatch } from '../../../shared/config/metric-batch.js';
import { logSink, startProgress, type Progress } from '../../../shared/progress.js';
import { thresholdBreachesForIngest, thresholdMetrics } from '../../../shared/thresholds/context.js';
import { findPython } from './ingest-fn/find-python.js';
import { runIngestFn } from './ingest-fn/index.js';
import { inChunks, isEmbedded, runEmbeddedIngestSql, runIngestSql, type IngestRowsSink } from './ingest-sql.js';
import { averageDuplicates, IngestRowValidator, type ValidRow } from './validate-rows.js';

/**
 * Ingest: rows from the batch's SQL or function, validated (one bad row rejects the run, naming
 * it), then written through the one upsert path together with any threshold alerts they raise,
 * so a re-run for the same timestamps leaves one row per key.
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

/** From this many rows an ingest logs its progress (a backfill): start, every few seconds, end, with the rate. */
export const INGEST_PROGRESS_MIN_ROWS = 10_000;

/**
 * One ingest: the source's rows arrive in chunks (runIngestSql's cursor, or a function's frame
 * sliced), each validated and staged in the one write transaction as it comes (see
 * upsertMetricRowsStreamed), so a backfill holds one chunk at a time. The transaction commits
 * only when every row passed, the duplicate keys were averaged and the threshold alerts added:
 * a bad row in any chunk, or a lost source, writes nothing, as the whole-frame write did.
 */
async function ingestOnce(batch: MetricBatch, context: JobContext): Promise<JobResult> {
  const started = Date.now();
  const rounding = batch.config.ingest_metric_rounding;
  const validator = new IngestRowValidator(batch.name, { rounding });
  // Held across chunks: the names, the newest time, and only the rows threshold alerts judge.
  const watched = new Set(batch.disabled.tholdalert ? [] : thresholdMetrics(batch));
  const thresholdRows: ValidRow[] = [];
  const metrics = new Set<string>();
  let newest = -Infinity;
  let progress: Progress | null = null;
  let received = 0;
  let sinkMs = 0;
  const dryRows: ValidRow[] = [];
  const read = await openIngestSource(batch, context);

  const consume = async (raw: Record<string, unknown>[], stage: MetricRowStage | null): Promise<void> => {
    const entered = Date.now();
    received += Array.isArray(raw) ? raw.length : 0;
    if (progress === null && received >= INGEST_PROGRESS_MIN_ROWS) {
      progress = startProgress(logSink(context.log), { task: `ingest ${batch.name}`, unit: 'rows' });
    }
    const rows = validator.add(raw);
    for (const row of rows) {
      metrics.add(row.metric_name);
      newest = Math.max(newest, row.metric_timestamp.getTime());
      if (watched.has(row.metric_name)) {
        thresholdRows.push(row);
      }
    }
    if (stage === null) {
      dryRows.push(...rows);
    } else {
      await stage.add(rows);
    }
    progress?.add(Array.isArray(raw) ? raw.length : 0);
    sinkMs += Date.now() - entered;
  };

  /** Reads the source into `stage` (null on a dry run: the rows are kept to report), then checks the whole. */
  const fill = async (stage: MetricRowStage | null) => {
    await read((raw) => consume(raw, stage));
    const fetchMs = Date.now() - started - sinkMs;
    const end = validator.finish();
    let points = end.valid;
    if (end.duplicateKeys.length > 0) {
      const staged = stage === null ? dryRows.splice(0) : await stage.read(end.duplicateKeys);
      const averaged = averageDuplicates(batch.name, staged, rounding);
      if (averaged.warning !== null) {
        end.warnings.push(averaged.warning);
      }
      points -= staged.length - averaged.rows.length;
      if (stage === null) {
        dryRows.push(...averaged.rows);
      } else {
        await stage.drop(end.duplicateKeys);
        await stage.add(averaged.rows);
      }
    }
    for (const warning of end.warnings) {
      context.log.warn(warning);
    }
    // Threshold alerts are judged on what was just ingested, as in the original; the tholdalert
    // job sends them.
    const judged = averageDuplicates(batch.name, thresholdRows, rounding).rows;
    const alerts = (await thresholdBreachesForIngest(context.db, batch, judged, new Date(newest))).map((breach) => breach.row);
    if (stage === null) {
      dryRows.push(...alerts.map((row) => ({ ...row, raw: row.metric_value })));
    } else {
      await stage.add(alerts.map((row) => ({ ...row, raw: row.metric_value })));
    }
    return { warnings: end.warnings, points, alerts: alerts.length, fetchMs };
  };

  const { written, result } = context.dryRun
    ? await fill(null).then((result) => ({ written: dryRows.length, result }))
    : await upsertMetricRowsStreamed(context.db, batch.config.table_key, fill);
  (progress as Progress | null)?.end(`${written} rows new or changed, ${metrics.size} metrics, ${result.alerts} threshold alerts`);
  return {
    batch: batch.name,
    job: 'ingest',
    status: 'ok',
    rows: written,
    details: {
      metrics: metrics.size,
      points: result.points,
      tholdalerts: result.alerts,
      warnings: result.warnings,
      fetchMs: result.fetchMs,
    },
    ...(context.dryRun ? { wouldWrite: dryRows.map(({ raw: _raw, ...row }) => row) } : {}),
  };
}

/**
 * The batch's rows, from its SQL (streamed when read from a database) or its function or embedded
 * engine (run now, before the write transaction opens: they return all their rows at once, and the
 * transaction would otherwise sit idle for their whole run, which idle_in_transaction_session_timeout
 * can kill and which holds back vacuum).
 */
async function openIngestSource(batch: MetricBatch, context: JobContext): Promise<(onRows: IngestRowsSink) => Promise<void>> {
  if (isEmbedded(batch)) {
    const rows = await runEmbeddedIngestSql(batch, context.now);
    return (onRows) => inChunks(rows, onRows);
  }
  if (batch.ingest.kind === 'sql') {
    return (onRows) => runIngestSql(batch, context.db, context.now, process.env, { statementTimeoutMs: context.env.statementTimeoutS * 1000 }, onRows);
  }
  const frame = await runIngestFn(
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
  return (onRows) => inChunks(frame, onRows);
}
