import { parseArgs } from 'node:util';
import { createDb, type Db } from '../shared/db/db.js';
import { createDatabaseIfMissing } from '../shared/db/migrate.js';
import { toCopyLine, upsertMetricRows } from '../shared/db/metrics-store.js';
import { closePool } from '../shared/db/pool.js';
import type { MetricRow } from '../shared/metric-row.js';

/**
 * Metric writes into a table with the metrics table's unique key (docs/contract.md, "Postgres"), three ways in one run: single-row
 * INSERT ... ON CONFLICT (the naive baseline), raw COPY into an empty table (the ceiling), and
 * our upsert path (COPY to staging + one upsert), fresh and repeated.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { rows: { type: 'string', default: '500000' }, single: { type: 'string', default: '20000' } },
  });
  const n = Number(values.rows);
  const nSingle = Number(values.single);
  const base = process.env.ANOMSTACK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/anomstack';
  const url = new URL(base);
  url.pathname = '/anomstack_bench';
  await createDatabaseIfMissing(url.toString());
  const db = createDb(url.toString());
  try {
    const rows = makeRows(n);
    const table = 'bench_metrics';
    const reset = async (): Promise<void> => {
      await db.query({ text: `drop table if exists ${table}`, values: [] });
      await db.run('create_metrics_table', [], { table });
    };
    const time = async (label: string, count: number, fn: () => Promise<unknown>): Promise<number> => {
      const started = process.hrtime.bigint();
      await fn();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rate = count / seconds;
      console.log(`${label.padEnd(44)} ${String(count).padStart(8)} rows  ${seconds.toFixed(2).padStart(7)} s  ${Math.round(rate).toLocaleString('en-US').padStart(10)} rows/s`);
      return rate;
    };

    console.log(`store bench: ${n.toLocaleString('en-US')} rows (single-row baseline on ${nSingle.toLocaleString('en-US')})`);
    await reset();
    const single = await time('single-row INSERT ... ON CONFLICT', nSingle, () => singleRowInserts(db, table, rows.slice(0, nSingle)));
    await reset();
    const copy = await time('raw COPY into the table (no upsert)', n, () =>
      db.copyRows(table, ['metric_timestamp', 'metric_batch', 'metric_name', 'metric_type', 'metric_value', 'metadata'], rows.map(toCopyLine)),
    );
    await reset();
    const upsert = await time('upsertMetricRows, empty table', n, () => upsertMetricRows(db, table, rows));
    const rerun = await time('upsertMetricRows, same rows again', n, () => upsertMetricRows(db, table, rows));
    const changed = rows.map((r) => ({ ...r, metric_value: r.metric_value + 1 }));
    const update = await time('upsertMetricRows, every value changed', n, () => upsertMetricRows(db, table, changed));
    const [count] = await db.query<{ n: number }>({ text: `select count(*)::int as n from ${table}`, values: [] });
    console.log(`rows in table after the upserts: ${count?.n} (expected ${n})`);
    console.log(`ratio upsert/single-row: ${(upsert / single).toFixed(1)}x; upsert/raw COPY: ${(upsert / copy).toFixed(2)}; re-run/single-row: ${(rerun / single).toFixed(1)}x; update/single-row: ${(update / single).toFixed(1)}x`);
    console.log(`target 200,000 rows/s: ${upsert >= 200_000 ? 'met' : 'not met'} (${Math.round(upsert).toLocaleString('en-US')} rows/s)`);
  } finally {
    await closePool();
  }
}

function makeRows(n: number): MetricRow[] {
  const metrics = 1000;
  const start = Date.UTC(2025, 0, 1);
  return Array.from({ length: n }, (_, i) => ({
    metric_timestamp: new Date(start + Math.floor(i / metrics) * 60_000),
    metric_batch: 'bench',
    metric_name: `metric_${String(i % metrics).padStart(4, '0')}`,
    metric_type: 'metric' as const,
    metric_value: Math.round(Math.sin(i) * 1e4) / 100,
    metadata: null,
  }));
}

async function singleRowInserts(db: Db, table: string, rows: MetricRow[]): Promise<void> {
  for (const r of rows) {
    await db.query({
      text: `insert into ${table} (metric_timestamp, metric_batch, metric_name, metric_type, metric_value, metadata)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (metric_batch, metric_name, metric_type, metric_timestamp) do update set metric_value = excluded.metric_value`,
      values: [r.metric_timestamp, r.metric_batch, r.metric_name, r.metric_type, r.metric_value, r.metadata],
    });
  }
}
