// Runs one SQLite query in sql.js (SQLite compiled to WebAssembly) on a worker thread, so the
// parent can terminate it at the time limit: sql.js runs synchronously and cannot be interrupted
// from its own thread. See sqlite.ts.
import { parentPort, workerData } from 'node:worker_threads';
import initSqlJs from 'sql.js';

const { sql, params, bytes } = workerData;
try {
  const SQL = await initSqlJs();
  // The file's bytes are copied into memory: whatever the SQL does, nothing reaches the disk.
  const db = new SQL.Database(bytes ?? undefined);
  try {
    db.run('PRAGMA query_only = ON');
    // Counted first (the iterator frees each statement as it moves on), then prepared alone.
    const count = [...db.iterateStatements(sql)].length;
    if (count !== 1) {
      throw new Error(`more than one statement (${count})`);
    }
    const statement = db.prepare(sql);
    try {
      statement.bind(params);
      const rows = [];
      while (statement.step()) {
        rows.push(statement.getAsObject());
      }
      parentPort.postMessage({ rows });
    } finally {
      statement.free();
    }
  } finally {
    db.close();
  }
} catch (error) {
  parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
}
