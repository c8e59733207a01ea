/**
 * Failure notifications on a real queue (Redis), the real Postgres ledger, the loopback SMTP
 * server and the Slack stub: one message per batch, job and day when a job fails for the last
 * time, with the reason and the run's Bull Board link; nothing for attempts that will be retried.
 */
import fs from 'node:fs';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureNotifier } from '../services/start.js';
import { loadEnv, type AppEnv } from '../shared/config/env.js';
import { createDb, type Db } from '../shared/db/db.js';
import { closePool } from '../shared/db/pool.js';
import { InputError } from '../shared/errors.js';
import { JOB_NAMES, type JobName } from '../shared/jobs.js';
import type { JobCore } from '../shared/job.js';
import type { BatchJobData } from '../shared/queues.js';
import { queueConnection, workerConnection } from '../shared/redis.js';
import { closeQueues, createBatchCatalog, createJobProcessor, openQueues, startWorker, type QueueMap } from '../shared/worker.js';
import { cleanRedisPrefix, createMetricsDir, createTestDatabase, randomPrefix, REDIS_URL, serviceEnv, waitFor, type TestDatabase } from './support/processes.js';
import { startSlackStub, type SlackStub } from './support/slack-stub.js';
import { startSmtpServer, type TestSmtpServer } from './support/smtp-server.js';

const BOARD = 'https://ops.example.com/admin/queues';

describe('failure notifications', () => {
  const prefix = randomPrefix();
  let database: TestDatabase;
  let smtp: TestSmtpServer;
  let slack: SlackStub;
  let env: AppEnv;
  let db: Db;
  let producer: Redis;
  let consumer: Redis;
  let queues: QueueMap;
  let dir: string;
  const workers: Worker[] = [];
  let scoreAttempts = 0;

  const cores = Object.fromEntries(
    JOB_NAMES.map((job): [JobName, JobCore] => [job, async (batch) => ({ batch: batch.name, job, status: 'ok', rows: 0 })]),
  ) as Record<JobName, JobCore>;
  cores.train = async () => {
    throw new InputError('train_sql references a missing column <b>x</b>');
  };
  cores.score = async () => {
    scoreAttempts += 1;
    throw new Error(`connection terminated unexpectedly (attempt ${scoreAttempts})`);
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    smtp = await startSmtpServer();
    slack = await startSlackStub();
    dir = createMetricsDir({ fb: { ingest_sql: 'select 1' } });
    env = loadEnv(
      serviceEnv({
        databaseUrl: database.url,
        metricsDir: dir,
        prefix,
        extra: {
          ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
          ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
          ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
          ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
          ANOMSTACK_SLACK_BOT_TOKEN: 'xoxb-test',
          ANOMSTACK_SLACK_CHANNEL: '#ops',
          ANOMSTACK_SLACK_API_URL: slack.url,
          ANOMSTACK_BULLBOARD_URL: `${BOARD}/`,
        },
      }),
    );
    db = createDb(env.databaseUrl);
    producer = queueConnection(REDIS_URL);
    consumer = workerConnection(REDIS_URL);
    queues = openQueues(producer, prefix, { jobAttempts: 3, jobBackoffMs: 20 });
    const deps = { env, db, catalog: createBatchCatalog(env), cores, onFinalFailure: failureNotifier(env, db) };
    for (const queue of ['train', 'score'] as const) {
      workers.push(startWorker(queue, createJobProcessor(queue, deps), { connection: consumer, prefix, concurrency: 1, lockDuration: env.workerLockMs }));
    }
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    consumer.disconnect();
    await cleanRedisPrefix(prefix);
    await closePool();
    await database.drop();
    await smtp.close();
    await slack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const failed = (queue: JobName, id: string): Promise<Job<BatchJobData>> =>
    waitFor(async () => ((await queues[queue].getJobState(id)) === 'failed' ? queues[queue].getJob(id) : undefined), 30_000, `${id} failed`);

  const ledger = async (job: string) =>
    db.query<{ channel: string; status: string; metric_type: string }>({
      text: "select channel, status, metric_type from anomstack_alert_deliveries where metric_batch = 'fb' and metric_name = $1 order by channel",
      values: [job],
    });

  it('sends one email and one Slack message with the reason and the run link when an input error fails a job', async () => {
    const id = 'train:fb:2026-03-01T000000.000Z';
    await queues.train.add('train', { batch: 'fb', slot: '2026-03-01T00:00:00.000Z' }, { jobId: id });
    const job = await failed('train', id);
    expect(job.attemptsMade).toBe(1);

    const [mail] = await smtp.waitFor(1);
    expect(mail!.subject).toBe('[fb] train failed');
    expect(mail!.text).toContain('train_sql references a missing column <b>x</b>');
    expect(mail!.text).toContain('It was not retried');
    const link = `${BOARD}/queue/train/${encodeURIComponent(id)}`;
    expect(mail!.text).toContain(link);
    expect(mail!.html).toContain('missing column &lt;b&gt;x&lt;/b&gt;');
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toBe('[fb] train failed');
    expect(JSON.stringify(slack.messages[0]!.blocks)).toContain(link);
    expect(slack.files).toHaveLength(0);
    expect(await ledger('train')).toEqual([
      { channel: 'email', status: 'sent', metric_type: 'failure' },
      { channel: 'slack', status: 'sent', metric_type: 'failure' },
    ]);
  });

  it('sends nothing more for another failure of the same batch and job that day', async () => {
    const id = 'train:fb:2026-03-01T000100.000Z';
    await queues.train.add('train', { batch: 'fb', slot: '2026-03-01T00:01:00.000Z' }, { jobId: id });
    await failed('train', id);
    // The notification is awaited before the job is failed, so by now it has been decided.
    expect(smtp.messages).toHaveLength(1);
    expect(slack.messages).toHaveLength(1);
  });

  it('notifies only after the last attempt of a transient failure', async () => {
    const id = 'score:fb:2026-03-01T000000.000Z';
    await queues.score.add('score', { batch: 'fb', slot: '2026-03-01T00:00:00.000Z' }, { jobId: id });
    const job = await failed('score', id);
    expect(job.attemptsMade).toBe(3);
    await smtp.waitFor(2);
    expect(smtp.messages).toHaveLength(2);
    const mail = smtp.messages[1]!;
    expect(mail.subject).toBe('[fb] score failed');
    // Only the third attempt notified: the message carries its reason, not the first one's.
    expect(mail.text).toContain('attempt 3 of 3');
    expect(mail.text).toContain('connection terminated unexpectedly (attempt 3)');
    expect(slack.messages).toHaveLength(2);
  });

  it('is off with ANOMSTACK_FAILURE_NOTIFY=no', () => {
    expect(failureNotifier(loadEnv({ ANOMSTACK_FAILURE_NOTIFY: 'no' }), db)).toBeUndefined();
    expect(failureNotifier(loadEnv({}), db)).toBeTypeOf('function');
  });
});
