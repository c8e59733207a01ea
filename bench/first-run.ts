import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { SERVER_URL } from '../test/support/db.js';
import { startSmtpServer } from '../test/support/smtp-server.js';
import { cleanRedisPrefix, freePort, randomPrefix, REDIS_URL, ROOT, waitFor } from '../test/support/processes.js';

const exec$ = promisify(execFile);

/**
 * The first hour, timed: `git clone` of this repository's committed HEAD into an empty folder,
 * `npm ci`, then `npm start` with the example batches as a newcomer gets them (a database that
 * does not exist yet, email to a loopback SMTP server), and the seconds from `npm start` to the
 * first ingested row, the first score, the first alert row and the first email. The baseline,
 * in the same run and the same clone, is the same chain in one process:
 * `anomstack run example_simple ingest train score alert` on another fresh database.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { keep: { type: 'boolean', default: false }, timeout: { type: 'string', default: '300' } } });
  const timeoutMs = Number(values.timeout) * 1000;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-first-run-'));
  const clone = path.join(work, 'anomstack-ts');
  const branch = (await exec$('git', ['-C', ROOT, 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim();
  const commit = (await exec$('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const steps: [string, number][] = [];
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await fn();
    steps.push([name, (performance.now() - started) / 1000]);
    process.stderr.write(`first-run: ${name} ${steps.at(-1)![1].toFixed(1)} s\n`);
    return result;
  };
  process.stderr.write(`first-run: ${branch} at ${commit}, in ${work}\n`);
  await timed('git clone', () => exec$('git', ['clone', '--quiet', '--branch', branch, ROOT, clone]));
  // npm's cache on this machine is warm: the figure is a re-install, not a first download.
  await timed('npm ci', () => exec$('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, maxBuffer: 64 * 1024 * 1024 }));

  process.stderr.write('first-run: starting the SMTP catcher\n');
  const smtp = await startSmtpServer();
  const prefix = randomPrefix();
  const service = `anomstack_bench_first_${randomBytes(4).toString('hex')}`;
  const baseline = `${service}_baseline`;
  const env = (database: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ANOMSTACK_DATABASE_URL: `${SERVER_URL}/${database}`,
    ANOMSTACK_REDIS_URL: REDIS_URL,
    ANOMSTACK_QUEUE_PREFIX: prefix,
    ANOMSTACK_ALERT_EMAIL_FROM: 'anomstack@example.com',
    ANOMSTACK_ALERT_EMAIL_TO: 'you@example.com',
    ANOMSTACK_ALERT_EMAIL_SMTP_HOST: '127.0.0.1',
    ANOMSTACK_ALERT_EMAIL_SMTP_PORT: String(smtp.port),
    ANOMSTACK_LOG_FORMAT: 'json',
    ...(process.env.ANOMSTACK_PYTHON ? { ANOMSTACK_PYTHON: process.env.ANOMSTACK_PYTHON } : {}),
  });
  const client = new pg.Client({ connectionString: `${SERVER_URL}/postgres` });
  await client.connect();
  let child: ReturnType<typeof spawn> | null = null;
  try {
    const apiPort = await freePort();
    process.stderr.write(`first-run: npm start (API on ${apiPort})\n`);
    const startedAt = performance.now();
    child = spawn('npm', ['start'], {
      cwd: clone,
      env: { ...env(service), ANOMSTACK_ADMIN_TOKEN: randomBytes(24).toString('hex'), ANOMSTACK_API_PORT: String(apiPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group: npm, node and the ingest children stop together
    });
    let logs = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
    const since = (): number => (performance.now() - startedAt) / 1000;
    const milestones: [string, number][] = [];
    const reached = async (name: string, check: () => Promise<boolean> | boolean): Promise<void> => {
      await waitFor(async () => (await check()) || undefined, timeoutMs, `${name}\n${logs.slice(-3000)}`);
      milestones.push([name, since()]);
      process.stderr.write(`first-run: ${name} after ${since().toFixed(1)} s\n`);
    };
    const count = async (type: string): Promise<boolean> => {
      const db = new pg.Client({ connectionString: `${SERVER_URL}/${service}` });
      await db.connect();
      try {
        const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from metrics where metric_batch = 'example_simple' and metric_type = $1`, [type]);
        return (rows[0]?.n ?? 0) > 0;
      } finally {
        await db.end();
      }
    };
    await reached('services started', () => logs.includes('"msg":"services started"'));
    await reached('first ingest (rows stored)', () => count('metric'));
    await reached('first score', () => count('score'));
    await reached('first alert (row)', () => count('alert'));
    await reached('first alert email', () => smtp.messages.length > 0);
    const stopped = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    process.kill(-child.pid!, 'SIGTERM');
    await stopped;
    process.stderr.write('first-run: services stopped; baseline: anomstack migrate, then anomstack run\n');
    await exec$(process.execPath, ['bin/anomstack.mjs', 'migrate'], { cwd: clone, env: { ...env(baseline), ANOMSTACK_LOG_LEVEL: 'warn' } });

    const cliStarted = performance.now();
    const { stdout } = await exec$(process.execPath, ['bin/anomstack.mjs', 'run', 'example_simple', 'ingest', 'train', 'score', 'alert'], {
      cwd: clone,
      env: { ...env(baseline), ANOMSTACK_LOG_LEVEL: 'warn' },
    });
    const cliSeconds = (performance.now() - cliStarted) / 1000;
    const alerted = stdout.includes('"job":"alert"');
    process.stderr.write(`first-run: baseline ${cliSeconds.toFixed(1)} s; cleaning up\n`);

    const load = os.loadavg()[0]!.toFixed(2);
    process.stdout.write(`\nfirst run from a fresh clone (${branch} ${commit}; 1-min load ${load} at the end; ${os.cpus().length} cores)\n\n`);
    process.stdout.write('| step | seconds |\n|---|---|\n');
    for (const [name, seconds] of steps) {
      process.stdout.write(`| ${name} | ${seconds.toFixed(1)} |\n`);
    }
    process.stdout.write('\n| from `npm start` to | seconds |\n|---|---|\n');
    for (const [name, seconds] of milestones) {
      process.stdout.write(`| ${name} | ${seconds.toFixed(1)} |\n`);
    }
    const email = milestones.at(-1)![1];
    process.stdout.write(
      `\nbaseline (same run): \`anomstack run example_simple ingest train score alert\` in one process ${cliSeconds.toFixed(1)} s` +
        `${alerted ? '' : ' (no alert line!)'}; first email after npm start is ${(email / cliSeconds).toFixed(2)}x that\n`,
    );
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    }
    await smtp.close();
    for (const database of [service, baseline]) {
      await client.query(`drop database if exists ${database} with (force)`);
    }
    await client.end();
    await cleanRedisPrefix(prefix);
    if (!values.keep) {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
}
