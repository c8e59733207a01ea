import net from 'node:net';

/** The suite needs the real Redis and Postgres; say so plainly when either is down. */
export default async function setup(): Promise<void> {
  const redis = new URL(process.env.ANOMSTACK_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const postgres = new URL(process.env.ANOMSTACK_TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432');
  const problems: string[] = [];
  for (const [name, url, port] of [
    ['Redis', redis, 6379],
    ['Postgres', postgres, 5432],
  ] as const) {
    const ok = await canConnect(url.hostname, Number(url.port || port));
    if (!ok) {
      problems.push(`${name} is not reachable at ${url.hostname}:${url.port || port}`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`${problems.join('; ')}. Start them (see README, "Running the tests") or run bash .ci/run.`);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
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
