import pg from 'pg';
import { parseTimestamptz } from './timestamptz.js';

// timestamptz comes back as Date (parsed fast in the common UTC form); bigint counts (count(*)) as numbers, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
const generalTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (text: string) => unknown;
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value) => parseTimestamptz(value, generalTimestamptz));

const pools = new Map<string, pg.Pool>();

/** ANOMSTACK_STATEMENT_TIMEOUT_S's default: no statement runs unbounded, whoever opens the pool. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 300_000;

export interface PoolOptions {
  /** Postgres cancels a statement after this long (the session's statement_timeout). */
  statementTimeoutMs?: number;
  /** Connections in the pool (`ANOMSTACK_DB_POOL_MAX`), applied when the pool is first made. @defaultValue 10 */
  max?: number;
}

/** One pool per database URL (and time limit) in this process: the store, and any ingest source database. */
export function getPool(url: string, options: PoolOptions = {}): pg.Pool {
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const key = `${statementTimeoutMs} ${url}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      // Sent at connect: every statement on these connections, unless a transaction sets its own.
      statement_timeout: statementTimeoutMs,
    });
    // A client losing its connection (Postgres restarted) must not crash the process: idle
    // ones report on the pool, checked-out ones on themselves. The query in flight still rejects.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    pools.set(key, pool);
  }
  return pool;
}

export async function closePool(): Promise<void> {
  const open = [...pools.values()];
  pools.clear();
  await Promise.all(open.map((pool) => pool.end()));
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}
