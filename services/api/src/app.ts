import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { brokenBatches } from '../../../shared/config/load-batches.js';
import { type MetricBatch } from '../../../shared/config/metric-batch.js';
import { isJobName, JOB_NAMES, type JobName } from '../../../shared/jobs.js';
import type { Logger } from '../../../shared/logger.js';
import { reloadChannel } from '../../../shared/redis.js';
import type { BatchCatalog, QueueMap } from '../../../shared/worker.js';
import { existingSchedules, readOverrides } from '../../../shared/schedules/store.js';
import { definedSchedules, scheduleId, scheduleOf, shouldRun } from '../../../shared/schedules/plan.js';
import { unstorableTime } from '../../../shared/metric-row.js';
import { parseIsoTimestamp } from '../../../shared/timestamps.js';
import { definedSchedule, enqueueRun, manualSlot, setSchedulePaused } from './dashboard/actions.js';
import { requireToken } from './auth.js';
import { dashboardRouter } from './dashboard/index.js';
import type { Db } from '../../../shared/db/db.js';

export interface ApiDeps {
  /** The admin token; null only when ANOMSTACK_ADMIN_AUTH=off. */
  token: string | null;
  /** Bull Board may change queues (ANOMSTACK_BULLBOARD_WRITE=yes); otherwise every queue is read-only. */
  bullBoardWrite?: boolean;
  catalog: BatchCatalog;
  queues: QueueMap;
  /** Fail-fast producer connection: publish, the paused set, pings. */
  redis: Redis;
  /** Why Redis is unreachable, when known better than the failed ping says. */
  redisDown?: () => string | null;
  prefix: string;
  /** Answers whether Postgres responds. */
  pingDatabase: () => Promise<void>;
  metrics: Registry;
  log: Logger;
  now?: () => Date;
  /** The metrics store; with it the dashboard is served at / (services/api/src/dashboard/). */
  db?: Db;
}

