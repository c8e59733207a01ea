import { describe, expect, it } from 'vitest';
import { translateForSqlite } from './sqlite-dialect.js';

describe('translateForSqlite', () => {
  it('drops a trailing comma before FROM and rewrites get_current_timestamp()', () => {
    const sql = "select\n  get_current_timestamp() as t,\n  metric_value,\nfrom x";
    expect(translateForSqlite(sql)).toBe("select\n  DATETIME('now') as t,\n  metric_value \nfrom x");
  });

  it('leaves quoted text and comments alone', () => {
    const sql = "select 'a, from b' as n, \"get_current_timestamp()\" as q -- x, from\nfrom t";
    expect(translateForSqlite(sql)).toBe(sql);
  });

  it('keeps a comma that is not the last of a select list', () => {
    expect(translateForSqlite('select a, fromage from t')).toBe('select a, fromage from t');
  });
});
