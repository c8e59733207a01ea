import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { Job } from 'bullmq';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { slotJobId } from '../shared/jobs.js';
import { reloadChannel } from '../shared/redis.js';
import { waitFor, writeBatch } from '../test/support/processes.js';
import { exited, median, openHarness, RssSampler, settled, WORKERS, type SlotJobName } from './support.js';

const TABLE = 'bench_cycle';
const STEP_MIN = 5;
const STEP_MS = STEP_MIN * 60_000;
// defaults.yaml: the score's window, and how many scored points the alert reads per metric. The
// alert's floor is the scored points only: the newest score_max_n after the first train, plus one
// per steady slot since.
const SCORE_MAX_N = 25;
const ALERT_MAX_N = 250;

/**
 * Ingest SQL that reads the batch's own rows and emits every 5-minute point after the newest one
 * stored, up to the slot, from `historyStart` on: a run at the first slot backfills all history,
 * a run at an earlier slot a chunk of it, each steady run one point. Metric names are numbered
 * from `offset`, so batches sharing the table never share a name. Values: a daily-ish wave plus
 * deterministic noise per metric, so nothing alerts by design.
 */
const ingestSql = (batch: string, offset: number, metrics: number, historyStart: string): string => `
with last as (
  select coalesce(max(metric_timestamp), timestamptz '${historyStart}' - interval '${STEP_MIN} minutes') as ts
  from ${TABLE} where metric_batch = '${batch}' and metric_type = 'metric'
)
select 'm' || lpad(i::text, 6, '0') as metric_name, ts as metric_timestamp,
  round((100 + 10 * sin(extract(epoch from ts) / 7200 + i) + ((i * 7919 + extract(epoch from ts)::bigint / 300) % 17) / 4.0)::numeric, 3)::float8 as metric_value
from generate_series(${offset + 1}, ${offset + metrics}) as i,
  generate_series((select ts from last) + interval '${STEP_MIN} minutes', {{param.now}}::timestamptz, interval '${STEP_MIN} minutes') as ts`;

/** One stage over every batch: wall from the first job's start to the last one's end. */
interface StageFigure {
  stage: string;
  wallS: number;
  /** Sum of the jobs' own run times (wall of one process doing them one after the other). */
  jobS: number;
  rows: number;
  floorS: number;
  /** Peak RSS (MiB) per worker kind (the largest of its processes) during the stage. */
  peakRss: Record<string, number>;
}

interface Options {
  metrics: number;
  points: number;
  cycles: number;
  batches: number;
  workerProcesses: number;
  backfillRows: number;
}

