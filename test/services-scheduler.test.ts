import fs from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBatches } from '../shared/config/load-batches.js';
import type { JobResult } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import { pausedSchedulesKey, queueConnection, reloadChannel, startedSchedulesKey, workerConnection } from '../shared/redis.js';
import { closeQueues, openQueues, slotOf, type QueueMap } from '../shared/worker.js';
import { followUps } from '../shared/jobs.js';
import { startScheduler, type SchedulerHandle } from '../services/scheduler/src/main.js';
import { existingSchedules, reconcileSchedules } from '../shared/schedules/store.js';
import { definedSchedules, desiredSchedules, NO_OVERRIDES, planReconcile } from '../shared/schedules/plan.js';
import { cleanRedisPrefix, createMetricsDir, DEFAULTS_DIR, randomPrefix, REDIS_URL, removeBatch, waitFor, writeBatch } from './support/processes.js';

const RUNNING = {
  ingest_default_schedule_status: 'RUNNING',
  train_default_schedule_status: 'RUNNING',
  score_default_schedule_status: 'RUNNING',
  alert_default_schedule_status: 'RUNNING',
};
const INGEST = { ingest_sql: 'select 1' };

const load = (dir: string) => loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: false, env: {} });

describe('desired schedules (pure)', () => {
  it('schedules RUNNING jobs, leaves out STOPPED and disabled ones, and one global summary', () => {
    // Setup
    const dir = createMetricsDir({
      a_batch: { ...INGEST, ...RUNNING, disable_alert: true },
      b_batch: { ...INGEST, ingest_default_schedule_status: 'RUNNING', ingest_cron_schedule: '*/7 * * * *' },
      c_batch: { ...INGEST, ...RUNNING, disable_batch: true },
    });
    // When
    const desired = desiredSchedules(load(dir).batches);
    // Then
    expect(desired.map((d) => `${d.id} ${d.pattern}`).sort()).toEqual([
      'ingest:a_batch */3 * * * *',
      'ingest:b_batch */7 * * * *',
      'score:a_batch */4 * * * *',
      'summary 0 9 * * *',
      'train:a_batch 0 0 * * *',
    ]);
    expect(desired.every((d) => d.queue === d.id.split(':')[0])).toBe(true);
  });

  it('plans upserts only for new or changed schedules, removals for the rest, and respects pauses', () => {
    const dir = createMetricsDir({ a_batch: { ...INGEST, ...RUNNING } });
    const defined = definedSchedules(load(dir).batches);
    const existing = [
      { id: 'ingest:a_batch', queue: 'ingest' as const, pattern: '*/3 * * * *', tz: 'UTC' },
      { id: 'score:a_batch', queue: 'score' as const, pattern: '*/9 * * * *', tz: 'UTC' },
      { id: 'ingest:gone', queue: 'ingest' as const, pattern: '*/3 * * * *', tz: 'UTC' },
    ];
    const plan = planReconcile(defined, existing, { paused: new Set(['train:a_batch']), started: new Set(['change:a_batch']) });
    expect(plan.upsert.map((s) => s.id).sort()).toEqual(['alert:a_batch', 'change:a_batch', 'score:a_batch', 'summary']);
    expect(plan.remove.map((s) => s.id)).toEqual(['ingest:gone']);
    expect(plan.paused).toEqual(['train:a_batch']);
    // With config errors a missing batch may be a broken file: keep its schedules.
    expect(planReconcile(defined, existing, NO_OVERRIDES, { keepUnknown: true }).remove).toEqual([]);
  });

  it('keeps the global summary schedule, and its pause, when a batch that sorts first is added', () => {
    // Setup: the summary is paused while b_batch is the only batch
    const dir = createMetricsDir({ b_batch: { ...INGEST } });
    const before = definedSchedules(load(dir).batches).find((s) => s.queue === 'summary');
    const paused = { paused: new Set([before!.id]), started: new Set<string>() };
    // When: a batch that sorts before it arrives
    writeBatch(dir, 'a_batch', { ...INGEST });
    const after = definedSchedules(load(dir).batches).find((s) => s.queue === 'summary');
    // Then: same id, so the pause still applies and nothing is re-added
    expect(after?.id).toBe(before?.id);
    const existing = [{ id: before!.id, queue: 'summary' as const, pattern: before!.pattern, tz: 'UTC' }];
    const plan = planReconcile(definedSchedules(load(dir).batches), existing, paused);
    expect(plan.paused).toEqual([before!.id]);
    expect(plan.upsert.some((s) => s.queue === 'summary')).toBe(false);
    expect(plan.remove.map((s) => s.id)).toEqual([before!.id]);
    // Unpaused, it is upserted once to carry the new first batch.
    const moved = planReconcile(definedSchedules(load(dir).batches), [{ ...existing[0]!, batch: 'b_batch' }], NO_OVERRIDES);
    expect(moved.upsert.filter((s) => s.queue === 'summary').map((s) => s.batch)).toEqual(['a_batch']);
  });

  it('chains score after ingest, alert after score, train then one more score when nothing was scored', () => {
    const [batch] = load(createMetricsDir({ a_batch: { ...INGEST } })).batches;
    if (!batch) {
      throw new Error('no batch');
    }
    const slot = '2026-01-01T00:00:00.000Z';
    const id = '2026-01-01T000000.000Z';
    const result = (job: JobResult['job'], status: JobResult['status'], rows: number, details?: JobResult['details']): JobResult => ({
      batch: 'a_batch',
      job,
      status,
      rows,
      ...(details ? { details } : {}),
    });
    const noModel = { skipped: { m1: 'no model yet' } };
    expect(followUps('ingest', { ...result('ingest', 'ok', 3), jobId: 'x', slot }, batch.disabled)).toEqual([{ queue: 'score', jobId: `score:a_batch:${id}` }]);
    expect(followUps('ingest', { ...result('ingest', 'ok', 0), jobId: 'x', slot }, batch.disabled)).toEqual([]);
    expect(followUps('score', { ...result('score', 'ok', 2), jobId: 'x', slot }, batch.disabled)).toEqual([{ queue: 'alert', jobId: `alert:a_batch:${id}` }]);
    // A short history that has doubled since its model: train follows the alert, with no score after it.
    expect(followUps('score', { ...result('score', 'ok', 2, { earlyRetrain: ['m1'] }), jobId: 'x', slot }, batch.disabled)).toEqual([
      { queue: 'alert', jobId: `alert:a_batch:${id}` },
      { queue: 'train', jobId: `train:a_batch:${id}+early-retrain` },
    ]);
    expect(followUps('train', { ...result('train', 'ok', 2), jobId: `train:a_batch:${id}+early-retrain`, slot }, batch.disabled)).toEqual([]);
    expect(followUps('score', { ...result('score', 'skipped', 0, noModel), jobId: `score:a_batch:${id}`, slot }, batch.disabled)).toEqual([
      { queue: 'train', jobId: `train:a_batch:${id}` },
    ]);
    // Nothing new to score, or a scheduled score: no training.
    expect(followUps('score', { ...result('score', 'skipped', 0), jobId: `score:a_batch:${id}`, slot }, batch.disabled)).toEqual([]);
    expect(followUps('score', { ...result('score', 'skipped', 0, noModel), jobId: 'repeat:score:a_batch:1767225600000', slot }, batch.disabled)).toEqual([]);
    expect(followUps('train', { ...result('train', 'ok', 2), jobId: `train:a_batch:${id}`, slot }, batch.disabled)).toEqual([
      { queue: 'score', jobId: `score:a_batch:${id}+after-train` },
    ]);
    // No loop: the score after a training never asks for another training.
    expect(followUps('score', { ...result('score', 'skipped', 0, noModel), jobId: `score:a_batch:${id}+after-train`, slot }, batch.disabled)).toEqual([]);
    // Scheduled trainings do not chain.
    expect(followUps('train', { ...result('train', 'ok', 2), jobId: 'repeat:train:a_batch:1', slot }, batch.disabled)).toEqual([]);
  });
});

