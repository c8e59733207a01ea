import pg from 'pg';
import { type MetricBatch } from '../config/metric-batch.js';
import type { Db } from './db.js';
import { ensureMetricsTable } from './metrics-store.js';
import { redactUrl } from './pool.js';
import { startProgress, type ProgressSink } from '../progress.js';

/**
 * Creates the database named in `url` when it is missing. This is the one place that connects
 * outside the pool: the target database cannot be reached before it exists.
 */
export async function createDatabaseIfMissing(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) {
    throw new Error(`${redactUrl(url)} names no database`);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount) {
      return false;
    }
    try {
      await client.query(`create database "${name.replace(/"/g, '""')}"`);
    } catch (error) {
      // Two migrations racing: the other one created it.
      if ((error as { code?: string }).code !== '42P04') {
        throw error;
      }
    }
    return true;
  } finally {
    await client.end();
  }
}

/** Our own tables plus each batch's metrics table; running it again changes nothing. */
/** `progress` gets a line at the start, every few seconds and at the end (many batches make many tables). */
export async function migrate(db: Db, batches: readonly MetricBatch[], progress?: ProgressSink): Promise<{ tables: string[] }> {
  // Serialise concurrent migrations (compose starts several services at once).
  return db.transaction(async (tx) => {
    await tx.query({ text: 'select pg_advisory_xact_lock(727274)', values: [] });
    await tx.run('create_schema');
    const tables = [...new Set(batches.map((b) => b.config.table_key))].sort();
    const lines = progress ? startProgress(progress, { task: 'migrate', unit: 'tables', total: tables.length }) : null;
    for (const table of tables) {
      const schema = table.includes('.') ? table.split('.')[0] : null;
      if (schema) {
        await tx.query({ text: `create schema if not exists ${schema}`, values: [] });
      }
      await ensureMetricsTable(tx, table);
      lines?.add(1);
    }
    lines?.end('our own tables up to date');
    return { tables };
  });
}
