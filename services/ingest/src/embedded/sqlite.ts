import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { InputError } from '../../../../shared/errors.js';
import { translateForSqlite } from './sqlite-dialect.js';
import { bindable, plainValue, type EmbeddedQuery } from './types.js';

const WORKER = new URL('./sqlite-worker.mjs', import.meta.url);

/**
 * Runs an ingest_sql in SQLite (`db: sqlite`) through sql.js, SQLite compiled to WebAssembly:
 * nothing to build or download at install, and no file system of its own, so a named file is
 * read into memory and the SQL can change nothing on disk. `query_only` refuses writes even to
 * that copy. The query runs on a worker thread that is terminated at the time limit.
 */
export async function runSqliteQuery(query: EmbeddedQuery): Promise<Record<string, unknown>[]> {
  let bytes: Uint8Array | null = null;
  if (query.file !== null) {
    try {
      bytes = fs.readFileSync(query.file);
    } catch (error) {
      throw new InputError(`batch "${query.batch}": ingest_db_file ${query.file} cannot be read: ${(error as Error).message}`);
    }
  }
  const sql = translateForSqlite(query.sql);
  // SQLite names `$1` as a parameter called "$1": bind by that name.
  const params = Object.fromEntries(bindable(query.values).map((value, i) => [`$${i + 1}`, value]));
  const worker = new Worker(WORKER, { workerData: { sql, params, bytes } });
  const outcome = await new Promise<{ rows?: Record<string, unknown>[]; error?: string; timedOut?: boolean }>((resolve) => {
    const timer = setTimeout(() => {
      resolve({ timedOut: true });
      void worker.terminate();
    }, query.timeoutMs);
    worker.once('message', (message: { rows?: Record<string, unknown>[]; error?: string }) => {
      clearTimeout(timer);
      resolve(message);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      resolve({ error: error.message });
    });
  });
  await worker.terminate();
  if (outcome.timedOut) {
    throw new InputError(`batch "${query.batch}": ingest_sql ran longer than ingest_timeout_s (${query.timeoutMs / 1000} s) and was stopped`);
  }
  if (outcome.error !== undefined) {
    const multiple = /one statement at a time|more than one statement/i.test(outcome.error);
    throw new InputError(
      multiple
        ? `batch "${query.batch}": ingest_sql must be a single statement (one query, no ";"-separated commands)`
        : `batch "${query.batch}": ingest_sql failed in SQLite: ${outcome.error}`,
    );
  }
  return (outcome.rows ?? []).map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plainValue(value)])));
}
