import type { Worker } from 'bullmq';
import { describeSettings, loadEnv, type AppEnv } from '../shared/config/env.js';
import type { Db } from '../shared/db/db.js';
import type { FinalFailure } from '../shared/job.js';
import { followUps, queuesOf, registryProblems, SERVICE_KINDS, WORKER_KINDS, type ServiceKind, type WorkerKind } from '../shared/jobs.js';
import type { ProcessorDeps, QueueMap } from '../shared/worker.js';
import type { AdminAuthError } from './api/src/admin-token.js';

// Postgres, BullMQ, express and the scheduler load after the arguments and settings are checked:
// `start --check` and a usage error need none of them (about 0.6 s of imports).

export const START_KINDS = [...SERVICE_KINDS, 'all'] as const;

export type ParsedKinds = { kinds: ServiceKind[]; check: boolean } | { error: string };

/** `anomstack start [--check] [kind ...]`: no kind or `all` means every service. */
export function parseStartArgs(args: readonly string[]): ParsedKinds {
  const check = args.includes('--check');
  const names = args.filter((a) => a !== '--check');
  const unknown = names.filter((n) => !(START_KINDS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    return { error: `unknown service ${unknown.map((u) => `"${u}"`).join(', ')} (services: ${START_KINDS.join(', ')})` };
  }
  const kinds = names.length === 0 || names.includes('all') ? [...SERVICE_KINDS] : [...new Set(names as ServiceKind[])];
  return { kinds, check };
}

/** Something started that must be stopped on shutdown, in reverse order. */
type Closer = { name: string; close: () => Promise<void> };

/**
 * Runs the named services in this process until SIGTERM/SIGINT, then drains: the API stops
 * accepting, the scheduler hands over its lock, workers finish their running jobs, then Redis and
 * Postgres connections close. Resolves with the exit status.
 */
export async function startServices(args: string[]): Promise<number> {
  const parsed = parseStartArgs(args);
  if ('error' in parsed) {
    process.stderr.write(`anomstack start: ${parsed.error}\n`);
    return 2;
  }
  const env = loadEnv();
  const registry = registryProblems();
  if (registry.length > 0) {
    process.stderr.write(`anomstack start: the job registry is inconsistent:\n  ${registry.join('\n  ')}\n`);
    return 1;
  }
  if (parsed.kinds.includes('api')) {
    const { adminToken } = await import('./api/src/admin-token.js');
    try {
      adminToken(env);
    } catch (error) {
      process.stderr.write(`anomstack start: ${(error as AdminAuthError).message}\n`);
      return 2;
    }
  }
  if (parsed.check) {
    process.stdout.write(`ok ${parsed.kinds.join(' ')}\n`);
    process.stdout.write(`${describeSettings().map((line) => `  ${line}`).join('\n')}\n`);
    return 0;
  }

  // pino loads past the check: `start --check` logs nothing.
  const { configureLogger, logger } = await import('../shared/logger.js');
  configureLogger(env);
  const log = logger.child({ services: parsed.kinds });
  const closers: Closer[] = [];
  const stop = waitForSignal();
  // A signal while starting (Redis still down, say) stops the start-up, not only a running service.
  const starting = new AbortController();
  void stop.promise.then(() => starting.abort());
  try {
    const db = await prepareDatabase(env);
    await startAll(parsed.kinds, env, db, closers, starting.signal);
    log.info('services started');
  } catch (error) {
    stop.dispose();
    if (starting.signal.aborted) {
      log.info('stopping before start-up completed');
      await closeAll(closers);
      log.info('stopped');
      setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
      return 0;
    }
    await closeAll(closers);
    if ((error as Error).name === 'AdminAuthError') {
      process.stderr.write(`anomstack start: ${(error as AdminAuthError).message}\n`);
      return 1;
    }
    throw error;
  }
  const signal = await stop.promise;
  log.info({ signal }, 'draining: finishing running jobs');
  // A second signal means "now": exit without waiting for the drain.
  const force = (): void => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await closeAll(closers);
  log.info('stopped');
  // Everything is closed; should a library still hold a handle, do not hang the container.
  setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref();
  return 0;
}

function waitForSignal(): { promise: Promise<NodeJS.Signals>; dispose: () => void } {
  let handler: (signal: NodeJS.Signals) => void = () => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    handler = (signal) => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  });
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** `anomstack migrate` at start, so `npm start` works on an empty Postgres (ANOMSTACK_MIGRATE_ON_START=no skips it). */
async function prepareDatabase(env: AppEnv): Promise<Db> {
  const { logger } = await import('../shared/logger.js');
  const [{ createDb }, { createDatabaseIfMissing, migrate }, { waitForPostgres }, { loadAppBatches }] = await Promise.all([
    import('../shared/db/db.js'),
    import('../shared/db/migrate.js'),
    import('../shared/db/reachable.js'),
    import('../shared/worker.js'),
  ]);
  // A service waits for its store, one log line per retry, for as long as it takes.
  await waitForPostgres(env.databaseUrl, {
    attempts: Number.POSITIVE_INFINITY,
    delayMs: 2000,
    log: logger,
    allowMissingDatabase: env.migrateOnStart,
    retryMissingDatabase: true,
  });
  if (env.migrateOnStart) {
    await createDatabaseIfMissing(env.databaseUrl);
  }
  const db = createDb(env.databaseUrl, { max: env.dbPoolMax, statementTimeoutMs: env.statementTimeoutS * 1000 });
  if (env.migrateOnStart) {
    const load = loadAppBatches(env);
    const { tables } = await migrate(db, load.batches);
    logger.info({ tables }, 'database migrated');
  }
  return db;
}

