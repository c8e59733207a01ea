import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchJobData } from '../shared/queues.js';
import { closeQueues, openQueues } from '../shared/worker.js';
import { slotJobId } from '../shared/jobs.js';
import {
  minuteSlots,
  serviceEnv,
  startFaultRig,
  startService,
  startTcpProxy,
  waitFor,
  type FaultRig,
  type TcpProxy,
} from './support/processes.js';

const JOBS = 300;
const BATCH = 'pg_fault_batch';

// Postgres is cut off behind a TCP proxy (open connections reset, new ones refused), which is
// what a stopped server looks like to the workers, while the other test files keep using it.
describe('Postgres unreachable for a while', () => {
  let rig: FaultRig;
  let proxy: TcpProxy;

  beforeAll(async () => {
    rig = await startFaultRig({ batch: BATCH, table: 'pg_fault_metrics' });
    proxy = await startTcpProxy(Number(new URL(rig.database.url).port || 5432));
  });

  afterAll(async () => {
    proxy.restore();
    await rig.close();
    await proxy.close();
  });

  it('fails jobs while it is down, retries them with backoff, and loses nothing', async () => {
    const proxied = new URL(rig.database.url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const env = serviceEnv({
      databaseUrl: proxied.toString(),
      metricsDir: rig.dir,
      prefix: rig.prefix,
      // Backoff 100 ms doubling over 10 attempts: about 50 s of patience, far more than the outage.
      extra: { ANOMSTACK_WORKER_CONCURRENCY: '2', ANOMSTACK_JOB_BACKOFF_MS: '100', ANOMSTACK_JOB_ATTEMPTS: '10' },
    });
    const worker = await startService(['ingest'], env);
    // The producer sets the retry policy, as the API and the scheduler do.
    const retrying = openQueues(rig.producer, rig.prefix, { jobBackoffMs: 100, jobAttempts: 10 });
    const slots = minuteSlots(JOBS);
    await retrying.ingest.addBulk(slots.map((slot) => ({ name: 'ingest', data: { batch: BATCH, slot }, opts: { jobId: slotJobId('ingest', BATCH, slot) } })));
    await closeQueues(retrying);
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) >= JOBS / 4, 60_000, 'a quarter of the jobs');

    // When: Postgres goes away until jobs have failed, and failed again on their first retry
    const downAt = Date.now();
    proxy.cut();
    let upAt: number;
    try {
      await waitFor(
        async () => worker.child.exitCode !== null || (await rig.queues.ingest.getDelayed()).some((job) => job.attemptsMade >= 2),
        30_000,
        'a job to fail its retry too',
      );
    } finally {
      proxy.restore();
      upAt = Date.now();
    }
    if (worker.child.exitCode !== null) {
      const crash = worker.logs().split('\n').filter((line) => !line.startsWith('{')).join('\n');
      throw new Error(`the worker crashed during the outage instead of retrying:\n${crash.slice(-2000)}`);
    }

    // Then
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) === JOBS, 60_000, `all ${JOBS} jobs completed`);
    const doneAt = Date.now();
    expect(await rig.queues.ingest.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    const { rows } = await rig.client.query<{ n: number; distinct_slots: number }>(
      'select count(*)::int as n, count(distinct metric_timestamp)::int as distinct_slots from pg_fault_metrics',
    );
    expect(rows[0]).toEqual({ n: JOBS, distinct_slots: JOBS });
    const completed: Job<BatchJobData>[] = await rig.queues.ingest.getCompleted(0, JOBS);
    const retried = completed.filter((job) => job.attemptsMade > 1);
    expect(retried.length).toBeGreaterThanOrEqual(2);
    // The worker rode it out: no crash, no restart needed.
    expect(worker.child.exitCode).toBeNull();
    console.info(
      JSON.stringify({
        jobs: JOBS,
        downMs: upAt - downAt,
        jobsRetried: retried.length,
        extraAttempts: retried.reduce((sum, job) => sum + job.attemptsMade - 1, 0),
        maxAttempts: Math.max(...completed.map((job) => job.attemptsMade)),
        msUpToAllDone: doneAt - upAt,
      }),
    );
  });
});
