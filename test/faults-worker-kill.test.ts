import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minuteSlots, serviceEnv, startFaultRig, startService, waitFor, type FaultRig } from './support/processes.js';

const JOBS = 1000;
const BATCH = 'kill_batch';

describe('a worker killed with SIGKILL in the middle of 1,000 jobs', () => {
  let rig: FaultRig;
  let env: Record<string, string>;

  beforeAll(async () => {
    rig = await startFaultRig({ batch: BATCH, table: 'kill_metrics' });
    env = serviceEnv({
      databaseUrl: rig.database.url,
      metricsDir: rig.dir,
      prefix: rig.prefix,
      // A dead worker's jobs come back after 2 s instead of 30.
      extra: { ANOMSTACK_WORKER_LOCK_MS: '2000', ANOMSTACK_WORKER_CONCURRENCY: '4' },
    });
  });

  afterAll(async () => {
    await rig.close();
  });

  it('completes every job once the stalled ones are taken over; no row lost or doubled', async () => {
    // Setup: two ingest workers, as `deploy.replicas: 2` would run them
    const [victim, survivor] = await Promise.all([startService(['ingest'], env), startService(['ingest'], env)]);
    const slots = minuteSlots(JOBS);
    const started = Date.now();
    await rig.enqueueSlots(slots);

    // When: SIGKILL one worker while both are busy
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) >= JOBS / 5, 60_000, 'a fifth of the jobs');
    const killedAt = Date.now();
    expect(await victim.kill9()).toBe('SIGKILL');
    const completedAtKill = await rig.queues.ingest.getCompletedCount();
    // compose restarts it (restart: unless-stopped)
    const replacement = await startService(['ingest'], env);

    // Then
    await waitFor(async () => (await rig.queues.ingest.getCompletedCount()) === JOBS, 90_000, `all ${JOBS} jobs completed`);
    const finishedAt = Date.now();
    const counts = await rig.queues.ingest.getJobCounts('failed', 'active', 'waiting', 'delayed');
    expect(counts).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    const { rows } = await rig.client.query<{ n: number; distinct_slots: number; min: Date; max: Date }>(
      'select count(*)::int as n, count(distinct metric_timestamp)::int as distinct_slots, min(metric_timestamp), max(metric_timestamp) from kill_metrics',
    );
    expect(rows[0]).toMatchObject({ n: JOBS, distinct_slots: JOBS });
    expect(rows[0]?.min.toISOString()).toBe(slots[0]);
    expect(rows[0]?.max.toISOString()).toBe(slots[JOBS - 1]);

    // Runs the killed worker left unfinished were run again by the others.
    const { rows: runs } = await rig.client.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from anomstack_job_runs where job = 'ingest' group by status order by status",
    );
    const byStatus = Object.fromEntries(runs.map((r) => [r.status, r.n]));
    expect(byStatus.ok).toBeGreaterThanOrEqual(JOBS);
    // and the rows those interrupted runs left `running` were closed when their jobs ran again.
    expect(byStatus.running ?? 0).toBe(0);
    const stalledLogs = (survivor.logs() + replacement.logs()).match(/job stalled/g)?.length ?? 0;
    console.info(
      JSON.stringify({
        jobs: JOBS,
        completedAtKill,
        interruptedRuns: byStatus.failed ?? 0,
        okRuns: byStatus.ok,
        stalledLogged: stalledLogs,
        msBeforeKill: killedAt - started,
        msKillToAllDone: finishedAt - killedAt,
      }),
    );
  });
});