/**
 * `npm run bench -- cycle [--metrics 1000] [--points 500] [--cycles 3] [--batches 1]
 * [--worker-processes 1] [--backfill-rows 500000]`: the steady cycle of a deployment, through
 * the real services: `metrics` metrics (split over `batches` batches of one table) run by the
 * default worker set, one `anomstack start <kind>` process per kind as compose runs them.
 *
 * 1. History: `points` 5-minute points per metric through the ingest service, in jobs of at
 *    most `backfill-rows` rows (earlier slots, with score and the threshold check disabled in
 *    the batch file and the workers told to reload, so nothing chains on a partial history).
 * 2. The first slot ingests the last chunk; its chained score finds no model, so train follows
 *    (the newcomer path), then score and alert.
 * 3. `cycles` steady slots: ingest one point per metric, chained score and alert.
 * 4. The daily train: one train job per batch as the cron enqueues it (no chained score).
 * 5. With `--worker-processes N` (N > 1): N - 1 more processes of each kind share Redis and
 *    Postgres; one warm-up slot, then `cycles` steady slots again, and the throughput ratio to
 *    step 3. Jobs are per batch, so a second process only helps with several batches.
 *
 * Per stage: wall time (BullMQ's processedOn -> finishedOn), rows, the peak RSS of every worker
 * kind, and the ratio to an I/O floor run on the same Postgres in the same run: COPY of the rows
 * the stage wrote, plus a SELECT of the window it read.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      metrics: { type: 'string', default: '1000' },
      points: { type: 'string', default: '500' },
      cycles: { type: 'string', default: '3' },
      batches: { type: 'string', default: '1' },
      'worker-processes': { type: 'string', default: '1' },
      'backfill-rows': { type: 'string', default: '500000' },
    },
  });
  const options: Options = {
    metrics: Number(values.metrics),
    points: Number(values.points),
    cycles: Number(values.cycles),
    batches: Number(values.batches),
    workerProcesses: Number(values['worker-processes']),
    backfillRows: Number(values['backfill-rows']),
  };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`cycle bench: --${name} must be a positive integer, got ${value}`);
    }
  }
  const { metrics, points, cycles, batches: batchCount, workerProcesses } = options;
  const perBatch = Math.ceil(metrics / batchCount);
  const batches = Array.from({ length: batchCount }, (_, i) => (batchCount === 1 ? 'bench_cycle' : `bench_cycle_${i}`));
  const start = Date.UTC(2026, 5, 1, 12, 0, 0);
  const slotAt = (i: number): string => new Date(start + i * STEP_MS).toISOString();
  const historyStart = slotAt(-(points - 1));
  // Backfill chunks: earlier slots, each ingesting at most backfillRows rows per batch.
  const chunkPoints = Math.max(1, Math.floor(options.backfillRows / perBatch));
  const chunkSlots: string[] = [];
  for (let end = chunkPoints; end < points; end += chunkPoints) {
    chunkSlots.push(slotAt(-(points - end)));
  }
  console.log(
    `cycle bench: ${perBatch * batchCount} metrics in ${batchCount} batch(es) x ${points} points of history (${chunkSlots.length + 1} ingest job(s) per batch), ${cycles} steady cycles, workers ${WORKERS.join(', ')}, ${workerProcesses} process(es) each; uptime: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );

  const batchConfig = (i: number, setup: boolean): Record<string, unknown> => ({
    ingest_sql: ingestSql(batches[i]!, i * perBatch, perBatch, historyStart),
    table_key: TABLE,
    alert_methods: 'email',
    // While history loads, ingest chains nothing (a score on part of the history would train on it).
    ...(setup ? { disable_score: true, disable_tholdalert: true } : {}),
  });
  const harness = await openHarness(Object.fromEntries(batches.map((name, i) => [name, batchConfig(i, chunkSlots.length > 0)])));
  const { database, dir, processes, producer, prefix, queues, smtp } = harness;
  const client = new pg.Client({ connectionString: database.url });
  const rss = new RssSampler(processes);
  try {
    await client.connect();
    console.log(`${WORKERS.length} worker processes started in ${(await harness.startWorkers(1)).toFixed(2)} s`);
    const fig = stageFigures(rss);
    const runSlot = async (slot: string, names: readonly SlotJobName[]): Promise<Record<string, Job[]>> => {
      await queues.ingest.addBulk(batches.map((batch) => ({ name: 'ingest', data: { batch, slot }, opts: { jobId: slotJobId('ingest', batch, slot) } })));
      return settled(queues, batches, slot, names, processes);
    };
    const inBatches = `metric_batch = any(array[${batches.map((b) => `'${b}'`).join(', ')}])`;

    // 1-2. History, then the first slot: the newcomer path.
    const backfillJobs: Job[] = [];
    for (const slot of chunkSlots) {
      backfillJobs.push(...(await runSlot(slot, ['ingest'])).ingest!);
    }
    if (chunkSlots.length > 0) {
      batches.forEach((name, i) => writeBatch(dir, name, batchConfig(i, false)));
      await producer.publish(reloadChannel(prefix), 'reload');
    }
    const slot0 = slotAt(0);
    const firstJobs = await runSlot(slot0, ['ingest', 'score', 'train', 'score+after-train', 'alert']);
    backfillJobs.push(...firstJobs.ingest!);
    const setup = [
      fig('backfill ingest', backfillJobs, await copyFloor(client, perBatch * batchCount * points)),
      fig('train (newcomer path)', firstJobs.train!, await selectFloor(client, inBatches, `metric_type = 'metric'`)),
      fig('score after train', firstJobs['score+after-train']!, await selectFloor(client, inBatches, windowOf(slot0, SCORE_MAX_N + 5))),
      fig('alert', firstJobs.alert!, await selectFloor(client, inBatches, windowOf(slot0, SCORE_MAX_N))),
    ];

    // 3. Steady cycles.
    let next = 1;
    const steadyCycles = async (count: number): Promise<StageFigure[][]> => {
      const figures: StageFigure[][] = [];
      for (let c = 0; c < count; c++) {
        const slot = slotAt(next++);
        const added = Date.now();
        const jobs = await runSlot(slot, ['ingest', 'score', 'alert']);
        const done = Math.max(...jobs.alert!.map((j) => j.finishedOn ?? 0));
        figures.push([
          fig('cycle ingest', jobs.ingest!, await copyFloor(client, perBatch * batchCount)),
          fig('cycle score', jobs.score!, (await selectFloor(client, inBatches, windowOf(slot, SCORE_MAX_N + 5))) + (await copyFloor(client, perBatch * batchCount))),
          fig('cycle alert', jobs.alert!, await selectFloor(client, inBatches, windowOf(slot, Math.min(ALERT_MAX_N, SCORE_MAX_N + next - 1)))),
          { stage: 'cycle through the queues', wallS: (done - added) / 1000, jobS: 0, rows: 0, floorS: 0, peakRss: byKind(rss.peak(added, done)) },
        ]);
      }
      return figures;
    };
    const steady = await steadyCycles(cycles);

    // 4. The daily train, as the cron runs it: a job id of its own, so no score chains.
    const trainSlot = slotAt(next - 1);
    await queues.train.addBulk(
      batches.map((batch) => ({ name: 'train', data: { batch, slot: trainSlot }, opts: { jobId: slotJobId('train', batch, trainSlot, '+daily') } })),
    );
    const trainJobs = await waitFor(
      async () => {
        const dead = exited(processes);
        if (dead) {
          return { failed: dead };
        }
        const jobs = await Promise.all(batches.map((batch) => queues.train.getJob(slotJobId('train', batch, trainSlot, '+daily'))));
        const failed = jobs.find((job) => job?.failedReason);
        if (failed) {
          return { failed: `daily train of ${failed.data.batch} failed: ${failed.failedReason}` };
        }
        return jobs.every((job) => job?.finishedOn) ? { jobs: jobs as Job[] } : undefined;
      },
      3_600_000,
      'the daily train jobs',
    );
    if ('failed' in trainJobs) {
      throw new Error(trainJobs.failed);
    }
    const dailyTrain = fig('daily train', trainJobs.jobs, await selectFloor(client, inBatches, `metric_type = 'metric'`));

    // 5. Scale-out: more processes of every kind on the same Redis and Postgres.
    let scaled: StageFigure[][] = [];
    if (workerProcesses > 1) {
      const startedS = await Promise.all(Array.from({ length: workerProcesses - 1 }, (_, i) => harness.startWorkers(i + 2)));
      console.log(`${(workerProcesses - 1) * WORKERS.length} more worker processes started in ${Math.max(...startedS).toFixed(2)} s`);
      await steadyCycles(1);
      scaled = await steadyCycles(cycles);
    }
    const highWater = byKind(rss.highWater());

    console.log(`-- setup: ${perBatch * batchCount * points} rows of history`);
    setup.forEach(printFigure);
    console.log(`-- steady cycles, ${workerProcesses === 1 ? '' : '1 process per kind, '}median of ${steady.length}`);
    summarise(steady).forEach(printFigure);
    console.log('-- daily train (models exist: a retrain of every metric)');
    printFigure(dailyTrain);
    if (scaled.length > 0) {
      console.log(`-- steady cycles, ${workerProcesses} processes per kind, median of ${scaled.length} (after one warm-up cycle)`);
      summarise(scaled).forEach(printFigure);
      const one = median(steady.map((c) => c.at(-1)!.wallS));
      const many = median(scaled.map((c) => c.at(-1)!.wallS));
      console.log(
        `throughput: ${(metrics / one).toFixed(0)} metrics/s with 1 process per kind, ${(metrics / many).toFixed(0)} with ${workerProcesses}: ratio ${(one / many).toFixed(2)}x (${batchCount} batch(es) per slot)`,
      );
    }
    const rowsPerCycle = Number((await client.query(`select count(*) as n from ${TABLE} where metric_timestamp = $1`, [slotAt(next - 1)])).rows[0].n);
    const size = (await client.query(`select pg_total_relation_size('${TABLE}') as bytes, count(*) as n from ${TABLE}`)).rows[0] as { bytes: string; n: string };
    const bytesPerRow = Number(size.bytes) / Number(size.n);
    console.log(
      `rows per steady slot ${rowsPerCycle} (metric + score); table ${(Number(size.bytes) / 2 ** 20).toFixed(0)} MiB for ${size.n} rows = ${bytesPerRow.toFixed(0)} B/row with indexes: at 288 slots a day, ${((rowsPerCycle * 288 * bytesPerRow) / 2 ** 20).toFixed(0)} MiB/day`,
    );
    console.log(`peak RSS over the run (VmHWM, MiB, largest process of each kind): ${WORKERS.map((w) => `${w} ${highWater[w] ?? 0}`).join(', ')}; emails ${smtp.messages.length}`);
    console.log(`uptime at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    rss.stop();
    await client.end().catch(() => {});
    await harness.close();
  }
}

/** The figure of one stage from its jobs (one per batch), with the peak RSS over its span. */
function stageFigures(rss: RssSampler): (name: string, jobs: readonly Job[], floorS: number) => StageFigure {
  return (name, jobs, floorS) => {
    const from = Math.min(...jobs.map((j) => j.processedOn ?? 0));
    const to = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
    return {
      stage: name,
      wallS: (to - from) / 1000,
      jobS: jobs.reduce((sum, j) => sum + ((j.finishedOn ?? 0) - (j.processedOn ?? 0)), 0) / 1000,
      rows: jobs.reduce((sum, j) => sum + Number((j.returnvalue as { rows?: number } | undefined)?.rows ?? 0), 0),
      floorS,
      peakRss: byKind(rss.peak(from, to)),
    };
  };
}