/** Names in URLs: batch names as YAML gives them, without anything that could be a path. */
const NAME = /^[A-Za-z0-9_.-]{1,200}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const param = (req: Request, name: string): string => {
  const value = req.params[name];
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new HttpError(400, `invalid ${name} "${String(value)}": letters, digits, _ . - only`);
  }
  return value;
};

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The admin API (docs/contract.md, "Admin API"): express, JSON everywhere, bearer auth but /healthz. */
export function createApp(deps: ApiDeps): express.Express {
  const now = deps.now ?? (() => new Date());
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  const findBatch = (name: string): MetricBatch => {
    const batch = deps.catalog.find(name);
    if (!batch) {
      throw new HttpError(404, `unknown batch "${name}"`);
    }
    return batch;
  };
  const jobParam = (req: Request): JobName => {
    const job = param(req, 'job');
    if (!isJobName(job)) {
      throw new HttpError(404, `unknown job "${job}" (jobs: ${JOB_NAMES.join(', ')})`);
    }
    return job;
  };
  const queueParam = (req: Request): JobName => {
    const queue = param(req, 'queue');
    if (!isJobName(queue)) {
      throw new HttpError(404, `unknown queue "${queue}" (queues: ${JOB_NAMES.join(', ')})`);
    }
    return queue;
  };

  app.get('/healthz', helmet(), async (_req, res) => {
    const withTimeout = <T>(promise: Promise<T>): Promise<T> =>
      Promise.race([promise, new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    const [redis, postgres] = await Promise.allSettled([withTimeout(deps.redis.ping()), withTimeout(deps.pingDatabase())]);
    const ok = redis.status === 'fulfilled' && postgres.status === 'fulfilled';
    if (ok) {
      res.json({ ok });
      return;
    }
    const reasons: Record<string, string> = {};
    if (redis.status === 'rejected') {
      reasons.redis = deps.redisDown?.() ?? errorText(redis.reason);
    }
    if (postgres.status === 'rejected') {
      reasons.postgres = errorText(postgres.reason);
    }
    res.status(503).json({ ok, redis: redis.status === 'fulfilled', postgres: postgres.status === 'fulfilled', reasons });
  });

  // Bull Board: its page loads scripts and styles from itself, styles inline, fonts from Google.
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    // Read-only unless asked: its write routes (add, retry, clean, empty, pause, edit schedulers) answer 405.
    queues: JOB_NAMES.map((q) => new BullMQAdapter(deps.queues[q], { readOnlyMode: deps.bullBoardWrite !== true })),
    // @bull-board/express 9.10.1 pins its own @bull-board/api copy: same shape, separate private types.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
  });
  app.use(
    '/admin/queues',
    requireToken(deps.token, { basic: true }),
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
          fontSrc: ["'self'", 'data:', 'https://fonts.gstatic.com'],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          // helmet adds it by default: over plain HTTP from another address every asset would be
          // fetched as https and Bull Board would stay on "Loading".
          upgradeInsecureRequests: null,
        },
      },
    }),
    board.getRouter() as express.Router,
  );

  if (deps.db) {
    app.use(dashboardRouter({ ...deps, db: deps.db }));
  }

  const api = express.Router();
  api.use(helmet(), requireToken(deps.token, { basic: false }), express.json({ limit: '16kb' }));

  api.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  api.get('/api/batches', async (_req, res) => {
    const load = deps.catalog.get();
    const [existing, overrides] = await Promise.all([existingSchedules(deps.queues), readOverrides(deps.redis, deps.prefix)]);
    const defined = new Map(definedSchedules(load.batches).map((s) => [s.id, s]));
    const scheduled = new Map(existing.map((e) => [e.id, e]));
    res.json({
      batches: load.batches.map((batch) => ({
        name: batch.name,
        file: batch.file,
        table: batch.config.table_key,
        jobs: JOB_NAMES.map((job) => {
          const schedule = scheduleOf(defined, job, batch.name);
          const id = schedule?.id ?? scheduleId(job, batch.name);
          return {
            job,
            disabled: batch.disabled[job],
            schedule: schedule
              ? {
                  id,
                  cron: schedule.pattern,
                  status: schedule.running ? 'RUNNING' : 'STOPPED',
                  paused: overrides.paused.has(id),
                  resumed: overrides.started.has(id),
                  runs: shouldRun(schedule, overrides),
                  scheduled: scheduled.has(id),
                  next: nextRun(scheduled.get(id)?.next),
                }
              : null,
          };
        }),
      })),
      disabled: load.disabled,
      broken: brokenBatches(load),
      problems: load.problems,
      // Skipped, not broken: they need BigQuery, Snowflake or a cloud model store.
      unsupported: load.unsupported,
    });
  });

  api.post('/api/batches/:batch/jobs/:job', async (req, res) => {
    const job = jobParam(req);
    const batch = findBatch(param(req, 'batch'));
    const { slot, force } = runRequest(req.body, now());
    const run = await enqueueRun(deps, job, batch, slot, force);
    if (run.created) {
      deps.log.info({ queue: job, jobId: run.jobId, batch: batch.name }, 'job enqueued through the API');
      res.status(202).json({ jobId: run.jobId, queue: job });
      return;
    }
    // The slot's run exists: say what became of it rather than enqueue a duplicate.
    res.status(200).json({ ...run, hint: 'this slot was already enqueued; send {"force": true} to run it again' });
  });

  api.get('/api/jobs/:queue/:id', async (req, res) => {
    const queue = queueParam(req);
    const id = req.params.id;
    if (typeof id !== 'string' || id.length > 300) {
      throw new HttpError(400, 'invalid job id');
    }
    const job = await deps.queues[queue].getJob(id);
    if (!job) {
      throw new HttpError(404, `no job "${id}" in queue ${queue}`);
    }
    res.json({
      id: job.id,
      queue,
      name: job.name,
      data: job.data,
      state: await job.getState(),
      attempts: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      result: job.returnvalue ?? null,
      failedReason: job.failedReason ?? null,
      createdAt: new Date(job.timestamp).toISOString(),
      processedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    });
  });

  api.post('/api/batches/:batch/schedules/:job/:action', async (req, res) => {
    const action = actionParam(req);
    const job = jobParam(req);
    const batch = findBatch(param(req, 'batch'));
    const schedule = definedSchedule(deps, job, batch.name);
    if (!schedule) {
      throw new HttpError(404, `batch "${batch.name}" has no ${job} schedule${batch.disabled[job] ? ` (disable_${job} is set)` : ''}`);
    }
    // The API applies the change itself so it holds without a scheduler running; the sets make
    // every later reconcile (by whichever scheduler leads) respect it.
    await setSchedulePaused(deps, schedule, action === 'pause');
    const id = schedule.id;
    deps.log.info({ queue: job, batch: batch.name, schedule: id }, `schedule ${action}d through the API`);
    res.json({ schedule: id, paused: action === 'pause', cron: schedule.pattern });
  });

  api.post('/api/queues/:queue/:action', async (req, res) => {
    const action = actionParam(req);
    const queue = queueParam(req);
    await (action === 'pause' ? deps.queues[queue].pause() : deps.queues[queue].resume());
    deps.log.info({ queue }, `queue ${action}d through the API`);
    res.json({ queue, paused: await deps.queues[queue].isPaused() });
  });

  api.post('/api/reload', async (_req, res) => {
    deps.catalog.invalidate();
    const load = deps.catalog.get();
    const listeners = await deps.redis.publish(reloadChannel(deps.prefix), 'reload');
    res.status(202).json({
      batches: load.batches.map((b) => b.name),
      disabled: load.disabled,
      problems: load.problems,
      // The scheduler and the workers subscribe; 0 means no scheduler will act on it.
      listeners,
    });
  });

  app.use(api);
  app.use((req, res) => {
    res.status(404).json({ error: `not found: ${req.method} ${req.path}` });
  });
  const onError: ErrorRequestHandler = (error: unknown, _req, res: Response, _next) => {
    const status = statusOf(error);
    if (status >= 500) {
      deps.log.error({ err: error }, 'API request failed');
    }
    res.status(status).json({ error: status >= 500 && !(error instanceof HttpError) ? `internal error: ${(error as Error).message}` : (error as Error).message });
  };
  app.use(onError);
  return app;
}

