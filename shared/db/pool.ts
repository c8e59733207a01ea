import pg from 'pg';

// timestamptz comes back as Date; bigint counts (count(*)) as numbers, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

const pools = new Map<string, pg.Pool>();

/**
 * One pool per database URL in this process: the store, and any ingest source database. `max`
 * (`ANOMSTACK_DB_POOL_MAX`) applies when the pool is first made.
 */
export function getPool(url: string, max = 10): pg.Pool {
  let pool = pools.get(url);
  if (!pool) {
    pool = new pg.Pool({ connectionString: url, max });
    // A client losing its connection (Postgres restarted) must not crash the process: idle
    // ones report on the pool, checked-out ones on themselves. The query in flight still rejects.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    pools.set(url, pool);
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
