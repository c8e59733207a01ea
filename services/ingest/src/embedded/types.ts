/** One ingest_sql run in an embedded engine: the rendered statement and its limits. */
export interface EmbeddedQuery {
  batch: string;
  /** The rendered SQL, with `$n` placeholders. */
  sql: string;
  values: unknown[];
  /** A database file to open read-only; null for an empty in-memory database. */
  file: string | null;
  timeoutMs: number;
}

/** Values as the engines bind them: a Date goes in as ISO 8601 text (UTC). */
export function bindable(values: readonly unknown[]): (string | number | boolean | null)[] {
  return values.map((value) => {
    if (value instanceof Date) {
      return value.toISOString();
    }
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) {
      return value;
    }
    return JSON.stringify(value);
  });
}

/** A bigint (DuckDB BIGINT, SQLite INTEGER) as a number, which is what the row validator takes. */
export function plainValue(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}
