import { execFileSync } from 'node:child_process';
import { canConnect, startPostgres, startRedis, type Throwaway } from './servers.js';

/**
 * The suite needs a Redis and a Postgres. When nothing answers on the configured URLs
 * (ANOMSTACK_TEST_REDIS_URL, ANOMSTACK_TEST_DATABASE_SERVER; defaults 127.0.0.1:6379 and :5432),
 * it starts throwaway ones from the installed binaries for this run and removes them afterwards;
 * when the binaries are missing it says in one line what to install or which URL to set.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // The tests spawn the bin, which runs dist/: build it when a source changed since the last
  // build, so they test the current source compiled as users run it (about half a second).
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: new URL('../..', import.meta.url), stdio: 'inherit' });
  const started: Throwaway[] = [];
  const redis = new URL(process.env.ANOMSTACK_TEST_REDIS_URL ?? process.env.ANOMSTACK_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const postgres = new URL(process.env.ANOMSTACK_TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432');
  try {
    if (!(await canConnect(redis.hostname, Number(redis.port || 6379)))) {
      const server = await startRedis();
      started.push(server);
      process.env.ANOMSTACK_TEST_REDIS_URL = server.url;
      // Child processes the tests start (the CLI, services) default to it too.
      process.env.ANOMSTACK_REDIS_URL = server.url;
      process.stderr.write(`nothing answered at ${redis.host}: started a throwaway Redis at ${server.url}\n`);
    }
    if (!(await canConnect(postgres.hostname, Number(postgres.port || 5432)))) {
      const server = await startPostgres();
      started.push(server);
      process.env.ANOMSTACK_TEST_DATABASE_SERVER = server.url;
      process.stderr.write(`nothing answered at ${postgres.host}: started a throwaway Postgres at ${server.url}\n`);
    }
  } catch (error) {
    await Promise.all(started.map((s) => s.stop()));
    throw new Error(`${(error as Error).message} (see README, "Development")`, { cause: error });
  }
  return async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
}
