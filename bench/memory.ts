import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { createDb } from '../shared/db/db.js';
import { createDatabaseIfMissing } from '../shared/db/migrate.js';
import { closePool } from '../shared/db/pool.js';
import { createMetricsDir, DEFAULTS_DIR, ROOT } from '../test/support/processes.js';

const run$ = promisify(execFile);

const BATCH = 'bench_memory';
const TABLE = 'bench_memory';
const NOW = new Date('2026-06-01T00:00:00Z');

/** `metrics` x `points` rows, 5 minutes apart, a wave per metric: what a first run's backfill returns. */
const backfillSql = (metrics: number, points: number): string => `
select 'm' || lpad(i::text, 5, '0') as metric_name,
  {{param.now}}::timestamptz - (j * interval '5 minutes') as metric_timestamp,
  round((100 + 10 * sin(j / 24.0 + i))::numeric, 3)::float8 as metric_value
from generate_series(1, ${metrics}) as i, generate_series(0, ${points - 1}) as j`;

type Kind = 'backfill-streamed' | 'backfill-whole' | 'score-csv-streamed' | 'score-csv-whole';

interface Figure {
  seconds: number;
  maxRssMiB: number;
}

/**
 * `npm run bench -- memory [--rows 500000] [--csv-metrics 1000] [--csv-points 500] [--runs 3]`:
 * peak RSS (the process's own maxRSS) and wall time, each measured in a fresh process, A B A B:
 * - a backfill ingest of `rows` rows through ingestBatch (rows streamed through a cursor, staged
 *   chunk by chunk) against the same-run baseline that holds them all (the whole-frame path
 *   before issue 13: read every row, validate them all, upsertMetricRows);
 * - `anomstack score-csv` on `csv-metrics` x `csv-points` (streamed read and write) against the
 *   whole-text path (readFile, scoreCsv, formatScoresCsv, writeFile).
 * Prints medians and the ratios streamed / whole.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      child: { type: 'string' },
      url: { type: 'string' },
      dir: { type: 'string' },
      csv: { type: 'string' },
      rows: { type: 'string', default: '500000' },
      'csv-metrics': { type: 'string', default: '1000' },
      'csv-points': { type: 'string', default: '500' },
      runs: { type: 'string', default: '3' },
    },
  });
  if (values.child !== undefined) {
    await child(values.child as Kind, values);
    return;
  }
  const rows = Number(values.rows);
  const metrics = 1000;
  const points = Math.ceil(rows / metrics);
  const runs = Number(values.runs);
  const base = process.env.ANOMSTACK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/anomstack';
  const url = new URL(base);
  url.pathname = '/anomstack_bench';
  await createDatabaseIfMissing(url.toString());
  const dir = createMetricsDir({ [BATCH]: { table_key: TABLE, ingest_sql: backfillSql(metrics, points), disable_tholdalert: true } });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-bench-memory-'));
  const csv = path.join(work, 'in.csv');
  fs.writeFileSync(csv, metricsCsvText(Number(values['csv-metrics']), Number(values['csv-points'])));
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`memory bench: backfill of ${metrics * points} rows; score-csv on ${values['csv-metrics']} x ${values['csv-points']}; ${runs} runs each, alternating; load ${load}`);
  try {
    const pairs: [Kind, Kind][] = [
      ['backfill-streamed', 'backfill-whole'],
      ['score-csv-streamed', 'score-csv-whole'],
    ];
    for (const [streamed, whole] of pairs) {
      const figures: Record<string, Figure[]> = { [streamed]: [], [whole]: [] };
      for (let i = 0; i < runs; i++) {
        for (const kind of [streamed, whole]) {
          figures[kind]!.push(await inChild(kind, ['--url', url.toString(), '--dir', dir, '--csv', csv]));
        }
      }
      const med = (kind: Kind, pick: (f: Figure) => number): number => median(figures[kind]!.map(pick));
      for (const kind of [streamed, whole]) {
        console.log(`${kind.padEnd(20)} peak RSS ${String(med(kind, (f) => f.maxRssMiB)).padStart(5)} MiB  ${med(kind, (f) => f.seconds).toFixed(2).padStart(6)} s  (median of ${runs}; RSS ${figures[kind]!.map((f) => f.maxRssMiB).join(', ')})`);
      }
      console.log(
        `${streamed.replace('-streamed', '')}: streamed / whole: peak RSS ${(med(streamed, (f) => f.maxRssMiB) / med(whole, (f) => f.maxRssMiB)).toFixed(2)}, time ${(med(streamed, (f) => f.seconds) / med(whole, (f) => f.seconds)).toFixed(2)}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
    const db = createDb(url.toString());
    await db.query({ text: `drop table if exists ${TABLE}`, values: [] });
    await closePool();
  }
}

/** One measurement in a fresh process: its own peak RSS, and the wall time seen from here. */
async function inChild(kind: Kind, args: string[]): Promise<Figure> {
  const started = process.hrtime.bigint();
  const { stdout } = await run$(process.execPath, ['--import', 'tsx', 'bench/main.ts', 'memory', '--child', kind, ...args], {
    cwd: ROOT,
    maxBuffer: 1 << 24,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { maxRssMiB } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { maxRssMiB: number };
  return { seconds, maxRssMiB };
}

/** Imports only what its kind uses, so each child's RSS is its own path's. */
async function child(kind: Kind, values: { url?: string; dir?: string; csv?: string }): Promise<void> {
  if (kind === 'score-csv-streamed' || kind === 'score-csv-whole') {
    const input = values.csv ?? '';
    const output = `${input}.${kind}.out`;
    if (kind === 'score-csv-streamed') {
      const { scoreCsvCommand } = await import('../services/cli/score-csv.js');
      const stderr = process.stderr.write.bind(process.stderr);
      process.stderr.write = () => true;
      const code = await scoreCsvCommand([input, output]);
      process.stderr.write = stderr;
      if (code !== 0) {
        throw new Error(`score-csv exited ${code}`);
      }
    } else {
      const { formatScoresCsv, scoreCsv } = await import('../shared/models/backtest.js');
      fs.writeFileSync(output, formatScoresCsv(scoreCsv(fs.readFileSync(input, 'utf8'))));
    }
  } else {
    const db = createDb(values.url ?? '');
    await db.query({ text: `drop table if exists ${TABLE}`, values: [] });
    const { loadBatches } = await import('../shared/config/load-batches.js');
    const load = loadBatches({ metricsDir: values.dir ?? '', defaultsDir: DEFAULTS_DIR, ignoreExamples: true, env: {} });
    const batch = load.batches.find((b) => b.name === BATCH) as MetricBatch;
    if (kind === 'backfill-streamed') {
      const [{ ingestBatch }, { loadEnv }, { pino }] = await Promise.all([
        import('../services/ingest/src/ingest.js'),
        import('../shared/config/env.js'),
        import('pino'),
      ]);
      await ingestBatch(batch, { env: loadEnv({}), db, batches: load.batches, now: NOW, dryRun: false, log: pino({ level: 'warn' }) });
    } else {
      const [{ validateIngestRows }, { upsertMetricRows }, { renderSql }] = await Promise.all([
        import('../services/ingest/src/validate-rows.js'),
        import('../shared/db/metrics-store.js'),
        import('../shared/templates.js'),
      ]);
      const raw = await db.readOnly((tx) => tx.querySingle<Record<string, unknown>>(renderSql(batch, 'ingest_sql', { now: NOW })));
      const { rows } = validateIngestRows(batch.name, raw, { rounding: batch.config.ingest_metric_rounding });
      await upsertMetricRows(db, TABLE, rows);
    }
    await closePool();
  }
  process.stdout.write(`${JSON.stringify({ maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
}

/** metric_name,metric_timestamp,metric_value for `metrics` x `points`, 5 minutes apart. */
function metricsCsvText(metrics: number, points: number): string {
  const lines = ['metric_name,metric_timestamp,metric_value'];
  const start = Date.UTC(2026, 0, 1);
  for (let m = 0; m < metrics; m++) {
    for (let i = 0; i < points; i++) {
      const ts = new Date(start + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
      lines.push(`m${String(m).padStart(4, '0')},${ts},${(100 + 10 * Math.sin(i / 20 + m) + ((i * 7919 + m) % 13) / 13).toFixed(4)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
