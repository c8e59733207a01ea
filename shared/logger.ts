import { pino, type Logger } from 'pino';

/**
 * The one JSON logger, on stderr: stdout belongs to command output (`anomstack run` prints one
 * JSON line per job). Processor logs carry { queue, jobId, batch } through child loggers. Its
 * level is set from the process settings (`ANOMSTACK_LOG_LEVEL`) once they are read.
 */
export const logger: Logger = pino(
  {
    level: 'info',
    base: { service: 'anomstack' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  },
  pino.destination(2),
);

export type { Logger };
