import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SqlStatement } from '../templates.js';
import { getPool, type PoolOptions } from './pool.js';

/** Our own statements, one file each under shared/db/sql/. */
export type SqlName =
  | 'create_schema'
  | 'create_metrics_table'
  | 'create_staging_table'
  | 'upsert_from_staging'
  | 'select_staged_rows'
  | 'delete_staged_rows'
  | 'insert_job_run'
  | 'finish_job_run'
  | 'insert_models'
  | 'select_current_model_versions'
  | 'select_max_model_version'
  | 'select_model_bytes'
  | 'delete_old_models_many'
  | 'delete_old_job_runs'
  | 'claim_delivery'
  | 'lock_delivery'
  | 'mark_delivery_sent'
  | 'mark_delivery_failed'
  | 'mark_delivery_rejected'
  | 'select_pending_deliveries'
  | 'select_delivery'
  | 'select_metric_window'
  | 'count_old_metric_rows'
  | 'has_metric_rows'
  | 'delete_old_deliveries'
  | 'dashboard_batch_summary'
  | 'dashboard_metric_stats'
  | 'dashboard_series'
  | 'dashboard_anomalies'
  | 'dashboard_alert_types'
  | 'dashboard_delete_feedback'
  | 'dashboard_job_runs'
  | 'dashboard_job_run'
  | 'dashboard_failed_runs'
  | 'dashboard_models'
  | 'select_feedback'
  | 'dashboard_preview_history';

const sqlCache = new Map<string, string>();

function loadSql(name: SqlName): string {
  let text = sqlCache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), 'utf8');
    sqlCache.set(name, text);
  }
  return text;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Identifiers spliced into our statements ({{table}}); validated, never user data. */
export interface SqlIdentifiers {
  table?: string;
}

/**
 * The one way to reach Postgres: our named statements (`run`), rendered batch templates
 * (`query`), bulk COPY (`copyRows`) and transactions. Cores get narrower deps built from it.
 */
export interface Db {
  run<Row = Record<string, unknown>>(name: SqlName, params?: unknown[], ids?: SqlIdentifiers): Promise<Row[]>;
  /** Runs a statement and returns rows and the affected row count. */
  execute(name: SqlName, params?: unknown[], ids?: SqlIdentifiers): Promise<number>;
  query<Row = Record<string, unknown>>(statement: SqlStatement): Promise<Row[]>;
  queryCount(statement: SqlStatement): Promise<number>;
  /** COPY text-format lines into a table (columns in the given order). */
  copyRows(table: string, columns: string[], lines: Iterable<string>): Promise<void>;
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in a READ ONLY transaction that is always rolled back (inside a transaction: a
   * savepoint that is rolled back, so what `fn` did and its settings are undone either way).
   * `statementTimeoutMs` limits each of its statements (SET LOCAL statement_timeout).
   */
  readOnly<T>(fn: (tx: Db) => Promise<T>, options?: { statementTimeoutMs?: number }): Promise<T>;
  /** A transaction that is always rolled back: a dry run can do what it reads through and leave nothing. */
  rolledBack<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * Runs exactly one statement: the extended protocol, which Postgres refuses for more than one
   * (`cannot insert multiple commands into a prepared statement`, 42601), with or without values.
   */
  querySingle<Row = Record<string, unknown>>(statement: SqlStatement): Promise<Row[]>;
  /**
   * Runs one query (as querySingle) through a cursor and hands its rows to `onRows` `chunkRows`
   * at a time, in order, so a large result is never all in memory: in the current transaction,
   * or in one of its own that is rolled back after the read. `beforeFetch` runs before each
   * fetch (a caller's time limit). The cursor is planned as a whole read (cursor_tuple_fraction 1).
   */
  forEachChunk<Row = Record<string, unknown>>(
    statement: SqlStatement,
    chunkRows: number,
    onRows: (rows: Row[]) => Promise<void> | void,
    options?: { beforeFetch?: (tx: Db) => Promise<void> },
  ): Promise<void>;
}

let cursorCount = 0;

/** A Db on the process's pool for `url`; `statementTimeoutMs` from ANOMSTACK_STATEMENT_TIMEOUT_S (default 300 s). */
export function createDb(url: string, options: PoolOptions = {}): Db {
  return dbOn(getPool(url, options));
}

function render(name: SqlName, ids: SqlIdentifiers): string {
  let text = loadSql(name);
  if (ids.table !== undefined) {
    if (!IDENTIFIER.test(ids.table)) {
      throw new Error(`"${ids.table}" is not a valid table name`);
    }
    text = text
      .replaceAll('{{table}}', ids.table)
      .replaceAll('{{index}}', ids.table.replace('.', '_'));
  }
  return text;
}

