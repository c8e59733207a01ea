import type { Redis } from 'ioredis';
import { redactUrl } from './db/pool.js';
import type { Logger } from './logger.js';

/**
 * Whether Redis answers, seen from one connection (the producer's): one structured log line per
 * reconnect attempt while it is down, one when it is back, and the reason for `/healthz`. The
 * other connections of the process stay silent about the same outage (see isConnectionError).
 */
export interface RedisWatch {
  /** Why Redis is unreachable, or null while the connection is ready. */
  down(): string | null;
  /** Resolves once the connection is ready; rejects with an AbortError once `signal` aborts. */
  ready(signal: AbortSignal): Promise<void>;
  dispose(): void;
}

export function watchRedis(connection: Redis, log: Logger, url: string): RedisWatch {
  const address = redactUrl(url);
  let reason: string | null = connection.status === 'ready' ? null : 'not connected yet';
  let attempt = 0;
  const waiters = new Set<() => void>();
  const onError = (error: Error): void => {
    reason = error.message || String(error);
  };
  const onReconnecting = (retryInMs: number): void => {
    attempt += 1;
    // Names the server, the address (password masked) and the variable to set.
    log.warn(
      { redis: 'unreachable', server: 'redis', address, variable: 'ANOMSTACK_REDIS_URL', attempt, retryInMs, reason },
      'Redis unreachable: retrying',
    );
  };
  const onReady = (): void => {
    if (attempt > 0) {
      log.info({ redis: 'ready', attempts: attempt }, 'Redis reachable again');
    }
    attempt = 0;
    reason = null;
    for (const wake of [...waiters]) {
      wake();
    }
  };
  const onEnd = (): void => {
    reason = 'connection closed';
  };
  connection.on('error', onError);
  connection.on('reconnecting', onReconnecting);
  connection.on('ready', onReady);
  connection.on('end', onEnd);
  return {
    down: () => reason,
    ready(signal) {
      if (connection.status === 'ready') {
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          waiters.delete(done);
          signal.removeEventListener('abort', aborted);
          resolve();
        };
        const aborted = (): void => {
          waiters.delete(done);
          reject(abortError(signal));
        };
        if (signal.aborted) {
          aborted();
          return;
        }
        waiters.add(done);
        signal.addEventListener('abort', aborted, { once: true });
      });
    },
    dispose() {
      connection.off('error', onError);
      connection.off('reconnecting', onReconnecting);
      connection.off('ready', onReady);
      connection.off('end', onEnd);
      waiters.clear();
    },
  };
}

/** `promise`, or an AbortError as soon as `signal` aborts (the promise itself is left to settle). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => reject(abortError(signal));
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', aborted);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', aborted);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

const abortError = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/** Redis being unreachable, which the watch logs once per retry: other handlers stay quiet about it. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) {
    return false;
  }
  const code = (error as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_CODES.has(code)) || /^Connection is closed|Stream isn't writeable|connect ETIMEDOUT/.test(error.message);
}
