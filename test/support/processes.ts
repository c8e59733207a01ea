/**
 * Test support for the services tests: a database and a queue prefix per test file, temporary
 * metrics directories, service child processes started as compose would start them, a private
 * redis-server that can be restarted, and a TCP proxy that can cut a server off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { dump as dumpYaml } from 'js-yaml';
import pg from 'pg';
import { slotJobId } from '../../shared/jobs.js';
import { queueConnection } from '../../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../../shared/worker.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULTS_DIR = path.join(ROOT, 'defaults');
export const BIN = path.join(ROOT, 'bin/anomstack.mjs');

export const REDIS_URL = process.env.ANOMSTACK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const randomName = (stem: string): string => `${stem}_${randomBytes(5).toString('hex')}`;

/** A random BullMQ prefix: the file's queues, locks and sets never meet another file's. */
export const randomPrefix = (): string => randomName('anomstack_test');

import { createTestDatabase, type TestDatabase } from './db.js';

export { createTestDatabase, type TestDatabase };

/** A temporary metrics directory with one `<batch>/<batch>.yaml` per entry. */
export function createMetricsDir(batches: Record<string, Record<string, unknown>>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-metrics-'));
  for (const [name, config] of Object.entries(batches)) {
    writeBatch(dir, name, config);
  }
  return dir;
}

export function writeBatch(dir: string, name: string, config: Record<string, unknown>): void {
  fs.mkdirSync(path.join(dir, name), { recursive: true });
  fs.writeFileSync(path.join(dir, name, `${name}.yaml`), dumpYaml({ metric_batch: name, ...config }));
}

export function removeBatch(dir: string, name: string): void {
  fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}

