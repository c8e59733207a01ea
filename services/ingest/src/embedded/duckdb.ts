import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { InputError } from '../../../../shared/errors.js';
import { bindable, plainValue, type EmbeddedQuery } from './types.js';

/**
 * Runs an ingest_sql in embedded DuckDB (`db: duckdb`, the original's default engine). The
 * database is an empty in-memory one unless the batch names a file, which is opened READ_ONLY.
 * External access is off and the configuration locked, so the SQL reads no file or URL, writes
 * none (COPY, read_csv, extension installs all fail), and cannot turn that back on; spilling goes
 * to a temporary directory removed afterwards. A run past the time limit is interrupted.
 */
export async function runDuckDbQuery(query: EmbeddedQuery): Promise<Record<string, unknown>[]> {
  if (query.file !== null && !fs.existsSync(query.file)) {
    throw new InputError(`batch "${query.batch}": ingest_db_file ${query.file} does not exist`);
  }
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-duckdb-'));
  let instance: DuckDBInstance | undefined;
  try {
    // Applied in this order: DuckDB refuses a temp_directory once external access is off, and
    // anything at all once the configuration is locked.
    instance = await DuckDBInstance.create(query.file ?? ':memory:', {
      ...(query.file !== null ? { access_mode: 'READ_ONLY' } : {}),
      temp_directory: temp,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      enable_external_access: 'false',
      lock_configuration: 'true',
    });
    const connection = await instance.connect();
    try {
      const statements = await connection.extractStatements(query.sql);
      if (statements.count !== 1) {
        throw new InputError(`batch "${query.batch}": ingest_sql must be a single statement (one query, no ";"-separated commands)`);
      }
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        connection.interrupt();
      }, query.timeoutMs);
      try {
        const reader = await connection.runAndReadAll(query.sql, query.values.length > 0 ? bindable(query.values) : undefined);
        return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plainValue(value)])));
      } catch (error) {
        if (timedOut) {
          throw new InputError(`batch "${query.batch}": ingest_sql ran longer than ingest_timeout_s (${query.timeoutMs / 1000} s) and was interrupted`);
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    if (error instanceof InputError) {
      throw error;
    }
    // An embedded engine has no connection to lose: its errors (syntax, catalog, conversion,
    // permission) come from the batch's SQL or file and would fail the same way on a retry.
    throw new InputError(`batch "${query.batch}": ingest_sql failed in DuckDB: ${(error as Error).message}`);
  } finally {
    instance?.closeSync();
    fs.rmSync(temp, { recursive: true, force: true });
  }
}
