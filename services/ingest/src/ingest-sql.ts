import type { MetricBatch } from '../../../shared/config/metric-batch.js';
import { createDb, type Db } from '../../../shared/db/db.js';
import { InputError } from '../../../shared/errors.js';
import { renderSql } from '../../../shared/templates.js';

/**
 * Runs a batch's ingest_sql against its source: the metrics store, or the Postgres URL held in
 * the environment variable named by `ingest_db_url_env`. SQL the database rejects (syntax,
 * missing table, bad data) is the batch's fault and not retried; a lost connection is retried.
 */
export async function runIngestSql(
  batch: MetricBatch,
  store: Db,
  now: Date,
  env: NodeJS.ProcessEnv,
): Promise<Record<string, unknown>[]> {
  if (batch.ingest.kind !== 'sql') {
    throw new Error(`batch "${batch.name}" has no ingest_sql`);
  }
  let source = store;
  if (batch.ingest.dbUrlEnv) {
    const url = env[batch.ingest.dbUrlEnv];
    if (!url) {
      throw new InputError(`batch "${batch.name}": ingest_db_url_env names ${batch.ingest.dbUrlEnv}, which is not set`);
    }
    source = createDb(url);
  }
  const statement = renderSql(batch, 'ingest_sql', { now });
  try {
    return await source.query(statement);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (/^(42|22|21|0A)/.test(code)) {
      throw new InputError(`batch "${batch.name}": ingest_sql failed: ${(error as Error).message}`);
    }
    throw error;
  }
}
