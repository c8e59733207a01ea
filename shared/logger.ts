import { pino, type Logger } from 'pino';

/**
 * The one JSON logger, on stderr: stdout belongs to command output (`anomstack run` prints one
 * JSON line per job). Processor logs carry { queue, jobId, batch } through child loggers.
 * ANOMSTACK_LOG_LEVEL sets the level (default info; silent under Vitest unless set).
 */
export const logger: Logger = pino(
  {
    level: process.env.ANOMSTACK_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    base: { service: 'anomstack' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  },
  pino.destination(2),
);

export type { Logger };
