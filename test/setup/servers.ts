/**
 * Throwaway Redis and Postgres for `npm test` on a machine where none is running: started from
 * the installed binaries on a free port with a temporary data directory, and removed afterwards.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface Throwaway {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The first of `names` found on PATH or in `dirs`, else null. */
export function findBinary(names: readonly string[], dirs: readonly string[] = []): string | null {
  const searched = [...(process.env.PATH ?? '').split(path.delimiter), ...dirs];
  for (const name of names) {
    for (const dir of searched) {
      const candidate = path.join(dir, name);
      if (dir !== '' && fs.existsSync(candidate)) {
        return candidate;
      }
    }
  }
  return null;
}

/** Debian keeps the server binaries under /usr/lib/postgresql/<version>/bin, off PATH. */
function postgresDirs(): string[] {
  const root = '/usr/lib/postgresql';
  return fs.existsSync(root) ? fs.readdirSync(root).sort().reverse().map((v) => path.join(root, v, 'bin')) : [];
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`${what} did not come up in ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function acceptsSessions(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function startRedis(): Promise<Throwaway> {
  const binary = findBinary(['redis-server']);
  if (!binary) {
    throw new Error('redis-server is not installed (Debian/Ubuntu: apt-get install redis-server), or set ANOMSTACK_TEST_REDIS_URL to a running Redis');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-test-redis-'));
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
  });
  await waitUntil(() => canConnect('127.0.0.1', port), `redis-server on port ${port}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startPostgres(): Promise<Throwaway> {
  const initdb = findBinary(['initdb'], postgresDirs());
  const postgres = initdb ? path.join(path.dirname(fs.realpathSync(initdb)), 'postgres') : null;
  if (!initdb || !postgres || !fs.existsSync(postgres)) {
    throw new Error(
      'the Postgres server binaries (initdb, postgres) are not installed (Debian/Ubuntu: apt-get install postgresql), or set ANOMSTACK_TEST_DATABASE_SERVER to a running Postgres',
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-test-postgres-'));
  // Postgres refuses to run as root: as root, run it as the `postgres` user (setpriv execs it
  // directly, so the signal that stops it reaches the server itself).
  const root = process.getuid?.() === 0;
  if (root) {
    await run('chown', ['postgres', dir]);
  }
  const as = (binary: string, args: string[]): [string, string[]] =>
    root ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', binary, ...args]] : [binary, args];
  const data = path.join(dir, 'data');
  await run(...as(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']));
  const port = await freePort();
  const [command, args] = as(postgres, ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200']);
  const child = spawn(command, args, { stdio: 'ignore' });
  // The port opens before the server accepts sessions ("the database system is starting up").
  await waitUntil(() => acceptsSessions(`postgres://postgres@127.0.0.1:${port}/postgres`), `postgres on port ${port}`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}`,
    dir,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
