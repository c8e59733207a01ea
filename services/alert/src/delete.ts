/**
 * The delete job: the batch's rows older than delete_after_n_days (measured back from the run's
 * slot), removed in chunks of `delete_chunk_n` rows by delete.sql until none is left, so a large
 * purge never holds one long lock; the batch's delivery and job-run records of that age go with them.
 */
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { skipped, type JobContext, type JobCore, type JobResult } from '../../../shared/job.js';
import { renderSql } from '../../../shared/templates.js';

/** Rows per delete statement when the batch does not set `delete_chunk_n`. */
export const DEFAULT_DELETE_CHUNK_N = 10_000;

export interface DeleteDeps {
  /** Overrides `delete_chunk_n`. */
  chunkSize?: number;
}

export function createDeleteBatch(deps: DeleteDeps = {}): JobCore {
  return async (batch: MetricBatch, context: JobContext): Promise<JobResult> => {
    if (batch.disabled.delete) {
      return skipped(batch, 'delete', 'deletes are disabled (disable_delete)');
    }
    const chunkSize = Math.max(1, Math.floor(deps.chunkSize ?? batch.config.delete_chunk_n ?? DEFAULT_DELETE_CHUNK_N));
    const days = batch.config.delete_after_n_days;
    const cutoff = new Date(context.now.getTime() - days * 86_400_000);
    if (context.dryRun) {
      const [row] = await context.db.run<{ n: number }>('count_old_metric_rows', [batch.name, context.now, days], {
        table: batch.config.table_key,
      });
      return {
        batch: batch.name,
        job: 'delete',
        status: 'ok',
        rows: row?.n ?? 0,
        details: { wouldDelete: row?.n ?? 0, olderThan: cutoff.toISOString(), chunkSize },
      };
    }
    let deleted = 0;
    let chunks = 0;
    for (;;) {
      const n = await context.db.queryCount(renderSql(batch, 'delete_sql', { now: context.now }, { delete_chunk_n: chunkSize }));
      if (n === 0) {
        break;
      }
      deleted += n;
      chunks += 1;
    }
    const deliveries = await context.db.execute('delete_old_deliveries', [batch.name, context.now, days]);
    const jobRuns = await context.db.execute('delete_old_job_runs', [batch.name, context.now, days]);
    context.log.info({ deleted, chunks, olderThan: cutoff.toISOString() }, 'old rows deleted');
    return {
      batch: batch.name,
      job: 'delete',
      status: 'ok',
      rows: deleted,
      details: { deleted, chunks, chunkSize, olderThan: cutoff.toISOString(), deliveriesDeleted: deliveries, jobRunsDeleted: jobRuns },
    };
  };
}

export const deleteBatch: JobCore = createDeleteBatch();