describe('scheduler against Redis', () => {
  const prefix = randomPrefix();
  let producer: Redis;
  let queues: QueueMap;
  let dir: string;
  const subscribers: Redis[] = [];
  const handles: SchedulerHandle[] = [];
  const log = logger.child({ test: 'scheduler' });

  const start = async (): Promise<SchedulerHandle> => {
    const subscriber = workerConnection(REDIS_URL);
    subscribers.push(subscriber);
    const handle = await startScheduler({ load: () => load(dir), queues, redis: producer, subscriber, prefix, log, lockTtlMs: 600 });
    handles.push(handle);
    return handle;
  };
  const ids = async (): Promise<string[]> => (await existingSchedules(queues)).map((s) => s.id).sort();

  beforeAll(() => {
    producer = queueConnection(REDIS_URL);
    queues = openQueues(producer, prefix);
    dir = createMetricsDir({
      a_batch: { ...INGEST, ...RUNNING },
      b_batch: { ...INGEST, ingest_default_schedule_status: 'RUNNING' },
    });
  });

  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    subscribers.forEach((s) => s.disconnect());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reconciles: adds desired schedules, removes stopped ones and those of removed batches', async () => {
    // Setup: a leftover schedule of a batch that no longer exists
    await queues.ingest.upsertJobScheduler('ingest:old_batch', { pattern: '* * * * *', tz: 'UTC' }, { name: 'ingest', data: { batch: 'old_batch', slot: '' } });
    // When
    const outcome = await reconcileSchedules(queues, producer, prefix, load(dir));
    // Then
    expect(outcome.removed).toEqual(['ingest:old_batch']);
    expect(await ids()).toEqual(['alert:a_batch', 'ingest:a_batch', 'ingest:b_batch', 'score:a_batch', 'summary', 'train:a_batch']);
    const [ingest] = (await queues.ingest.getJobSchedulers()).filter((s) => s.key === 'ingest:a_batch');
    expect(ingest).toMatchObject({ pattern: '*/3 * * * *', tz: 'UTC', template: { data: { batch: 'a_batch' } } });
    // Its first run is delayed until the next slot, and the worker reads that slot from the run's id.
    const [firstRun] = (await queues.ingest.getDelayed()).filter((job) => job.data.batch === 'a_batch');
    expect(firstRun && slotOf(firstRun).getTime()).toBe(ingest?.next);
    expect(slotOf(firstRun!).getUTCMinutes() % 3).toBe(0);
    // Running it again changes nothing.
    expect(await reconcileSchedules(queues, producer, prefix, load(dir))).toMatchObject({ upserted: [], removed: [] });
  });

  it('keeps paused schedules paused and resumed ones running across reconciles', async () => {
    await producer.sadd(pausedSchedulesKey(prefix), 'ingest:b_batch');
    await producer.sadd(startedSchedulesKey(prefix), 'change:b_batch');
    const outcome = await reconcileSchedules(queues, producer, prefix, load(dir));
    expect(outcome.removed).toEqual(['ingest:b_batch']);
    expect(await ids()).toContain('change:b_batch');
    expect(await ids()).not.toContain('ingest:b_batch');
    await producer.del(pausedSchedulesKey(prefix), startedSchedulesKey(prefix));
  });

  it('runs one leader among two schedulers; the standby takes over when the leader stops', async () => {
    // When
    const first = await start();
    const second = await start();
    await waitFor(() => first.isLeader || second.isLeader, 5000, 'a leader');
    const [leader, standby] = first.isLeader ? [first, second] : [second, first];
    // Then: only the leader acts on a reload request
    const before = { leader: leader.reconciles, standby: standby.reconciles };
    expect(await standby.reload()).toBeNull();
    removeBatch(dir, 'b_batch');
    await producer.publish(reloadChannel(prefix), 'reload');
    await waitFor(async () => !(await ids()).includes('ingest:b_batch'), 5000, 'b_batch schedules removed');
    expect(leader.reconciles).toBeGreaterThan(before.leader);
    expect(standby.reconciles).toBe(before.standby);
    expect(first.isLeader && second.isLeader).toBe(false);

    // When the leader stops, the standby leads and reconciles with what the config says now
    writeBatch(dir, 'd_batch', { ...INGEST, ingest_default_schedule_status: 'RUNNING' });
    await leader.close();
    await waitFor(() => standby.isLeader, 5000, 'the standby to take over');
    await waitFor(async () => (await ids()).includes('ingest:d_batch'), 5000, 'd_batch scheduled by the new leader');
    expect(leader.isLeader).toBe(false);
  });

  it('a leader that dies without releasing the lock is replaced once the lock lapses', async () => {
    const current = handles.find((h) => h.isLeader);
    const third = await start();
    expect(third.isLeader).toBe(false);
    // Simulate a crash: the lock key is left behind, then expires (ttl 600 ms) without renewal.
    await current?.close();
    await producer.set(`${prefix}:scheduler:leader`, 'dead-leader', 'PX', 600);
    const started = Date.now();
    await waitFor(() => third.isLeader || handles.some((h) => h !== current && h.isLeader), 5000, 'a new leader');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
