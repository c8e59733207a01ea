/**
 * What the original did to every SQL string for `db: sqlite` (anomstack/sql/translate.py): it
 * transpiled from its DuckDB-flavoured default dialect with sqlglot, which drops a trailing comma
 * before FROM, then replaced GET_CURRENT_TIMESTAMP() with DATETIME('now'). The original's
 * examples rely on both, so a SQLite batch gets the same two rewrites here, outside quotes and
 * comments. DuckDB accepts both forms natively and needs none.
 */
export function translateForSqlite(sql: string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const skipped = /^('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/)/.exec(rest);
    if (skipped) {
      out += skipped[0];
      i += skipped[0].length;
      continue;
    }
    const now = /^get_current_timestamp\s*\(\s*\)/i.exec(rest);
    if (now) {
      out += "DATETIME('now')";
      i += now[0].length;
      continue;
    }
    // A comma that only white space and comments separate from FROM ends the select list.
    const trailing = /^,((?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*)(from\b)/i.exec(rest);
    if (trailing) {
      out += ` ${trailing[1] ?? ''}${trailing[2] ?? ''}`;
      i += trailing[0].length;
      continue;
    }
    out += sql[i];
    i += 1;
  }
  return out;
}
