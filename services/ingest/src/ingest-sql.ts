import type { MetricBatch } from '../../../shared/config/metric-batch.js';
import { createDb, type Db } from '../../../shared/db/db.js';
import { InputError } from '../../../shared/errors.js';
import { renderSql, type SqlStatement } from '../../../shared/templates.js';
import { runDuckDbQuery } from './embedded/duckdb.js';
import { runSqliteQuery } from './embedded/sqlite.js';

/** What an ingest_sql may start with, after comments: a query and nothing else. */
const QUERY_START = /^\(*\s*(select|with|values|table)\b/i;

/** The statement without leading white space and comments (`-- ...` lines, `/* ... *\/` blocks). */
function withoutLeadingComments(text: string): string {
  let rest = text;
  for (;;) {
    const trimmed = rest.replace(/^\s+/, '');
    const comment = /^(--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)/.exec(trimmed);
    if (!comment) {
      return trimmed;
    }
    rest = trimmed.slice(comment[0].length);
  }
}

/** Rows per chunk an ingest reads, validates and stages at a time: a backfill never holds more. */
export const INGEST_CHUNK_ROWS = 10_000;

/** Receives an ingest's rows a chunk at a time (at most INGEST_CHUNK_ROWS), in order. */
export type IngestRowsSink = (rows: Record<string, unknown>[]) => Promise<void>;

/**
 * Runs a batch's ingest_sql against its source: the metrics store, or the Postgres URL held in
 * the environment variable named by `ingest_db_url_env`, and hands its rows to `onRows` in
 * chunks, read through a cursor, so a backfill of many rows is never all in memory. SQL the
 * database rejects (syntax, missing table, bad data) is the batch's fault and not retried; a
 * lost connection is retried.
 *
 * It may only read: one statement (the extended protocol refuses more), a query (not `drop`,
 * `commit`, `set`...), in a READ ONLY transaction that is rolled back after the read, so a
 * data-modifying CTE or a function that writes fails and leaves nothing. ingest_timeout_s
 * bounds the time the source spends on the query, over all its fetches.
 *
 * `db: duckdb` and `db: sqlite` run it in an embedded engine instead (./embedded/), on an empty
 * in-memory database or the read-only `ingest_db_file`, under the same query-only check and time limit.
 */
export async function runIngestSql(
  batch: MetricBatch,
  store: Db,
  now: Date,
  env: NodeJS.ProcessEnv,
  options: { statementTimeoutMs?: number },
  onRows: IngestRowsSink,
): Promise<void> {
  if (batch.ingest.kind !== 'sql') {
    throw new Error(`batch "${batch.name}" has no ingest_sql`);
  }
  if (isEmbedded(batch)) {
    await inChunks(await runEmbeddedIngestSql(batch, now), onRows);
    return;
  }
  let source = store;
  if (batch.ingest.dbUrlEnv) {
    const url = env[batch.ingest.dbUrlEnv];
    if (!url) {
      throw new InputError(`batch "${batch.name}": ingest_db_url_env names ${batch.ingest.dbUrlEnv}, which is not set`);
    }
    source = createDb(url, options);
  }
  const statement = queryOnly(batch, renderSql(batch, 'ingest_sql', { now }));
  const timeoutMs = batch.config.ingest_timeout_s * 1000;
  // Errors of onRows (a bad row, the write) are the caller's, not the query's: passed on as they are.
  const fromSink = new WeakSet<object>();
  const sink = async (rows: Record<string, unknown>[]): Promise<void> => {
    try {
      await onRows(rows);
    } catch (error) {
      if (typeof error === 'object' && error !== null) {
        fromSink.add(error);
      }
      throw error;
    }
  };
  let spentMs = 0;
  let fetchStarted = 0;
  // ingest_timeout_s bounds the query's time over all its fetches, not each fetch.
  const beforeFetch = async (tx: Db): Promise<void> => {
    if (fetchStarted > 0) {
      spentMs += Date.now() - fetchStarted;
    }
    await tx.query({ text: `set local statement_timeout = ${Math.max(1, Math.floor(timeoutMs - spentMs))}`, values: [] });
    fetchStarted = Date.now();
  };
  const timed = async (rows: Record<string, unknown>[]): Promise<void> => {
    spentMs += Date.now() - fetchStarted;
    fetchStarted = 0;
    await sink(rows);
  };
  try {
    await source.readOnly((tx) => tx.forEachChunk(statement, INGEST_CHUNK_ROWS, timed, { beforeFetch }), { statementTimeoutMs: timeoutMs });
  } catch (error) {
    if (typeof error === 'object' && error !== null && fromSink.has(error)) {
      throw error;
    }
    throw asBatchError(batch, error);
  }
}

/** Whether the batch's ingest_sql runs in an embedded engine (duckdb, sqlite), which returns all its rows at once. */
export function isEmbedded(batch: MetricBatch): boolean {
  return batch.ingest.kind === 'sql' && (batch.config.db === 'duckdb' || batch.config.db === 'sqlite');
}

/** All the rows of an embedded engine's ingest_sql (see runIngestSql). */
export async function runEmbeddedIngestSql(batch: MetricBatch, now: Date): Promise<Record<string, unknown>[]> {
  const statement = queryOnly(batch, renderSql(batch, 'ingest_sql', { now }));
  const query = { batch: batch.name, sql: statement.text, values: statement.values, file: batch.config.ingest_db_file ?? null, timeoutMs: batch.config.ingest_timeout_s * 1000 };
  return batch.config.db === 'duckdb' ? runDuckDbQuery(query) : runSqliteQuery(query);
}

/** Hands `rows` to `onRows` INGEST_CHUNK_ROWS at a time. */
export async function inChunks(rows: Record<string, unknown>[], onRows: IngestRowsSink): Promise<void> {
  if (!Array.isArray(rows)) {
    // Not a list: the validator names the problem.
    await onRows(rows);
    return;
  }
  for (let at = 0; at < rows.length; at += INGEST_CHUNK_ROWS) {
    await onRows(rows.slice(at, at + INGEST_CHUNK_ROWS));
  }
}

/** The source's errors as the batch's: what the database refused is an input error, a lost connection is not. */
function asBatchError(batch: MetricBatch, error: unknown): unknown {
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message;
  if (code === '42601' && /multiple commands/.test(message)) {
    return new InputError(`batch "${batch.name}": ingest_sql must be a single statement (one query, no ";"-separated commands)`);
  }
  if (code === '57014') {
    // statement_timeout (or an administrator's pg_cancel_backend): a slow query is the batch's.
    return new InputError(
      `batch "${batch.name}": ingest_sql ran longer than ingest_timeout_s (${batch.config.ingest_timeout_s * 1000 / 1000} s) and was cancelled: ${message}`,
    );
  }
  // A cursor refuses a data-modifying WITH before the read-only transaction sees it.
  if (code === '25006' || (code === '0A000' && /data-modifying/.test(message))) {
    return new InputError(`batch "${batch.name}": ingest_sql may only read (it runs in a read-only transaction): ${message}`);
  }
  if (/^(42|22|21|0A)/.test(code)) {
    return new InputError(`batch "${batch.name}": ingest_sql failed: ${message}`);
  }
  return error;
}

/** The statement, if it is a query; anything else is refused before it reaches an engine. */
function queryOnly(batch: MetricBatch, statement: SqlStatement): SqlStatement {
  if (!QUERY_START.test(withoutLeadingComments(statement.text))) {
    const start = withoutLeadingComments(statement.text).split(/\s+/, 1)[0] ?? '';
    throw new InputError(
      `batch "${batch.name}": ingest_sql must be a query (select, with, values or table), not "${start.slice(0, 40)}": ingest SQL may only read`,
    );
  }
  return statement;
}
