/**
 * What the benches that drive the real services share: the services themselves (a database,
 * queues, a loopback SMTP server, worker processes), percentiles, per-process memory from /proc,
 * and waiting for a slot's chained jobs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { slotJobId, type JobName } from '../shared/jobs.js';
import { queueConnection } from '../shared/redis.js';
import { closeQueues, openQueues, type QueueMap } from '../shared/worker.js';
import {
  BIN,
  cleanRedisPrefix,
  createMetricsDir,
  createTestDatabase,
  randomPrefix,
  REDIS_URL,
  ROOT,
  serviceEnv,
  startService,
  stopAll,
  waitFor,
  type ServiceProcess,
  type TestDatabase,
} from '../test/support/processes.js';
import { startSmtpServer, type TestSmtpServer } from '../test/support/smtp-server.js';

const run$ = promisify(execFile);

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Linear-interpolated percentile (0-100) of `values`; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) {
    return 0;
  }
  const at = ((sorted.length - 1) * p) / 100;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return (sorted[low] ?? 0) + ((sorted[high] ?? 0) - (sorted[low] ?? 0)) * (at - low);
}

/** VmRSS or VmHWM of a process in MiB (0 once it has gone). */
export function readStatusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

/**
 * Resident memory of every service process, sampled every 50 ms for the whole run, so the peak
 * of each process within any stage's time span can be read afterwards.
 */
export class RssSampler {
  private readonly samples: { t: number; rss: Map<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly processes: ReadonlyMap<string, ServiceProcess>) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }
  /** Peak RSS (MiB) of each process over samples in [from, to] (ms since the epoch). */
  peak(from: number, to: number): Record<string, number> {
    const peaks: Record<string, number> = {};
    for (const { t, rss } of this.samples) {
      if (t >= from - 50 && t <= to + 50) {
        for (const [name, value] of rss) {
          peaks[name] = Math.max(peaks[name] ?? 0, value);
        }
      }
    }
    return peaks;
  }
  /** VmHWM: the kernel's own peak since each process started (covers what sampling misses). */
  highWater(): Record<string, number> {
    return Object.fromEntries([...this.processes].map(([name, p]) => [name, readStatusMiB(p.child.pid, 'VmHWM')]));
  }
  stop(): void {
    clearInterval(this.timer);
  }
  private sample(): void {
    this.samples.push({ t: Date.now(), rss: new Map([...this.processes].map(([name, p]) => [name, readStatusMiB(p.child.pid, 'VmRSS')])) });
  }
}

/** A service process that has exited (out of memory, say), with its last log lines; else null. */
export function exited(processes: ReadonlyMap<string, ServiceProcess>): string | null {
  for (const [name, p] of processes) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      return `the ${name} process exited (${p.child.exitCode ?? p.child.signalCode}); its last log lines:\n${p.logs().slice(-3000)}`;
    }
  }
  return null;
}

/** A job of a slot: `queue` or `queue+suffix` (the score after a first training). */
export type SlotJobName = JobName | `${JobName}+${string}`;

/**
 * Waits until every named job of the slot has finished, for every batch; a failed one stops the
 * bench with its reason. Returns the jobs by name, one per batch in `batches` order.
 */
export async function settled(
  queues: QueueMap,
  batches: readonly string[],
  slot: string,
  names: readonly SlotJobName[],
  watch: ReadonlyMap<string, ServiceProcess> = new Map(),
  timeoutMs = 3_600_000,
): Promise<Record<string, Job[]>> {
  // waitFor retries a check that throws, so a failure comes back as a value and is thrown here.
  const outcome = await waitFor(
    async () => {
      const dead = exited(watch);
      if (dead) {
        return { failed: `waiting for slot ${slot}: ${dead}` };
      }
      const found: Record<string, Job[]> = {};
      for (const name of names) {
        const [queue, suffix] = name.split('+') as [JobName, string | undefined];
        const jobs: Job[] = [];
        for (const batch of batches) {
          const job = await queues[queue].getJob(slotJobId(queue, batch, slot, suffix ? `+${suffix}` : ''));
          if (job?.failedReason) {
            return { failed: `${name} of ${batch} at ${slot} failed: ${job.failedReason}` };
          }
          if (!job?.finishedOn) {
            return undefined;
          }
          jobs.push(job);
        }
        found[name] = jobs;
      }
      return { found };
    },
    timeoutMs,
    `the ${names.join(', ')} jobs of slot ${slot}`,
  );
  if ('failed' in outcome) {
    throw new Error(outcome.failed);
  }
  return outcome.found;
}

/** The default worker set: one `anomstack start <kind>` process per kind, as compose runs them. */
export const WORKERS = ['ingest', 'train', 'score', 'alert'] as const;

/** A bench's own database, queue prefix, metrics folder, loopback SMTP server and workers. */
export interface ServicesHarness {
  dir: string;
  database: TestDatabase;
  prefix: string;
  producer: Redis;
  queues: QueueMap;
  smtp: TestSmtpServer;
  /** The worker processes started so far by name (`score`, `score#2`, ...). */
  processes: Map<string, ServiceProcess>;
  /** Starts one more process of every worker kind (copy 1, 2, ...); resolves with the seconds it took. */
  startWorkers(copy: number): Promise<number>;
  /** Stops the workers and removes everything the harness made. */
  close(): Promise<void>;
}

/** Migrated database, metrics folder with `batches`, email alerts to a loopback SMTP server. */
export async function openHarness(batches: Record<string, Record<string, unknown>>): Promise<ServicesHarness> {
  const smtp = await startSmtpServer();
  const dir = createMetricsDir(batches);
  const database = await createTestDatabase();
  const prefix = randomPrefix();
  const producer = queueConnection(REDIS_URL);
  const queues = openQueues(producer, prefix);
  const processes = new Map<string, ServiceProcess>();
  const env = serviceEnv({
    databaseUrl: database.url,
    metricsDir: dir,
    prefix,
    extra: {
      ANOMSTACK_ALERT_EMAIL_FROM: 'bench@example.com',
      ANOMSTACK_ALERT_EMAIL_TO: 'ops@example.com',
      ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
      ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
    },
  });
  const close = async (): Promise<void> => {
    await stopAll();
    await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true }).catch(() => {})));
    await closeQueues(queues);
    producer.disconnect();
    await cleanRedisPrefix(prefix);
    await database.drop();
    await smtp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run$(process.execPath, [BIN, 'migrate'], { cwd: ROOT, env: { ...process.env, ...env, ANOMSTACK_LOG_LEVEL: 'warn' } });
  } catch (error) {
    await close();
    throw error;
  }
  return {
    dir,
    database,
    prefix,
    producer,
    queues,
    smtp,
    processes,
    async startWorkers(copy) {
      const startedAt = Date.now();
      await Promise.all(
        WORKERS.map(async (kind) => {
          const name = copy === 1 ? kind : `${kind}#${copy}`;
          // Migrated once above; the workers start without it, as compose starts them.
          processes.set(name, await startService([kind], { ...env, ANOMSTACK_LOG_LEVEL: 'info', ANOMSTACK_MIGRATE_ON_START: 'no' }));
        }),
      );
      return (Date.now() - startedAt) / 1000;
    },
    close,
  };
}