/** `ingest#2` and `ingest` are both the ingest kind: the largest of them. */
function byKind(perProcess: Record<string, number>): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const [name, value] of Object.entries(perProcess)) {
    const kind = name.split('#')[0]!;
    peaks[kind] = Math.max(peaks[kind] ?? 0, value);
  }
  return peaks;
}

/** Medians per stage over cycles (RSS: the largest). */
function summarise(cycles: readonly StageFigure[][]): StageFigure[] {
  return (cycles[0] ?? []).map((first, i) => {
    const column = cycles.map((c) => c[i]!);
    const med = (pick: (f: StageFigure) => number): number => median(column.map(pick));
    return {
      stage: first.stage,
      wallS: med((f) => f.wallS),
      jobS: med((f) => f.jobS),
      rows: med((f) => f.rows),
      floorS: med((f) => f.floorS),
      peakRss: Object.fromEntries(WORKERS.map((w) => [w, Math.max(...column.map((f) => f.peakRss[w] ?? 0))])),
    };
  });
}

function printFigure(f: StageFigure): void {
  const ratio = f.floorS > 0 ? `${(f.wallS / f.floorS).toFixed(1).padStart(6)}x floor (${f.floorS.toFixed(3)} s)` : ''.padStart(24);
  const jobs = f.jobS > 0 && Math.abs(f.jobS - f.wallS) > 0.0005 ? `(jobs ${f.jobS.toFixed(2)} s)` : '';
  const mem = WORKERS.map((w) => `${w} ${f.peakRss[w] ?? 0}`).join(', ');
  console.log(`${f.stage.padEnd(26)} ${f.wallS.toFixed(3).padStart(8)} s ${jobs.padEnd(16)} ${String(f.rows).padStart(8)} rows  ${ratio}  RSS MiB ${mem}`);
}

