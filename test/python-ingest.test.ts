import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findPython } from '../services/ingest/src/ingest-fn/find-python.js';
import { ingestBatch } from '../services/ingest/src/ingest.js';
import { closeJobResources } from '../services/resources.js';
import { loadEnv } from '../shared/config/env.js';
import { JOB_NAMES, type JobName } from '../shared/jobs.js';
import type { JobCore } from '../shared/job.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, createJobProcessor, openQueues, startWorker, type QueueMap } from '../shared/worker.js';
import { REPO } from './support/cli.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, type TestDatabase } from './support/processes.js';

const WITHOUT_PANDAS = path.join(REPO, 'test/fixtures/ingest/python_without_pandas.sh');

describe('finding a Python with pandas', () => {
  it('uses ANOMSTACK_PYTHON when it is set', async () => {
    expect(await findPython('/opt/my/python', [WITHOUT_PANDAS])).toBe('/opt/my/python');
  });

  it('takes the first candidate that imports pandas', async () => {
    expect(await findPython(null, [WITHOUT_PANDAS, '/usr/bin/python3'])).toBe('/usr/bin/python3');
  });

  it('when none does, names each one tried and says what to install', async () => {
    const search = findPython(null, [WITHOUT_PANDAS, '/nonexistent/python3']);
    await expect(search).rejects.toThrow(`tried ${WITHOUT_PANDAS} (ModuleNotFoundError: No module named 'pandas'), /nonexistent/python3 (not found)`);
    await expect(search).rejects.toThrow('apt-get install python3-pandas');
    await expect(search).rejects.toThrow('ANOMSTACK_PYTHON');
  });
});

describe("an ingest function's prints", () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let producer: Redis;
  let consumer: Redis;
  let queues: QueueMap;
  let worker: Worker;
  let dir: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = createMetricsDir({
      printing_batch: {
        table_key: 'metrics_printing',
        ingest_fn: [
          'def ingest():',
          '    import sys',
          '    import pandas as pd',
          '    print("fetched 1 row from the source")',
          '    print("a warning on stderr", file=sys.stderr)',
          '    return pd.DataFrame([{"metric_timestamp": "2026-01-01T00:00:00Z", "metric_name": "m", "metric_value": 1.0}])',
        ].join('\n'),
      },
    });
    const env = loadEnv({ ...serviceEnv({ databaseUrl: database.url, metricsDir: dir, prefix }), ANOMSTACK_PYTHON: '/usr/bin/python3' });
    producer = queueConnection(REDIS_URL);
    consumer = workerConnection(REDIS_URL);
    queues = openQueues(producer, prefix, { jobAttempts: 1, jobBackoffMs: 10 });
    const unused: JobCore = () => Promise.reject(new Error('not in this test'));
    const cores = { ...(Object.fromEntries(JOB_NAMES.map((job) => [job, unused])) as Record<JobName, JobCore>), ingest: ingestBatch };
    worker = startWorker('ingest', createJobProcessor('ingest', { env, db: database.db, catalog: createBatchCatalog(env), cores }), {
      connection: consumer,
      prefix,
      concurrency: 1,
      lockDuration: 30_000,
    });
  });

  afterAll(async () => {
    await worker.close();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    consumer.disconnect();
    await cleanRedisPrefix(prefix);
    await closeJobResources();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reach the BullMQ job log (Bull Board\'s Logs tab)', async () => {
    const job = await queues.ingest.add('ingest', { batch: 'printing_batch', slot: '2026-01-01T00:05:00Z' }, { jobId: 'ingest:printing_batch:1' });
    await vi.waitFor(async () => expect(await job.getState()).toBe('completed'), { timeout: 60_000, interval: 100 });
    const { logs } = await queues.ingest.getJobLogs('ingest:printing_batch:1');
    expect(logs).toContain('fetched 1 row from the source');
    expect(logs).toContain('[stderr] a warning on stderr');
  });
});
