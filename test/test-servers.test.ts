import fs from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { canConnect, findBinary, startPostgres, startRedis } from './setup/servers.js';

// What `npm test` starts when nothing answers on the configured Redis and Postgres URLs.
describe('throwaway test servers', () => {
  it('a Redis on a free port with a temp dir, removed when stopped', async () => {
    const server = await startRedis();
    const client = new Redis(server.url, { lazyConnect: true });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      client.disconnect();
      await server.stop();
    }
    expect(fs.existsSync(server.dir)).toBe(false);
    const url = new URL(server.url);
    expect(await canConnect(url.hostname, Number(url.port))).toBe(false);
  });

  it('a Postgres on a free port with a temp data dir, removed when stopped', async () => {
    const server = await startPostgres();
    const client = new pg.Client({ connectionString: `${server.url}/postgres` });
    try {
      await client.connect();
      expect((await client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
      await server.stop();
    }
    expect(fs.existsSync(server.dir)).toBe(false);
  });

  it('finds binaries on PATH and says null for a missing one', () => {
    expect(findBinary(['redis-server'])).toMatch(/redis-server$/);
    expect(findBinary(['anomstack-no-such-server'])).toBeNull();
  });
});
