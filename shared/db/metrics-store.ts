import type { MetricRow } from '../metric-row.js';
import type { Db } from './db.js';

const COLUMNS = ['metric_timestamp', 'metric_batch', 'metric_name', 'metric_type', 'metric_value', 'metadata'];

const ensured = new Set<string>();

/** Creates a batch's metrics table if needed (once per process per table). */
export async function ensureMetricsTable(db: Db, table: string): Promise<void> {
  if (!ensured.has(table)) {
    await db.run('create_metrics_table', [], { table });
    ensured.add(table);
  }
}

/** Whether the batch has ingested anything yet; a table not made yet holds nothing. */
export async function hasMetricRows(db: Db, table: string, batch: string): Promise<boolean> {
  try {
    const [row] = await db.run<{ found: boolean }>('has_metric_rows', [batch], { table });
    return row?.found === true;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      return false;
    }
    throw error;
  }
}

/** Below this many rows the direct COPY attempt is not worth a savepoint. */
const DIRECT_COPY_MIN_ROWS = 1000;

/**
 * The one write path for metric rows, in one transaction, so a failure leaves nothing
 * half-written and a re-run leaves one row per (batch, name, type, timestamp). Later
 * duplicates in `rows` win. Returns the number of rows inserted or changed.
 *
 * New rows (the usual ingest) go straight in with COPY; if any key exists already, COPY stops
 * on the unique key, the savepoint undoes it, and the rows go through a staging table and one
 * upsert that replaces changed values and leaves equal ones alone.
 */
export async function upsertMetricRows(db: Db, table: string, rows: readonly MetricRow[]): Promise<number> {
  if (rows.length === 0) {
    return 0;
  }
  await ensureMetricsTable(db, table);
  return db.transaction(async (tx) => {
    if (rows.length >= DIRECT_COPY_MIN_ROWS) {
      await tx.query({ text: 'savepoint direct_copy', values: [] });
      try {
        // Duplicates inside `rows` also stop this COPY; the staging path below removes them.
        await tx.copyRows(table, COLUMNS, rows.map(toCopyLine));
        await tx.query({ text: 'release savepoint direct_copy', values: [] });
        return rows.length;
      } catch (error) {
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION) {
          throw error;
        }
        await tx.query({ text: 'rollback to savepoint direct_copy', values: [] });
      }
    }
    await tx.run('create_staging_table');
    await tx.copyRows('anomstack_staging', COLUMNS, dedupe(rows).map(toCopyLine));
    return tx.execute('upsert_from_staging', [], { table });
  });
}

const UNIQUE_VIOLATION = '23505';

function dedupe(rows: readonly MetricRow[]): MetricRow[] {
  const byKey = new Map<string, MetricRow>();
  for (const row of rows) {
    byKey.set(`${row.metric_batch}\u0000${row.metric_name}\u0000${row.metric_type}\u0000${row.metric_timestamp.getTime()}`, row);
  }
  return byKey.size === rows.length ? [...rows] : [...byKey.values()];
}

/** One line of COPY text format. */
export function toCopyLine(row: MetricRow): string {
  return (
    `${row.metric_timestamp.toISOString()}\t${escapeCopy(row.metric_batch)}\t${escapeCopy(row.metric_name)}\t` +
    `${row.metric_type}\t${row.metric_value}\t${row.metadata === null ? '\\N' : escapeCopy(JSON.stringify(row.metadata))}\n`
  );
}

function escapeCopy(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text;
}
