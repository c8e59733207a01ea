import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { AppEnv } from '../../../shared/config/env.js';
import type { Db } from '../../../shared/db/db.js';
import type { Logger } from '../../../shared/logger.js';
import type { BatchCatalog, QueueMap } from '../../../shared/worker.js';
import { createApp } from './app.js';
import { createApiMetrics } from './metrics.js';

export interface ApiHandle {
  port: number;
  close(): Promise<void>;
}

export class AdminAuthError extends Error {
  override name = 'AdminAuthError';
}

/** The admin token, or null when auth is explicitly off; refuses to run open by accident. */
export function adminToken(env: Pick<AppEnv, 'adminToken' | 'adminAuth'>): string | null {
  if (!env.adminAuth) {
    return null;
  }
  if (!env.adminToken) {
    throw new AdminAuthError(
      'the admin API needs ANOMSTACK_ADMIN_TOKEN (a long random string; clients send Authorization: Bearer <token>). ' +
        'To run it without auth on a trusted network, set ANOMSTACK_ADMIN_AUTH=off explicitly.',
    );
  }
  return env.adminToken;
}

export interface StartApiDeps {
  env: AppEnv;
  catalog: BatchCatalog;
  queues: QueueMap;
  redis: Redis;
  prefix: string;
  db: Db;
  log: Logger;
  /** Overrides ANOMSTACK_API_PORT (0: any free port, for tests). */
  port?: number;
}

export async function startApi(deps: StartApiDeps): Promise<ApiHandle> {
  const token = adminToken(deps.env);
  if (token === null) {
    deps.log.warn('ANOMSTACK_ADMIN_AUTH=off: the admin API and Bull Board accept every request');
  }
  const metrics = createApiMetrics(deps.queues, deps.env.redisUrl, deps.prefix);
  const app = createApp({
    token,
    catalog: deps.catalog,
    queues: deps.queues,
    redis: deps.redis,
    prefix: deps.prefix,
    pingDatabase: async () => {
      await deps.db.query({ text: 'select 1', values: [] });
    },
    metrics: metrics.registry,
    log: deps.log,
    db: deps.db,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(deps.port ?? deps.env.apiPort, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const port = (server.address() as AddressInfo).port;
  deps.log.info({ port }, 'admin API listening');
  return {
    port,
    async close() {
      // Stop accepting, let requests in flight finish, drop idle keep-alive sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await metrics.close();
    },
  };
}
