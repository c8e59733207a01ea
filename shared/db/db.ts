import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SqlStatement } from '../templates.js';
import { getPool } from './pool.js';

/** Our own statements, one file each under shared/db/sql/. */
export type SqlName =
  | 'create_schema'
  | 'create_metrics_table'
  | 'create_staging_table'
  | 'upsert_from_staging'
  | 'insert_job_run'
  | 'finish_job_run'
  | 'insert_model'
  | 'select_current_models'
  | 'delete_old_models'
  | 'delete_old_job_runs'
  | 'claim_delivery'
  | 'lock_delivery'
  | 'mark_delivery_sent'
  | 'mark_delivery_failed'
  | 'select_pending_deliveries'
  | 'select_delivery'
  | 'select_metric_window'
  | 'count_old_metric_rows'
  | 'delete_old_deliveries'
  | 'select_metric_names'
  | 'dashboard_batch_summary'
  | 'dashboard_metric_stats'
  | 'dashboard_series'
  | 'dashboard_anomalies'
  | 'dashboard_alert_types'
  | 'dashboard_delete_feedback'
  | 'dashboard_job_runs'
  | 'dashboard_job_run'
  | 'dashboard_failed_runs'
  | 'dashboard_models';

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
}

export function createDb(url: string, options: { poolMax?: number } = {}): Db {
  return dbOn(getPool(url, options.poolMax));
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
  };
  return db;
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
