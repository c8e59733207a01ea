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

/** A metric row with the value it had before rounding (what duplicates are averaged from). */
export interface StagedMetricRow extends MetricRow {
  raw: number;
}

/** Metric keys, as a streamed write names the rows to read back or drop. */
export interface MetricKey {
  name: string;
  time: Date;
}

/** Where a streamed write puts its rows until the one upsert at the end (see upsertMetricRowsStreamed). */
export interface MetricRowStage {
  /** COPYs one chunk into the transaction's staging table, numbered after the chunks before it. */
  add(rows: readonly StagedMetricRow[]): Promise<void>;
  /** The staged rows with these (metric_name, metric_timestamp) keys, in the order they were added. */
  read(keys: readonly MetricKey[]): Promise<StagedMetricRow[]>;
  /** Removes the staged rows with these keys. */
  drop(keys: readonly MetricKey[]): Promise<void>;
}

const STAGED_COLUMNS = [...COLUMNS, 'ordinal', 'raw_value'];

/**
 * The write path for rows that come in chunks (a backfill): `fill` adds them to a staging table
 * chunk by chunk, and one upsert moves them all into `table` when `fill` has returned, in one
 * transaction with the staging. So only one chunk is in memory at a time, and if `fill` throws
 * (a bad row in a later chunk, a lost source), nothing is written. Keys must be unique once
 * `fill` ends: it can read back and drop the rows of keys it saw twice. Returns the rows
 * inserted or changed and what `fill` returned.
 */
export async function upsertMetricRowsStreamed<T>(
  db: Db,
  table: string,
  fill: (stage: MetricRowStage) => Promise<T>,
): Promise<{ written: number; result: T }> {
  await ensureMetricsTable(db, table);
  return db.transaction(async (tx) => {
    await tx.run('create_staging_table');
    let ordinal = 0;
    const keyParams = (keys: readonly MetricKey[]): unknown[] => [keys.map((k) => k.name), keys.map((k) => k.time)];
    const stage: MetricRowStage = {
      add: async (rows) => {
        if (rows.length > 0) {
          await tx.copyRows('anomstack_staging', STAGED_COLUMNS, stagedLines(rows, ordinal));
          ordinal += rows.length;
        }
      },
      read: async (keys) => {
        const found = await tx.run<MetricRow & { raw_value: number | null }>('select_staged_rows', keyParams(keys));
        return found.map(({ raw_value, ...row }) => ({ ...row, raw: raw_value ?? row.metric_value }));
      },
      drop: async (keys) => {
        await tx.execute('delete_staged_rows', keyParams(keys));
      },
    };
    const result = await fill(stage);
    const written = ordinal === 0 ? 0 : await tx.execute('upsert_from_staging', [], { table });
    return { written, result };
  });
}

function* stagedLines(rows: readonly StagedMetricRow[], first: number): Generator<string> {
  for (const [i, row] of rows.entries()) {
    yield `${toCopyLine(row).slice(0, -1)}\t${first + i}\t${row.raw}\n`;
  }
}

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
