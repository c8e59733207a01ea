import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import type { JobContext } from '../shared/job.js';
import type { MetricRow } from '../shared/metric-row.js';
import { setProgressEvery } from '../shared/progress.js';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { trainBatch } from '../services/train/src/train.js';
import { metricsCsv } from './support/csv.js';
import { anomstack as cli, jsonLines } from './support/cli.js';
import { createMetricsDir, createTestDatabase, DEFAULTS_DIR, SLOT_KEYED_INGEST_SQL, type TestDatabase } from './support/processes.js';

/** Long work logs a start line, progress with counts and rate, and an end line with totals (issue 12). */

function capturedLogger(): { log: pino.Logger; messages: () => string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const entries = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, entries, messages: () => entries().map((e) => String(e.msg)) };
}

let database: TestDatabase;
let dir: string;
let batches: MetricBatch[];

const NOW = new Date('2026-03-01T00:00:00Z');
const METRICS = 300;

beforeAll(async () => {
  dir = createMetricsDir({
    many_metrics: { ingest_sql: 'select 1', table_key: 'metrics_many' },
    backfill: {
      table_key: 'metrics_backfill',
      // 12,000 rows: 4 metrics x 3,000 ten-minute points, as a first run's backfill returns.
      ingest_sql: `select t as metric_timestamp, 'm' || n as metric_name, n + extract(minute from t) as metric_value
        from generate_series({{param.now}}::timestamptz - interval '29990 minutes', {{param.now}}::timestamptz, interval '10 minutes') t,
             generate_series(1, 4) n`,
      disable_tholdalert: true,
    },
    third: { ingest_sql: 'select 1', table_key: 'metrics_third' },
    slots: { ingest_sql: SLOT_KEYED_INGEST_SQL, table_key: 'metrics_slots', disable_tholdalert: true },
  });
  const loaded = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  batches = loaded.batches;
  database = await createTestDatabase(batches);
  const rows: MetricRow[] = [];
  for (let m = 0; m < METRICS; m += 1) {
    for (let i = 0; i < 30; i += 1) {
      rows.push({
        metric_timestamp: new Date(NOW.getTime() - (30 - i) * 600_000),
        metric_batch: 'many_metrics',
        metric_name: `metric_${m}`,
        metric_type: 'metric',
        metric_value: 10 + ((i * 7919 + m) % 13),
        metadata: null,
      });
    }
  }
  await upsertMetricRows(database.db, 'metrics_many', rows);
  setProgressEvery(0);
});

