import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { setProgressEvery } from './progress.js';

export type LogFormat = 'pretty' | 'json';

/** pino-pretty is loaded only when asked for: JSON-only services never pay for it. */
const makePretty = (): ((line: string) => string) =>
  (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: (options: PrettyOptions) => (line: string) => string }).prettyFactory({ colorize: process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });

let pretty: ((line: string) => string) | null = null;

/** pino writes JSON lines here; on a terminal they are made readable first. */
const destination = {
  write(line: string): void {
    process.stderr.write(pretty ? pretty(line) : line);
  },
};

/**
 * The one logger, on stderr: stdout belongs to command output (`anomstack run` prints one
 * JSON line per job). Processor logs carry { queue, jobId, batch } through child loggers. Its
 * level and format are set from the process settings (`ANOMSTACK_LOG_LEVEL`,
 * `ANOMSTACK_LOG_FORMAT`) once they are read: JSON lines until then.
 */
export const logger: Logger = pino(
  {
    level: 'info',
    base: { service: 'anomstack' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  },
  destination,
);

/** Applies the settings: human-readable lines (`pretty`) or JSON lines (`json`). */
export function configureLogger(settings: { logLevel: string; logFormat: LogFormat; progressEveryMs?: number }): void {
  logger.level = settings.logLevel;
  if (settings.progressEveryMs !== undefined) {
    setProgressEvery(settings.progressEveryMs);
  }
  pretty = settings.logFormat === 'pretty' ? makePretty() : null;
}

const said = new Set<string>();

/**
 * True the first time `key` is asked about in this process: for facts that hold for the whole
 * process ("email alerts are not configured"), said once rather than on every job.
 */
export function firstTime(key: string): boolean {
  if (said.has(key)) {
    return false;
  }
  said.add(key);
  return true;
}

export type { Logger };