/** Environment of a service process or an in-process AppEnv for one test file. */
export function serviceEnv(options: {
  databaseUrl: string;
  metricsDir: string;
  prefix: string;
  redisUrl?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    ANOMSTACK_DATABASE_URL: options.databaseUrl,
    ANOMSTACK_REDIS_URL: options.redisUrl ?? REDIS_URL,
    ANOMSTACK_METRICS_DIR: options.metricsDir,
    ANOMSTACK_DEFAULTS_DIR: DEFAULTS_DIR,
    ANOMSTACK_QUEUE_PREFIX: options.prefix,
    ANOMSTACK_MODEL_PATH: `local://${path.join(options.metricsDir, '.models')}`,
    ANOMSTACK_PLOTS_DIR: path.join(options.metricsDir, '.plots'),
    ...options.extra,
  };
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything the process wrote to stderr (its JSON logs) so far. */
  logs(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** SIGTERM and wait for the drain. */
  stop(): Promise<number | string>;
  /** SIGKILL: no drain, no lock release. */
  kill9(): Promise<number | string>;
}

/**
 * `node bin/anomstack.mjs start <kinds>` as docker compose runs it, resolved once the process logs
 * "services started". Every started process is stopped by `stopAll()`. The 90 s bound: six
 * services starting at once on two busy cores each compile their sources through tsx.
 */
export async function startService(kinds: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const handle = spawnService(kinds, env);
  await waitForLog(handle, '"msg":"services started"', timeoutMs);
  return handle;
}

/** `anomstack start <kinds>` without waiting for anything; `stopAll()` stops it too. */
export function spawnService(kinds: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [BIN, 'start', ...kinds], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ANOMSTACK_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.resume();
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    logs: () => stderr,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/** Waits until the process has logged `text`; throws if it exits first or after `timeoutMs` (then kills it). */
export async function waitForLog(handle: ServiceProcess, text: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!handle.logs().includes(text)) {
    const done = await Promise.race([handle.exited.then(() => true), delay(25).then(() => false)]);
    if (done) {
      throw new Error(`the service exited before logging ${text}:\n${handle.logs().slice(-4000)}`);
    }
    if (Date.now() - started > timeoutMs) {
      handle.child.kill('SIGKILL');
      throw new Error(`the service did not log ${text} in ${timeoutMs} ms:\n${handle.logs().slice(-4000)}`);
    }
  }
}

const running = new Set<ChildProcess>();

/** Stops every service process this file started (SIGKILL for the ones that do not drain in time). */
export async function stopAll(timeoutMs = 15_000): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`.
 * Not vi.waitFor: the pipeline bench runs these helpers outside Vitest, where `vi` cannot run.
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await delay(50);
  }
}

// Only the polling interval of waitFor and startService: no test waits a fixed time.
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SHUTDOWN, append-only file kept) and starts it again on the same port and data. */
  restart(options?: { downtime?: () => Promise<void> }): Promise<void>;
  /** Starts a server created with `{ started: false }` (or stopped by `restart`'s downtime). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free port, persisting like compose's (appendonly yes), so a
 * restart loses nothing and other test files, which share the machine's Redis, are untouched.
 */
export async function startRedisServer(options: { started?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'];
  let child: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    // Not in `running`: stopAll() stops the services, and the test stops its Redis after
    // cleaning up through it.
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitFor(() => canConnect(port), 10_000, `redis-server on ${port}`);
  };
  const shutdown = async (): Promise<void> => {
    const current = child;
    if (!current || current.exitCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    current.kill('SIGTERM'); // redis-server: SHUTDOWN, flushing the append-only file
    await exited;
  };
  if (options.started !== false) {
    await launch();
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart(options = {}) {
      await shutdown();
      try {
        await options.downtime?.();
      } finally {
        await launch();
      }
    },
    async start() {
      if (child === null || (child as ChildProcess).exitCode !== null) {
        await launch();
      }
    },
    async stop() {
      await shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface TcpProxy {
  port: number;
  /** Resets every open connection and refuses new ones, as a server that went down. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a server. `cut()` makes the server look stopped to the clients behind
 * the proxy (open connections die, new ones are refused) while other test files keep using it.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const resetAll = (): void => {
    for (const socket of sockets) {
      socket.resetAndDestroy();
    }
    sockets.clear();
  };
  return {
    port,
    cut() {
      down = true;
      resetAll();
    },
    restore() {
      down = false;
    },
    async close() {
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Ingest SQL writing one row per run, keyed by the run's slot: rows lost or doubled show in a count. */
export const SLOT_KEYED_INGEST_SQL = `select 'slot_metric' as metric_name, {{param.now}}::timestamptz as metric_timestamp, 1 as metric_value`;

/** A batch that only ingests (nothing chained after it), for the fault tests. */
export const ingestOnlyBatch = (table: string): Record<string, unknown> => ({
  ingest_sql: SLOT_KEYED_INGEST_SQL,
  table_key: table,
  disable_score: true,
  disable_tholdalert: true,
});

/** `count` slots one minute apart from 2026-01-01, as ISO strings. */
export const minuteSlots = (count: number, from = Date.UTC(2026, 0, 1)): string[] =>
  Array.from({ length: count }, (_, i) => new Date(from + i * 60_000).toISOString());

/** Deletes every Redis key under a test's queue prefix (queues, schedulers, locks, sets). */
export async function cleanRedisPrefix(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * What every fault test stands on: its own database, a metrics dir holding one slot-keyed ingest
 * batch, a queue prefix, producer queues and a Postgres client to count rows; `close()` undoes it
 * all (after stopping the service processes).
 */
export interface FaultRig {
  prefix: string;
  database: TestDatabase;
  dir: string;
  producer: Redis;
  queues: QueueMap;
  client: pg.Client;
  /** Enqueues one ingest per slot, with the chained job id so a slot runs once. */
  enqueueSlots(slots: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultRig(options: { batch: string; table: string; redisUrl?: string }): Promise<FaultRig> {
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const prefix = randomPrefix();
  const database = await createTestDatabase();
  const dir = createMetricsDir({ [options.batch]: ingestOnlyBatch(options.table) });
  const producer = queueConnection(redisUrl);
  const queues = openQueues(producer, prefix);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    prefix,
    database,
    dir,
    producer,
    queues,
    client,
    async enqueueSlots(slots) {
      await queues.ingest.addBulk(
        slots.map((slot) => ({ name: 'ingest', data: { batch: options.batch, slot }, opts: { jobId: slotJobId('ingest', options.batch, slot) } })),
      );
    },
    async close() {
      await stopAll();
      await client.end();
      await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
      await closeQueues(queues);
      producer.disconnect();
      await cleanRedisPrefix(prefix, redisUrl);
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
