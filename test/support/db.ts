import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type MetricBatch } from '../../shared/config/metric-batch.js';
import { createDb, type Db } from '../../shared/db/db.js';
import { createDatabaseIfMissing, migrate } from '../../shared/db/migrate.js';
import { closePool } from '../../shared/db/pool.js';

export const SERVER_URL = process.env.ANOMSTACK_TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  url: string;
  db: Db;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, so files can run side by side. */
export async function createTestDatabase(batches: readonly MetricBatch[] = []): Promise<TestDatabase> {
  const name = `anomstack_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const url = `${SERVER_URL}/${name}`;
  await createDatabaseIfMissing(url);
  const db = createDb(url);
  await migrate(db, batches);
  return {
    url,
    db,
    async drop() {
      await closePool();
      const admin = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
      await admin.connect();
      try {
        await admin.query(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
