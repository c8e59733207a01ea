/**
 * The input is at fault (bad config, a failing user function, invalid rows): retrying cannot
 * help. Queue adapters turn it into BullMQ's UnrecoverableError; anything else is retried.
 */
export class InputError extends Error {
  override name = 'InputError';
}

const INPUT_ERROR_NAMES = new Set(['InputError', 'TemplateError', 'IngestInputError']);

/**
 * Postgres refused a value (SQLSTATE class 22, data exception: out of range, bad encoding, NUL,
 * division by zero...): the same data fails the same way on every retry.
 */
export const isPostgresDataError = (error: unknown): boolean =>
  error instanceof Error && /^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown }).code ?? '')) && 'severity' in error;

/** Also true across module copies (worker threads, child processes report errors by name). */
export const isInputError = (error: unknown): error is Error =>
  error instanceof InputError || (error instanceof Error && INPUT_ERROR_NAMES.has(error.name)) || isPostgresDataError(error);
