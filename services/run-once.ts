import type { AppEnv } from '../shared/config/env.js';
import type { LoadResult } from '../shared/config/load-batches.js';
import { type JobName } from '../shared/jobs.js';
import { createDb } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { waitForPostgres } from '../shared/db/reachable.js';
import type { JobContext } from '../shared/job.js';
import { withJobRun } from '../shared/job-runs.js';
import { logger } from '../shared/logger.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { startProgress, streamSink } from '../shared/progress.js';
import { JOB_CORES } from './cores.js';
import { closeJobResources } from './resources.js';

export interface RunOnceOptions {
  env: AppEnv;
  load: LoadResult;
  batchName: string;
  jobs: JobName[];
  /** The slots to run, in order: one (`--now`), or a backfill's (`--from`, `--every`). */
  slots: readonly Date[];
  dryRun: boolean;
}

/** `anomstack run`: the named jobs of one batch, in order, in this process, with no Redis. */
export async function runJobsOnce(options: RunOnceOptions): Promise<number> {
  const { env, load, batchName, jobs, slots, dryRun } = options;
  const batch = load.batches.find((b) => b.name === batchName);
  if (!batch) {
    const problems = load.problems.filter((p) => load.batches.every((b) => b.file !== p.file));
    const known = load.batches.map((b) => b.name).join(', ') || 'none';
    const reason = load.disabled.includes(batchName)
      ? `batch "${batchName}" has disable_batch: true`
      : problems.length > 0
        ? `batch "${batchName}" is not loaded; config errors:\n${problems.map((p) => `  ${p.file}: ${p.key}: ${p.reason}`).join('\n')}`
        : `unknown batch "${batchName}" (batches: ${known})`;
    process.stderr.write(`${reason}\n`);
    return 1;
  }
  // Postgres unreachable or the database missing: say so plainly before any job starts.
  await waitForPostgres(env.databaseUrl, { attempts: 3, delayMs: 1000, log: logger });
  const db = createDb(env.databaseUrl, { max: env.dbPoolMax, statementTimeoutMs: env.statementTimeoutS * 1000 });
  const log = logger.child({ batch: batch.name });
  // A backfill over many slots says where it is on stderr: start, every few seconds, end.
  const progress = slots.length > 1 ? startProgress(streamSink(process.stderr), { task: `backfill ${batch.name} ${jobs.join(' ')}`, unit: 'slots', total: slots.length }) : null;
  let rows = 0;
  try {
    for (const now of slots) {
      const context: JobContext = { env, db, batches: load.batches, now, dryRun, log };
      if ((await runSlot(context, batch, jobs, (written) => (rows += written))) !== 0) {
        return 1;
      }
      progress?.add(1);
    }
    progress?.end(`${rows} rows written, ${slots[0]?.toISOString()} to ${slots.at(-1)?.toISOString()}`);
    return 0;
  } finally {
    await closeJobResources();
    await closePool();
  }
}

/** One slot's jobs, in order; prints one JSON line per job. Returns 1 at the first failure. */
async function runSlot(context: JobContext, batch: MetricBatch, jobs: readonly JobName[], wrote: (rows: number) => void): Promise<number> {
  const { db, now, dryRun } = context;
  for (const job of jobs) {
    const started = Date.now();
    try {
      const run = () => JOB_CORES[job](batch, { ...context, log: context.log.child({ job }) });
      const result = dryRun ? await run() : await withJobRun(db, batch.name, job, { via: 'cli', slot: now.toISOString() }, run);
      const { wouldWrite, ...summary } = result;
      wrote(result.rows);
      process.stdout.write(
        `${JSON.stringify({ ...summary, ms: Date.now() - started, ...(dryRun ? { dryRun: true, wouldWrite } : {}) })}\n`,
      );
    } catch (error) {
      const reason = (error as Error).message;
      process.stdout.write(`${JSON.stringify({ batch: batch.name, job, status: 'failed', rows: 0, error: reason })}\n`);
      process.stderr.write(`${batch.name} ${job} failed: ${reason}\n`);
      return 1;
    }
  }
  return 0;
}
