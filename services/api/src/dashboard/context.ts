import type { Request, Response } from 'express';
import type { Redis } from 'ioredis';
import type { MetricBatch } from '../../../../shared/config/metric-batch.js';
import type { Db } from '../../../../shared/db/db.js';
import type { Logger } from '../../../../shared/logger.js';
import type { BatchCatalog, QueueMap } from '../../../../shared/worker.js';
import { principalOf } from './guard.js';
import { page, type PageOptions } from './layout.js';
import type { FailureLimiter } from './rate-limit.js';
import { csrfToken, type SessionKeys } from './session.js';

export interface DashboardDeps {
  /** The admin token; null when ANOMSTACK_ADMIN_AUTH=off. */
  token: string | null;
  db: Db;
  catalog: BatchCatalog;
  queues: QueueMap;
  redis: Redis;
  prefix: string;
  log: Logger;
  now?: () => Date;
}

/** What every page handler gets. */
export interface Ctx {
  deps: DashboardDeps;
  keys: SessionKeys;
  now: () => Date;
  /** Failed token attempts at /login per client address. */
  loginFailures: FailureLimiter;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request's CSRF token, for the forms a page renders. */
export const csrfOf = (ctx: Ctx, res: Response): string => csrfToken(ctx.keys, principalOf(res));

export function render(ctx: Ctx, res: Response, options: Omit<PageOptions, 'csrf'>, status = 200): void {
  res.status(status).type('html').send(page({ ...options, csrf: csrfOf(ctx, res) }));
}

const NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/** A batch by name from the route or the body; 404 if the catalog does not know it. */
export function findBatch(ctx: Ctx, name: unknown): MetricBatch {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new HttpError(400, `invalid batch name "${String(name)}"`);
  }
  const batch = ctx.deps.catalog.find(name);
  if (!batch) {
    throw new HttpError(404, `unknown batch "${name}"`);
  }
  return batch;
}

/** A metric name from the query or body: any text (it is user data), bounded. */
export function metricName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1000) {
    throw new HttpError(400, 'a metric name is required');
  }
  return value;
}

/** A query-string value, or null if absent or empty. */
export function queryText(req: Request, key: string, max = 500): string | null {
  const value = req.query[key];
  return typeof value === 'string' && value !== '' && value.length <= max ? value : null;
}

/** The batches the dashboard shows: loaded, enabled, without `disable_dashboard`. */
export const shownBatches = (ctx: Ctx): MetricBatch[] => ctx.deps.catalog.get().batches.filter((b) => !b.config.disable_dashboard);
