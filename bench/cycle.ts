import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs, promisify } from 'node:util';
import type { Job } from 'bullmq';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { slotJobId, type JobName } from '../shared/jobs.js';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { startSmtpServer } from '../test/support/smtp-server.js';
import {
  BIN,
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  randomPrefix,
  REDIS_URL,
  ROOT,
  serviceEnv,
  startService,
  stopAll,
  waitFor,
  type ServiceProcess,
} from '../test/support/processes.js';

const run$ = promisify(execFile);

const BATCH = 'bench_cycle';
const TABLE = 'bench_cycle';
const STEP_MIN = 5;
const WORKERS = ['ingest', 'train', 'score', 'alert'] as const;

/**
 * Ingest SQL that reads the batch's own table and emits every 5-minute point after the newest
 * one stored, up to the slot: the first run backfills `points` points per metric, each later run
 * one. Values: a daily-ish wave plus deterministic noise per metric, so nothing alerts by design.
 */
const ingestSql = (metrics: number, points: number): string => `
with last as (
  select coalesce(max(metric_timestamp), {{param.now}}::timestamptz - interval '${(points - 1) * STEP_MIN} minutes' - interval '${STEP_MIN} minutes') as ts
  from ${TABLE} where metric_batch = '${BATCH}' and metric_type = 'metric'
)
select 'm' || lpad(i::text, 5, '0') as metric_name, ts as metric_timestamp,
  round((100 + 10 * sin(extract(epoch from ts) / 7200 + i) + ((i * 7919 + extract(epoch from ts)::bigint / 300) % 17) / 4.0)::numeric, 3)::float8 as metric_value
from generate_series(1, ${metrics}) as i,
  generate_series((select ts from last) + interval '${STEP_MIN} minutes', {{param.now}}::timestamptz, interval '${STEP_MIN} minutes') as ts`;

interface StageFigure {
  stage: string;
  wallS: number;
  rows: number;
  floorS: number;
  peakRss: Record<string, number>;
}

/** Peak resident memory of each service process, sampled from /proc while a stage runs. */
class RssSampler {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly processes: ReadonlyMap<string, ServiceProcess>) {}
  start(): void {
    this.peaks.clear();
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }
  stop(): Record<string, number> {
    if (this.timer) {clearInterval(this.timer);}
    this.sample();
    return Object.fromEntries(this.peaks);
  }
  /** VmHWM: the kernel's own peak since the process started (covers what 50 ms sampling misses). */
  highWater(): Record<string, number> {
    return Object.fromEntries([...this.processes].map(([name, p]) => [name, readStatus(p.child.pid, 'VmHWM')]));
  }
  private sample(): void {
    for (const [name, p] of this.processes) {
      const rss = readStatus(p.child.pid, 'VmRSS');
      this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, rss));
    }
  }
}

function readStatus(pid: number | undefined, field: string): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

