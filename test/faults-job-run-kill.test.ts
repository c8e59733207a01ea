import fs from 'node:fs';
import pg from 'pg';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotJobId } from '../shared/jobs.js';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, startService, stopAll, waitFor, type TestDatabase } from './support/processes.js';

const BATCH = 'runrow_batch';
const SLOT = '2026-01-01T00:00:00.000Z';

interface RunRow {
  id: string;
  status: string;
  error: string | null;
  finished_at: Date | null;
}

// Issue 14 item 11: a job-run row left `running` by a worker killed with SIGKILL stayed `running` for ever.
describe('a job-run row whose worker was killed with SIGKILL', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let dir: string;
  let producer: Redis;
  let queues: QueueMap;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Slow enough to be killed in the middle of it.
    dir = createMetricsDir({
      [BATCH]: {
        ingest_sql: `select 'm' as metric_name, {{param.now}}::timestamptz as metric_timestamp, 1 as metric_value from pg_sleep(8)`,
        ingest_timeout_s: 60,
        table_key: 'runrow_metrics',
        disable_score: true,
        disable_tholdalert: true,
      },
    });
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  afterAll(async () => {
    await stopAll();
    await client.end();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is marked failed (abandoned, with the reason) when the job runs again', async () => {
    const env = serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix, extra: { ANOMSTACK_WORKER_LOCK_MS: '2000' } });
    const rows = async () => (await client.query<RunRow>(`select id, status, error, finished_at from anomstack_job_runs where job = 'ingest' order by id`)).rows;
    const victim = await startService(['ingest'], env);
    await queues.ingest.add('ingest', { batch: BATCH, slot: SLOT }, { jobId: slotJobId('ingest', BATCH, SLOT) });
    await waitFor(async () => (await rows()).some((r) => r.status === 'running'), 30_000, 'the run to start');

    // When: the worker dies mid-run and another takes the stalled job over
    expect(await victim.kill9()).toBe('SIGKILL');
    const [orphan] = await rows();
    expect(orphan?.status).toBe('running');
    await startService(['ingest'], env);
    await waitFor(async () => (await rows()).length >= 2, 60_000, 'the job to run again');

    // Then: the first row is closed with the reason, the second is the live run
    const [first, second] = await rows();
    expect(first).toMatchObject({ id: orphan?.id, status: 'failed' });
    expect(first?.error).toMatch(/abandoned: the worker stopped before the run finished \(the job ran again as run \d+\)/);
    expect(first?.finished_at).not.toBeNull();
    expect(second?.status === 'running' || second?.status === 'ok').toBe(true);
    await waitFor(async () => (await rows())[1]?.status === 'ok', 60_000, 'the second run to finish');
    expect((await rows()).map((r) => r.status)).toEqual(['failed', 'ok']);
  });
});
