import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs, promisify } from 'node:util';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues } from '../shared/worker.js';
import { slotJobId } from '../shared/jobs.js';
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
} from '../test/support/processes.js';
import { median } from './support.js';

const run$ = promisify(execFile);

/** `metrics` metrics x 60 one-minute points ending at the slot; every 50th metric spikes at the slot. */
const ingestSql = (metrics: number): string => `
select 'm' || lpad(i::text, 5, '0') as metric_name, ts as metric_timestamp,
  case when ts = {{param.now}}::timestamptz and i % 50 = 0 then 500 else 10 + ((extract(epoch from ts)::bigint / 60) + i) % 7 end as metric_value
from generate_series(1, ${metrics}) as i,
  generate_series({{param.now}}::timestamptz - interval '59 minutes', {{param.now}}::timestamptz, interval '1 minute') as ts`;

/**
 * The whole pipeline (ingest, train, score, alert with email) for `--metrics` metrics spread over
 * `--batches` batches, twice: through the queues with `--workers` worker processes (each running
 * every worker kind, jobs chained by slot), and in-process with `anomstack run`, one batch after
 * the other. Prints metrics per second and, per batch, the time from ingest done to alert sent.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      metrics: { type: 'string', default: '1000' },
      batches: { type: 'string', default: '10' },
      workers: { type: 'string', default: '2' },
    },
  });
  const metrics = Number(values.metrics);
  const batchCount = Number(values.batches);
  const workers = Number(values.workers);
  const perBatch = Math.ceil(metrics / batchCount);
  const slot = '2026-06-01T12:00:00.000Z';
  const names = Array.from({ length: batchCount }, (_, i) => `bench_${String(i).padStart(3, '0')}`);
  const smtp = await startSmtpServer();
  const dir = createMetricsDir(
    Object.fromEntries(
      names.map((name) => [
        name,
        { ingest_sql: ingestSql(perBatch), table_key: 'bench_pipeline', alert_methods: 'email', alert_smooth_n: 0, train_min_n: 14 },
      ]),
    ),
  );
  const email = {
    ANOMSTACK_ALERT_EMAIL_FROM: 'bench@example.com',
    ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
    ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
    ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
  };
  console.log(`pipeline bench: ${perBatch * batchCount} metrics x 60 points in ${batchCount} batches; queues with ${workers} worker processes vs anomstack run`);

  // 1. Through the queues.
  const queued = await createTestDatabase();
  const prefix = randomPrefix();
  const producer = queueConnection(REDIS_URL);
  const queues = openQueues(producer, prefix);
  try {
    const env = serviceEnv({ databaseUrl: queued.url, metricsDir: dir, prefix, extra: { ...email, ANOMSTACK_LOG_LEVEL: 'warn' } });
    // Migrate once (the bench's tables), then start the workers without it, as compose does.
    await run$(process.execPath, [BIN, 'migrate'], { cwd: ROOT, env: { ...process.env, ...env } });
    // startService waits for the "services started" info line.
    await Promise.all(
      Array.from({ length: workers }, () =>
        startService(['ingest', 'train', 'score', 'alert'], { ...env, ANOMSTACK_LOG_LEVEL: 'info', ANOMSTACK_MIGRATE_ON_START: 'no' }),
      ),
    );
    const started = Date.now();
    await queues.ingest.addBulk(names.map((batch) => ({ name: 'ingest', data: { batch, slot }, opts: { jobId: slotJobId('ingest', batch, slot) } })));
    const alerts = await waitFor(
      async () => {
        const jobs = await Promise.all(names.map((batch) => queues.alert.getJob(slotJobId('alert', batch, slot))));
        return jobs.every((job) => job?.finishedOn) ? jobs : undefined;
      },
      600_000,
      'every alert job',
    );
    const wall = (Date.now() - started) / 1000;
    const ingests = await Promise.all(names.map((batch) => queues.ingest.getJob(slotJobId('ingest', batch, slot))));
    const lags = names.map((_, i) => ((alerts[i]?.finishedOn ?? 0) - (ingests[i]?.finishedOn ?? 0)) / 1000);
    const failed = await queues.alert.getFailedCount();
    console.log(
      `queues:     ${(metrics / wall).toFixed(1).padStart(7)} metrics/s  wall ${wall.toFixed(2)} s  ingest done -> alert sent: median ${median(lags).toFixed(2)} s, max ${Math.max(...lags).toFixed(2)} s  (emails ${smtp.messages.length}, failed alert jobs ${failed})`,
    );

    // 2. In-process, one `anomstack run <batch> ingest train score alert` per batch.
    const inProcess = await createTestDatabase();
    try {
      const runEnv = { ...process.env, ...serviceEnv({ databaseUrl: inProcess.url, metricsDir: dir, prefix, extra: { ...email, ANOMSTACK_LOG_LEVEL: 'warn' } }) };
      await run$(process.execPath, [BIN, 'migrate'], { cwd: ROOT, env: runEnv });
      const emailsBefore = smtp.messages.length;
      let jobSeconds = 0;
      const runLags: number[] = [];
      const runStarted = Date.now();
      for (const batch of names) {
        const { stdout } = await run$(process.execPath, [BIN, 'run', batch, 'ingest', 'train', 'score', 'alert', '--now', slot], { cwd: ROOT, env: runEnv });
        const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { job: string; ms: number });
        jobSeconds += lines.reduce((sum, line) => sum + line.ms, 0) / 1000;
        runLags.push(lines.filter((line) => line.job !== 'ingest').reduce((sum, line) => sum + line.ms, 0) / 1000);
      }
      const runWall = (Date.now() - runStarted) / 1000;
      console.log(
        `in-process: ${(metrics / jobSeconds).toFixed(1).padStart(7)} metrics/s  job time ${jobSeconds.toFixed(2)} s (wall with ${batchCount} process starts ${runWall.toFixed(2)} s)  ingest done -> alert sent: median ${median(runLags).toFixed(2)} s, max ${Math.max(...runLags).toFixed(2)} s  (emails ${smtp.messages.length - emailsBefore})`,
      );
      console.log(`ratio queues/in-process: ${(jobSeconds / wall).toFixed(2)}x throughput (job time), ${(runWall / wall).toFixed(2)}x (wall)`);
    } finally {
      await inProcess.drop();
    }
  } finally {
    await stopAll();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await queued.drop();
    await smtp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