/**
 * `npm run bench -- cycle [--metrics 1000] [--points 500] [--cycles 3]`: one batch of `metrics`
 * metrics through the default worker set (one `anomstack start <kind>` process per worker kind,
 * as compose runs them). The first slot backfills `points` points per metric; its chained score
 * finds no models, so train follows (the newcomer path: the daily train's work), then score and
 * alert. Then `cycles` steady slots, each ingesting one point per metric, scoring and alerting.
 * Per stage: wall time (BullMQ's processedOn -> finishedOn), rows, the peak RSS of every service
 * process, and the ratio to an I/O floor run on the same Postgres in the same run: COPY of the
 * rows the stage wrote, plus a SELECT of the window it read.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      metrics: { type: 'string', default: '1000' },
      points: { type: 'string', default: '500' },
      cycles: { type: 'string', default: '3' },
    },
  });
  const metrics = Number(values.metrics);
  const points = Number(values.points);
  const cycles = Number(values.cycles);
  const start = Date.UTC(2026, 5, 1, 12, 0, 0);
  const slots = Array.from({ length: cycles + 1 }, (_, i) => new Date(start + i * STEP_MIN * 60_000).toISOString());
  console.log(`cycle bench: ${metrics} metrics x ${points} points of history, ${cycles} steady cycles, workers ${WORKERS.join(', ')} (one process each)`);

  const smtp = await startSmtpServer();
  const dir = createMetricsDir({
    [BATCH]: {
      ingest_sql: ingestSql(metrics, points),
      table_key: TABLE,
      alert_methods: 'email',
    },
  });
  const database = await createTestDatabase();
  const prefix = randomPrefix();
  const producer = queueConnection(REDIS_URL);
  const queues = openQueues(producer, prefix);
  const client = new pg.Client({ connectionString: database.url });
  try {
    const env = serviceEnv({
      databaseUrl: database.url,
      metricsDir: dir,
      prefix,
      extra: {
        ANOMSTACK_LOG_LEVEL: 'warn',
        ANOMSTACK_ALERT_EMAIL_FROM: 'bench@example.com',
        ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
        ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
        ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
      },
    });
    await run$(process.execPath, [BIN, 'migrate'], { cwd: ROOT, env: { ...process.env, ...env } });
    await client.connect();
    const processes = new Map<string, ServiceProcess>();
    const startedAt = Date.now();
    await Promise.all(
      WORKERS.map(async (kind) => {
        processes.set(kind, await startService([kind], { ...env, ANOMSTACK_LOG_LEVEL: 'info', ANOMSTACK_MIGRATE_ON_START: 'no' }));
      }),
    );
    console.log(`4 worker processes started in ${((Date.now() - startedAt) / 1000).toFixed(2)} s`);
    const rss = new RssSampler(processes);
    const figures: StageFigure[] = [];

    // Slot 0: backfill, then the chained score finds no model -> train -> score -> alert.
    rss.start();
    const first = slots[0] ?? '';
    await queues.ingest.add('ingest', { batch: BATCH, slot: first }, { jobId: slotJobId('ingest', BATCH, first) });
    const firstJobs = await settled(queues, first, ['ingest', 'score', 'train', 'score+after-train', 'alert']);
    const firstRss = rss.stop();
    const total = metrics * points;
    figures.push(
      stage('backfill ingest', firstJobs.ingest, await copyFloor(client, metrics * points), firstRss),
      stage('train (newcomer path)', firstJobs.train, await selectFloor(client, `metric_type = 'metric'`), firstRss),
      stage('score after train', firstJobs['score+after-train'], await selectFloor(client, windowOf(first, 25 + 5)), firstRss),
      stage('alert', firstJobs.alert, await selectFloor(client, windowOf(first, 250)), firstRss),
    );
    const steady: StageFigure[][] = [];
    for (const slot of slots.slice(1)) {
      rss.start();
      await queues.ingest.add('ingest', { batch: BATCH, slot }, { jobId: slotJobId('ingest', BATCH, slot) });
      const jobs = await settled(queues, slot, ['ingest', 'score', 'alert']);
      const cycleRss = rss.stop();
      const ingestToAlert = ((jobs.alert?.finishedOn ?? 0) - (jobs.ingest?.processedOn ?? 0)) / 1000;
      steady.push([
        stage('cycle ingest', jobs.ingest, await copyFloor(client, metrics), cycleRss),
        stage('cycle score', jobs.score, (await selectFloor(client, windowOf(slot, 25 + 5))) + (await copyFloor(client, metrics)), cycleRss),
        stage('cycle alert', jobs.alert, await selectFloor(client, windowOf(slot, 250)), cycleRss),
        { stage: 'cycle through the queues', wallS: ingestToAlert, rows: 0, floorS: 0, peakRss: cycleRss },
      ]);
    }
    const highWater = rss.highWater();

    const print = (f: StageFigure): void => {
      const ratio = f.floorS > 0 ? `${(f.wallS / f.floorS).toFixed(1).padStart(6)}x floor (${f.floorS.toFixed(3)} s)` : ''.padStart(24);
      const mem = WORKERS.map((w) => `${w} ${f.peakRss[w] ?? 0}`).join(', ');
      console.log(`${f.stage.padEnd(26)} ${f.wallS.toFixed(3).padStart(8)} s  ${String(f.rows).padStart(8)} rows  ${ratio}  RSS MiB ${mem}`);
    };
    console.log(`-- slot 0 (${total} rows of history)`);
    figures.forEach(print);
    console.log(`-- steady cycles: median of ${steady.length}`);
    for (let i = 0; i < (steady[0]?.length ?? 0); i++) {
      const column = steady.map((c) => c[i]).filter((f): f is StageFigure => f !== undefined);
      const med = (pick: (f: StageFigure) => number): number => median(column.map(pick));
      print({
        stage: column[0]?.stage ?? '',
        wallS: med((f) => f.wallS),
        rows: med((f) => f.rows),
        floorS: med((f) => f.floorS),
        peakRss: Object.fromEntries(WORKERS.map((w) => [w, Math.max(...column.map((f) => f.peakRss[w] ?? 0))])),
      });
    }
    console.log(`peak RSS over the run (VmHWM, MiB): ${WORKERS.map((w) => `${w} ${highWater[w]}`).join(', ')}; emails ${smtp.messages.length}`);
  } finally {
    await stopAll();
    await client.end().catch(() => {});
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await database.drop();
    await smtp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Settled = Record<string, Job>;

/** Waits until every named job of the slot has finished; a failed one stops the bench with its reason. */
async function settled(queues: QueueMap, slot: string, names: readonly string[]): Promise<Settled> {
  return waitFor(
    async () => {
      const found: Settled = {};
      for (const name of names) {
        const [queue, suffix] = name.split('+') as [JobName, string | undefined];
        const job = await queues[queue].getJob(slotJobId(queue, BATCH, slot, suffix ? `+${suffix}` : ''));
        if (job?.failedReason) {
          throw Object.assign(new Error(`${name} at ${slot} failed: ${job.failedReason}`), { fatal: true });
        }
        if (!job?.finishedOn) {
          return undefined;
        }
        found[name] = job;
      }
      return found;
    },
    1_800_000,
    `the jobs of slot ${slot}`,
  );
}