/**
 * Starts the services in an order that survives Redis being down: the API first (its `/healthz`
 * answers 503 with the reason), then, once Redis answers, the workers and the scheduler. Every
 * wait on Redis gives up when `signal` aborts.
 */
async function startAll(kinds: readonly ServiceKind[], env: AppEnv, db: Db, closers: Closer[], signal: AbortSignal): Promise<void> {
  const { logger } = await import('../shared/logger.js');
  // Loaded here, not at the top: `start --check` and argument errors need no job code.
  const [{ JOB_CORES, checkCores }, { closeJobResources }, { closePool }, { hasMetricRows }, redisModule, { untilAborted, watchRedis }, workerModule] =
    await Promise.all([
      import('./cores.js'),
      import('./resources.js'),
      import('../shared/db/pool.js'),
      import('../shared/db/metrics-store.js'),
      import('../shared/redis.js'),
      import('../shared/redis-health.js'),
      import('../shared/worker.js'),
    ]);
  const { closeConnection, queueConnection, reloadChannel, workerConnection } = redisModule;
  const { closeQueues, createBatchCatalog, createJobProcessor, loadAppBatches, openQueues, startWorker } = workerModule;
  const prefix = env.queuePrefix;
  const producer = queueConnection(env.redisUrl);
  closers.push({ name: 'postgres', close: async () => { await closeJobResources(); await closePool(); } });
  closers.push({ name: 'redis producer', close: () => closeConnection(producer) });
  const redis = watchRedis(producer, logger.child({ component: 'redis' }), env.redisUrl);
  closers.push({ name: 'redis watch', close: async () => redis.dispose() });
  const queues = openQueues(producer, prefix, env);
  closers.push({ name: 'queues', close: () => closeQueues(queues) });
  const subscriber = workerConnection(env.redisUrl, 'anomstack-subscriber');
  closers.push({ name: 'redis subscriber', close: () => closeConnection(subscriber) });
  const catalog = createBatchCatalog(env);

  if (kinds.includes('api')) {
    const { startApi } = await import('./api/src/main.js');
    const api = await startApi({ env, catalog, queues, redis: producer, redisDown: redis.down, prefix, db, log: logger.child({ component: 'api' }) });
    closers.push({ name: 'api', close: () => api.close() });
  }
  await redis.ready(signal);

  const workerKinds = kinds.filter((k): k is WorkerKind => (WORKER_KINDS as readonly string[]).includes(k));
  if (workerKinds.length > 0) {
    // Refuse to consume a queue whose job this process could not run.
    await checkCores(workerKinds.flatMap(queuesOf));
    // Workers re-read the metrics directory when the API asks for a reload.
    const channel = reloadChannel(prefix);
    subscriber.on('message', (received: string) => received === channel && catalog.invalidate());
    await untilAborted(subscriber.subscribe(channel), signal);
    const connection = workerConnection(env.redisUrl);
    closers.push({ name: 'redis workers', close: () => closeConnection(connection) });
    const deps: ProcessorDeps = { env, db, catalog, cores: JOB_CORES, onResult: chainer(env, queues), onFinalFailure: failureNotifier(env, db) };
    const workers: Worker[] = [];
    closers.push({ name: 'workers', close: async () => { await Promise.all(workers.map((w) => w.close())); } });
    for (const kind of workerKinds) {
      for (const queue of queuesOf(kind)) {
        workers.push(
          startWorker(queue, createJobProcessor(queue, deps), { connection, prefix, concurrency: env.workerConcurrency[queue], lockDuration: env.workerLockMs }),
        );
      }
    }
  }
  if (kinds.includes('scheduler')) {
    const { startScheduler } = await import('./scheduler/src/main.js');
    const scheduler = await untilAborted(
      startScheduler({
        load: () => loadAppBatches(env),
        queues,
        redis: producer,
        subscriber,
        prefix,
        lockTtlMs: env.schedulerLockMs,
        log: logger.child({ component: 'scheduler' }),
        hasData: (batch) => hasMetricRows(db, batch.config.table_key, batch.name),
      }),
      signal,
    );
    closers.push({ name: 'scheduler', close: () => scheduler.close() });
  }
}

/**
 * Failure notifications (services/alert/src/failures.ts), unless ANOMSTACK_FAILURE_NOTIFY=no.
 * The channel code loads on the first failure, so an ingest worker does not load it otherwise.
 */
export function failureNotifier(env: AppEnv, db: Db): ProcessorDeps['onFinalFailure'] {
  if (!env.failureNotify) {
    return undefined;
  }
  let notifier: Promise<(failure: FinalFailure) => Promise<unknown>> | undefined;
  return async (failure) => {
    notifier ??= Promise.all([import('./alert/src/failures.js'), import('../shared/logger.js')]).then(([{ createFailureNotifier }, { logger }]) =>
      createFailureNotifier({ env, db, log: logger.child({ component: 'failure-notify' }) }),
    );
    return (await notifier)(failure);
  };
}

/** Chained jobs (the `then` rules of shared/jobs.ts), unless ANOMSTACK_CHAIN_JOBS=no. */
function chainer(env: AppEnv, queues: QueueMap): ProcessorDeps['onResult'] {
  if (!env.chainJobs) {
    return undefined;
  }
  return async ({ queue, jobId, batch, slot, result }) => {
    for (const next of followUps(queue, { ...result, jobId, slot }, batch.disabled)) {
      await queues[next.queue].add(next.queue, { batch: batch.name, slot }, { jobId: next.jobId });
    }
  };
}

async function closeAll(closers: Closer[]): Promise<void> {
  const { logger } = await import('../shared/logger.js');
  for (const closer of closers.splice(0).reverse()) {
    try {
      await closer.close();
    } catch (error) {
      logger.warn({ err: error, part: closer.name }, 'error while stopping');
    }
  }
}
