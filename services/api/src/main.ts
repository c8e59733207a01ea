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
  /** The address it listens on: ANOMSTACK_API_HOST, 127.0.0.1 unless set. */
  host: string;
  close(): Promise<void>;
}

import { adminToken } from './admin-token.js';

export { AdminAuthError, adminToken, MIN_TOKEN_LENGTH, weakTokenReason } from './admin-token.js';

export interface StartApiDeps {
  env: AppEnv;
  catalog: BatchCatalog;
  queues: QueueMap;
  redis: Redis;
  /** Why Redis is unreachable (shared/redis-health.ts), for `/healthz`. */
  redisDown?: () => string | null;
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
    bullBoardWrite: deps.env.bullBoardWrite,
    catalog: deps.catalog,
    queues: deps.queues,
    redis: deps.redis,
    ...(deps.redisDown ? { redisDown: deps.redisDown } : {}),
    prefix: deps.prefix,
    pingDatabase: async () => {
      await deps.db.query({ text: 'select 1', values: [] });
    },
    metrics: metrics.registry,
    log: deps.log,
    db: deps.db,
  });
  if (deps.env.bullBoardWrite) {
    deps.log.warn('ANOMSTACK_BULLBOARD_WRITE=yes: Bull Board can add, retry, clean and remove jobs and edit schedulers');
  }
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(deps.port ?? deps.env.apiPort, deps.env.apiHost, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const { port, address: host } = server.address() as AddressInfo;
  deps.log.info({ host, port }, 'admin API listening');
  return {
    port,
    host,
    async close() {
      // Stop accepting, let requests in flight finish, drop idle keep-alive sockets.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await metrics.close();
    },
  };
}