function stage(name: string, job: Job | undefined, floorS: number, peakRss: Record<string, number>): StageFigure {
  const wallS = ((job?.finishedOn ?? 0) - (job?.processedOn ?? 0)) / 1000;
  const rows = Number((job?.returnvalue as { rows?: number } | undefined)?.rows ?? 0);
  return { stage: name, wallS, rows, floorS, peakRss };
}

/** The rows of the last `slots` slots up to `slot`, metric and score types (the windows score and alert read). */
const windowOf = (slot: string, slotCount: number): string =>
  `metric_timestamp > timestamptz '${slot}' - interval '${slotCount * STEP_MIN} minutes' and metric_timestamp <= timestamptz '${slot}'`;

/** Seconds to SELECT the batch's rows matching `where` into the client (the read floor). */
async function selectFloor(client: pg.Client, where: string): Promise<number> {
  const started = process.hrtime.bigint();
  await client.query(`select metric_name, metric_timestamp, metric_type, metric_value from ${TABLE} where metric_batch = $1 and ${where}`, [BATCH]);
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
    chunk.push(`${new Date(base + i * 1000).toISOString()}\t${BATCH}\tm${String(i % 100000).padStart(5, '0')}\tmetric\t${(i % 97) / 3}\n`);
    if (chunk.length === 10_000) {
      stream.write(chunk.join(''));
      chunk.length = 0;
    }
  }
  stream.end(chunk.join(''));
  await done;
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