function dbOn(target: pg.Pool | pg.PoolClient): Db {
  const db: Db = {
    async run<Row>(name: SqlName, params: unknown[] = [], ids: SqlIdentifiers = {}) {
      const result = await target.query(render(name, ids), params);
      return result.rows as Row[];
    },
    async execute(name, params = [], ids = {}) {
      const result = await target.query(render(name, ids), params);
      return result.rowCount ?? 0;
    },
    async query<Row>(statement: SqlStatement) {
      const result = await target.query(statement.text, statement.values);
      return result.rows as Row[];
    },
    async querySingle<Row>(statement: SqlStatement) {
      // pg 8.23 supports queryMode; @types/pg does not declare it yet.
      const config: pg.QueryConfig & { queryMode: 'extended' } = { text: statement.text, values: statement.values, queryMode: 'extended' };
      const result = await target.query(config);
      return result.rows as Row[];
    },
    async forEachChunk<Row>(
      statement: SqlStatement,
      chunkRows: number,
      onRows: (rows: Row[]) => Promise<void> | void,
      options: { beforeFetch?: (tx: Db) => Promise<void> } = {},
    ) {
      if (!Number.isInteger(chunkRows) || chunkRows < 1) {
        throw new Error(`chunk of ${chunkRows} rows is not a positive whole number`);
      }
      const read = async (tx: Db): Promise<void> => {
        const cursor = `anomstack_cursor_${(cursorCount += 1)}`;
        await tx.query({ text: 'set local cursor_tuple_fraction = 1', values: [] });
        // The newline ends a trailing "-- comment"; querySingle keeps it one statement.
        await tx.querySingle({ text: `declare ${cursor} no scroll cursor for ${statement.text}\n`, values: statement.values });
        for (;;) {
          await options.beforeFetch?.(tx);
          const rows = await tx.query<Row>({ text: `fetch forward ${chunkRows} from ${cursor}`, values: [] });
          if (rows.length > 0) {
            await onRows(rows);
          }
          if (rows.length < chunkRows) {
            break;
          }
        }
        await tx.query({ text: `close ${cursor}`, values: [] });
      };
      if ('release' in target) {
        return read(db);
      }
      return onOwnClient(target, 'begin', read);
    },
    async queryCount(statement) {
      const result = await target.query(statement.text, statement.values);
      return result.rowCount ?? 0;
    },
    async copyRows(table, columns, lines) {
      if (!IDENTIFIER.test(table)) {
        throw new Error(`"${table}" is not a valid table name`);
      }
      const run = async (client: pg.PoolClient): Promise<void> => {
        const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
        await pipeline(Readable.from(chunked(lines)), stream);
      };
      if ('release' in target) {
        await run(target);
      } else {
        const client = await target.connect();
        try {
          await run(client);
        } finally {
          client.release();
        }
      }
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if ('release' in target) {
        return fn(db);
      }
      const client = await target.connect();
      try {
        await client.query('begin');
        const result = await fn(dbOn(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async readOnly<T>(fn: (tx: Db) => Promise<T>, options: { statementTimeoutMs?: number } = {}): Promise<T> {
      const limit = async (tx: Db): Promise<void> => {
        const ms = options.statementTimeoutMs;
        if (ms !== undefined) {
          if (!Number.isInteger(ms) || ms < 1) {
            throw new Error(`statement timeout ${ms} ms is not a positive whole number`);
          }
          await tx.query({ text: `set local statement_timeout = ${ms}`, values: [] });
        }
      };
      if ('release' in target) {
        await target.query('savepoint anomstack_read_only');
        try {
          // Allowed mid-transaction: going read-only (never back), undone by the rollback below.
          await target.query('set transaction read only');
          await limit(db);
          return await fn(db);
        } finally {
          await target.query('rollback to savepoint anomstack_read_only');
          await target.query('release savepoint anomstack_read_only');
        }
      }
      return onOwnClient(target, 'begin read only', async (tx) => {
        await limit(tx);
        return fn(tx);
      });
    },
    async rolledBack<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if ('release' in target) {
        await target.query('savepoint anomstack_rolled_back');
        try {
          return await fn(db);
        } finally {
          await target.query('rollback to savepoint anomstack_rolled_back');
          await target.query('release savepoint anomstack_rolled_back');
        }
      }
      return onOwnClient(target, 'begin', fn);
    },
  };
  return db;
}

/** `begin`, `fn` on that client, and `rollback` whatever happened. */
async function onOwnClient<T>(pool: pg.Pool, begin: string, fn: (tx: Db) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    return await fn(dbOn(client));
  } finally {
    // A client whose rollback fails (connection lost) is discarded, not returned to the pool.
    await client.query('rollback').catch((error: unknown) => {
      broken = error as Error;
    });
    client.release(broken);
  }
}

/** Groups lines into ~64 KiB chunks: one write per line would dominate a large COPY. */
function* chunked(lines: Iterable<string>): Generator<string> {
  let buffer = '';
  for (const line of lines) {
    buffer += line;
    if (buffer.length > 65_536) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') {
    yield buffer;
  }
}