/** The rows of the last `slotCount` slots up to `slot` (the windows score and alert read). */
const windowOf = (slot: string, slotCount: number): string =>
  `metric_timestamp > timestamptz '${slot}' - interval '${slotCount * STEP_MIN} minutes' and metric_timestamp <= timestamptz '${slot}'`;

/** Seconds to SELECT the batches' rows matching `where` into the client (the read floor). */
async function selectFloor(client: pg.Client, inBatches: string, where: string): Promise<number> {
  const started = process.hrtime.bigint();
  await client.query(`select metric_name, metric_timestamp, metric_type, metric_value from ${TABLE} where ${inBatches} and ${where}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Seconds to COPY `rows` metric rows into a scratch table of the same shape (the write floor). */
async function copyFloor(client: pg.Client, rows: number): Promise<number> {
  await client.query(`create temp table if not exists floor_copy (like ${TABLE} including all)`);
  await client.query('truncate floor_copy');
  const started = process.hrtime.bigint();
  const stream = client.query(pgCopy.from('copy floor_copy (metric_timestamp, metric_batch, metric_name, metric_type, metric_value) from stdin'));
  const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject));
  const base = Date.UTC(2026, 0, 1);
  const chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    chunk.push(`${new Date(base + i * 1000).toISOString()}\tbench_cycle\tm${String(i % 1_000_000).padStart(6, '0')}\tmetric\t${(i % 97) / 3}\n`);
    if (chunk.length === 10_000) {
      stream.write(chunk.join(''));
      chunk.length = 0;
    }
  }
  stream.end(chunk.join(''));
  await done;
  return Number(process.hrtime.bigint() - started) / 1e9;
}

