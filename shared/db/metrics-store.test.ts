import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import type { MetricRow } from '../metric-row.js';
import { upsertMetricRows } from './metrics-store.js';

let test: TestDatabase;
const table = 'store_test.metrics';

const row = (name: string, minute: number, value: number, extra: Partial<MetricRow> = {}): MetricRow => ({
  metric_timestamp: new Date(Date.UTC(2025, 0, 1, 0, minute)),
  metric_batch: 'b',
  metric_name: name,
  metric_type: 'metric',
  metric_value: value,
  metadata: null,
  ...extra,
});

const count = async (): Promise<number> => {
  const [r] = await test.db.query<{ n: number }>({ text: `select count(*)::int as n from ${table}`, values: [] });
  return r?.n ?? -1;
};

beforeAll(async () => {
  test = await createTestDatabase();
  await test.db.query({ text: 'create schema store_test', values: [] });
});
afterAll(async () => {
  await test.drop();
});

describe('upsertMetricRows', () => {
  it('writes rows once: a re-run leaves one row per key and changes nothing', async () => {
    const rows = [row('a', 0, 1), row('a', 1, 2), row('b', 0, 3, { metadata: { note: 'tab\there' } })];
    expect(await upsertMetricRows(test.db, table, rows)).toBe(3);
    expect(await upsertMetricRows(test.db, table, rows)).toBe(0);
    expect(await count()).toBe(3);
    const [b] = await test.db.query<{ metadata: unknown }>({ text: `select metadata from ${table} where metric_name = 'b'`, values: [] });
    expect(b?.metadata).toEqual({ note: 'tab\there' });
  });

  it('replaces the value of an existing key, and keeps the last of duplicates in one call', async () => {
    expect(await upsertMetricRows(test.db, table, [row('a', 0, 10), row('a', 0, 11)])).toBe(1);
    const [a] = await test.db.query<{ v: number }>({
      text: `select metric_value as v from ${table} where metric_name = 'a' and metric_timestamp = $1`,
      values: [new Date(Date.UTC(2025, 0, 1, 0, 0))],
    });
    expect(a?.v).toBe(11);
    expect(await count()).toBe(3);
  });

  it('writes nothing when one row of the call fails', async () => {
    const before = await count();
    // A NUL byte is rejected by Postgres mid-COPY, after earlier rows were sent.
    const rows = [row('c', 0, 1), row('c', 1, 2), row('bad\u0000name', 2, 3)];
    await expect(upsertMetricRows(test.db, table, rows)).rejects.toThrow();
    expect(await count()).toBe(before);
  });

  it('keeps names with quotes, backslashes and newlines intact', async () => {
    const name = "it's a \\ back\nslash";
    await upsertMetricRows(test.db, table, [row(name, 5, 1.5)]);
    const found = await test.db.query<{ metric_name: string }>({ text: `select metric_name from ${table} where metric_name = $1`, values: [name] });
    expect(found).toHaveLength(1);
  });

  it('takes the direct COPY for new rows and falls back to the upsert when keys exist', async () => {
    const many = Array.from({ length: 1500 }, (_, i) => row(`bulk_${i % 50}`, 100 + Math.floor(i / 50), i));
    const before = await count();
    expect(await upsertMetricRows(test.db, table, many)).toBe(1500);
    // Half old (one changed value), half new, and a duplicate key inside the call.
    const mixed = [...many.slice(750), ...many.slice(750).map((r) => ({ ...r, metric_timestamp: new Date(r.metric_timestamp.getTime() + 3_600_000) }))];
    mixed.push({ ...many[1499]!, metric_value: -1 });
    expect(await upsertMetricRows(test.db, table, mixed)).toBe(751);
    expect(await count()).toBe(before + 2250);
    const bad = many.map((r) => ({ ...r, metric_timestamp: new Date(r.metric_timestamp.getTime() + 86_400_000) }));
    bad[1200] = { ...bad[1200]!, metric_name: 'nul\u0000' };
    await expect(upsertMetricRows(test.db, table, bad)).rejects.toThrow();
    expect(await count()).toBe(before + 2250);
  });
});