afterAll(async () => {
  setProgressEvery(5000);
  await database.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const batch = (name: string): MetricBatch => batches.find((b) => b.name === name)!;

const context = (log: pino.Logger, dryRun: boolean): JobContext => ({ env: loadEnv({}), db: database.db, batches, now: NOW, dryRun, log });

describe('progress of long work', () => {
  it('a train over many metrics logs its start, its progress with counts and rate, and its end', async () => {
    const { log, messages, entries } = capturedLogger();
    const result = await trainBatch(batch('many_metrics'), context(log, true));
    expect(result.details).toMatchObject({ trained: METRICS });
    const lines = messages().filter((m) => m.startsWith('train many_metrics'));
    expect(lines[0]).toBe(`train many_metrics: started, ${METRICS} metrics`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^train many_metrics: 256/${METRICS} metrics \\(85%\\), [\\d.]+ metrics/s$`)));
    expect(lines.at(-1)).toMatch(new RegExp(`^train many_metrics: done, ${METRICS} metrics in [\\d.]+ s \\([\\d.]+ metrics/s\\), ${METRICS} fitted$`));
    expect(entries().find((e) => String(e.msg).includes(': done,'))?.progress).toMatchObject({ done: METRICS, total: METRICS, unit: 'metrics' });
  });

  it('a small train logs no progress lines', async () => {
    const { log, messages } = capturedLogger();
    const small = batches.find((b) => b.name === 'third')!;
    await trainBatch(small, context(log, true));
    expect(messages().filter((m) => m.includes(': started,'))).toEqual([]);
  });

  // The rows stream in chunks (read, validated and staged together), so there is no separate
  // "fetched" line and no total up front: a start line, the count as it goes, the totals at the end.
  it('a backfill ingest logs its start, then the end with the rows read and written', async () => {
    const { log, messages } = capturedLogger();
    const result = await ingestBatch(batch('backfill'), context(log, false));
    expect(result.rows).toBe(12_000);
    const lines = messages().filter((m) => m.startsWith('ingest backfill'));
    expect(lines[0]).toBe('ingest backfill: started');
    expect(lines.at(-1)).toMatch(/^ingest backfill: done, 12000 rows in [\d.]+ s \([\d.]+ rows\/s\), 12000 rows new or changed, 4 metrics, 0 threshold alerts$/);
    expect(lines.slice(1, -1).every((line) => /^ingest backfill: \d+ rows, [\d.e+]+ rows\/s$/.test(line))).toBe(true);
  });

  it('anomstack migrate logs a line per table step and the totals', async () => {
    const out = await cli(['migrate'], {
      ANOMSTACK_DATABASE_URL: database.url,
      ANOMSTACK_METRICS_DIR: dir,
      ANOMSTACK_LOG_LEVEL: 'info',
      ANOMSTACK_LOG_FORMAT: 'json',
      ANOMSTACK_PROGRESS_EVERY_MS: '0',
    });
    expect(out.code).toBe(0);
    const lines = out.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => String((JSON.parse(l) as { msg: string }).msg))
      .filter((m) => m.startsWith('migrate'));
    expect(lines[0]).toBe('migrate: started, 4 tables');
    expect(lines.slice(1, -1)).toEqual([1, 2, 3].map((n) => expect.stringMatching(new RegExp(`^migrate: ${n}/4 tables \\(${Math.floor((100 * n) / 4)}%\\), `))));
    expect(lines.at(-1)).toMatch(/^migrate: done, 4 tables in [\d.]+ s \([\d.]+ tables\/s\), our own tables up to date$/);
  });

  it('anomstack score-csv writes progress per metric to stderr', async () => {
    const input = path.join(dir, 'in.csv');
    fs.writeFileSync(input, metricsCsv({ a: 60, b: 60, c: 60 }));
    const out = await cli(['score-csv', input, path.join(dir, 'out.csv'), '--score-n', '3'], { ANOMSTACK_PROGRESS_EVERY_MS: '0' });
    expect(out.code).toBe(0);
    const lines = out.stderr.trim().split('\n');
    expect(lines[0]).toBe(`score-csv ${input}: started, 3 metrics`);
    expect(lines.slice(1, 3)).toEqual([expect.stringMatching(/: 1\/3 metrics \(33%\), [\d.]+ metrics\/s$/), expect.stringMatching(/: 2\/3 metrics \(66%\), /)]);
    expect(lines[3]).toMatch(/: done, 3 metrics in [\d.]+ s \([\d.]+ metrics\/s\)$/);
    expect(lines[4]).toBe(`wrote 9 rows to ${path.join(dir, 'out.csv')} (0 metrics skipped)`);
  });

  it('anomstack run --from --every backfills slot by slot with progress, and a second backfill writes nothing', async () => {
    const env = { ANOMSTACK_DATABASE_URL: database.url, ANOMSTACK_METRICS_DIR: dir, ANOMSTACK_PROGRESS_EVERY_MS: '0' };
    const args = ['run', 'slots', 'ingest', '--from', '2026-03-01T00:00:00Z', '--every', '1h', '--now', '2026-03-01T03:00:00Z'];
    const first = await cli(args, env);
    expect(first.code, first.stderr).toBe(0);
    expect(jsonLines(first.stdout).map((l) => [l.job, l.rows])).toEqual([['ingest', 1], ['ingest', 1], ['ingest', 1], ['ingest', 1]]);
    const lines = first.stderr.trim().split('\n');
    expect(lines[0]).toBe('backfill slots ingest: started, 4 slots');
    expect(lines.slice(1, 4)).toEqual([1, 2, 3].map((n) => expect.stringMatching(new RegExp(`^backfill slots ingest: ${n}/4 slots \\(\\d+%\\), [\\d.]+ slots/s$`))));
    expect(lines[4]).toMatch(/^backfill slots ingest: done, 4 slots in [\d.]+ s \([\d.]+ slots\/s\), 4 rows written, 2026-03-01T00:00:00.000Z to 2026-03-01T03:00:00.000Z$/);
    const again = await cli(args, env);
    expect(jsonLines(again.stdout).map((l) => l.rows)).toEqual([0, 0, 0, 0]);
    const [row] = await database.db.query<{ n: number }>({ text: `select count(*)::int as n from metrics_slots`, values: [] });
    expect(row?.n).toBe(4);
  });

  it('anomstack run refuses a bad backfill with the reason and exit 2', async () => {
    const bad = async (extra: string[]): Promise<string> => {
      const out = await cli(['run', 'slots', 'ingest', ...extra], { ANOMSTACK_DATABASE_URL: database.url, ANOMSTACK_METRICS_DIR: dir });
      expect(out.code).toBe(2);
      return out.stderr.trim();
    };
    expect(await bad(['--from', '2026-03-01T00:00:00Z'])).toBe('--from and --every go together (a backfill: every slot from --from to --now, --every apart)');
    expect(await bad(['--from', '2026-03-01T00:00:00Z', '--every', '5x'])).toBe('--every: "5x" is not a duration like 30s, 10m, 1h or 1d');
    expect(await bad(['--from', '2026-03-02T00:00:00Z', '--every', '1h', '--now', '2026-03-01T00:00:00Z'])).toBe('--from 2026-03-02T00:00:00.000Z is after --now 2026-03-01T00:00:00.000Z');
  });
});