function statusOf(error: unknown): number {
  if (error instanceof HttpError) {
    return error.status;
  }
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) {
    return status; // body-parser: malformed JSON 400, too large 413
  }
  // Redis down: the producer connection fails fast instead of hanging the request.
  if (/Stream isn't writeable|enableOfflineQueue|Connection is closed|ECONNREFUSED/.test((error as Error).message ?? '')) {
    return 503;
  }
  return 500;
}

function actionParam(req: Request): 'pause' | 'resume' {
  const action = req.params.action;
  if (action !== 'pause' && action !== 'resume') {
    throw new HttpError(404, `unknown action "${String(action)}" (pause or resume)`);
  }
  return action;
}

/** The optional body of a manual run: `{}`, `{"slot": "<ISO time>"}`, `{"force": true}` or both. */
function runRequest(body: unknown, now: Date): { slot: string; force: boolean } {
  if (body === undefined || body === null) {
    return { slot: manualSlot(now), force: false };
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'body must be a JSON object: {}, {"slot": "<ISO time>"} or {"force": true}');
  }
  const unknown = Object.keys(body).filter((k) => k !== 'slot' && k !== 'force');
  if (unknown.length > 0) {
    throw new HttpError(400, `unknown field ${unknown.join(', ')} (allowed: slot, force)`);
  }
  const { slot, force } = body as { slot?: unknown; force?: unknown };
  if (force !== undefined && typeof force !== 'boolean') {
    throw new HttpError(400, `force: ${JSON.stringify(force)} must be true or false`);
  }
  return { slot: slot === undefined ? manualSlot(now) : slotOfBody(slot), force: force ?? false };
}

function slotOfBody(slot: unknown): string {
  // The rows' own parser and bounds: Date would take "1" for 2001 and "+010000-01-01" as a year.
  const time = typeof slot === 'string' && slot.length <= 64 ? parseIsoTimestamp(slot.trim()) : undefined;
  if (time === undefined) {
    throw new HttpError(400, `slot: ${JSON.stringify(slot)} is not an ISO time (e.g. "2026-02-03T04:05:00Z")`);
  }
  const unstorable = unstorableTime(time);
  if (unstorable !== null) {
    throw new HttpError(400, `slot: ${JSON.stringify(slot)} ${unstorable}`);
  }
  return new Date(time).toISOString();
}

function nextRun(millis: number | null | undefined): string | null {
  return millis ? new Date(millis).toISOString() : null;
}
