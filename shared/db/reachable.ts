import pg from 'pg';
import type { Logger } from '../logger.js';
import { redactUrl } from './pool.js';

/** Postgres could not be reached, or the database is missing; the message says what to do. */
export class StoreUnreachableError extends Error {
  override name = 'StoreUnreachableError';
}

/** Errors that mean "nothing answers there" rather than "it answered no". */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', '57P03']);

export interface WaitOptions {
  /** Tries before giving up; Infinity for a service, which retries steadily. */
  attempts: number;
  delayMs: number;
  log: Logger;
  /** A missing database is fine (`migrate` creates it). */
  allowMissingDatabase?: boolean;
  /** A service waits for `migrate` to create the database; a CLI command stops at once. */
  retryMissingDatabase?: boolean;
}

const codeOf = (error: unknown): string =>
  (error as { code?: string }).code ?? ((error as { errors?: { code?: string }[] }).errors?.[0]?.code ?? '');

/** The database named in the URL, and what to say when it is missing. */
export function missingDatabaseMessage(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  return `Postgres at ${redactUrl(url)} has no database "${name}": run \`anomstack migrate\` (or set ANOMSTACK_DATABASE_URL to the right database)`;
}

/**
 * Connects once to the store: resolves when Postgres answers. While nothing answers, logs one
 * line per retry naming Postgres, the address (password masked) and the variable to set, then
 * after `attempts` throws StoreUnreachableError. A missing database says "run `anomstack
 * migrate`" (a CLI command gives up at once: it will not appear by waiting), unless allowed.
 */
export async function waitForPostgres(url: string, options: WaitOptions): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      const code = codeOf(error);
      if (code === '3D000' && options.allowMissingDatabase) {
        return;
      }
      if (code !== '3D000' && !UNREACHABLE.has(code)) {
        throw error;
      }
      const what =
        code === '3D000'
          ? missingDatabaseMessage(url)
          : `Postgres unreachable at ${redactUrl(url)} (${code}): start it, or set ANOMSTACK_DATABASE_URL to where it runs`;
      if (attempt >= options.attempts || (code === '3D000' && options.retryMissingDatabase !== true)) {
        throw new StoreUnreachableError(code === '3D000' ? what : `${what}; gave up after ${attempt} tries`);
      }
      const total = Number.isFinite(options.attempts) ? ` of ${options.attempts}` : '';
      options.log.warn({ server: 'postgres', address: redactUrl(url), variable: 'ANOMSTACK_DATABASE_URL', attempt }, `${what}; try ${attempt}${total} failed, retrying in ${options.delayMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    }
  }
}
