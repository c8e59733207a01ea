/**
 * The one error hierarchy of a job run. An `InputError` says the input is at fault (bad config,
 * a template that cannot render, a failing user function or query, invalid rows, an interpreter
 * that is missing): retrying cannot help, so the queue adapter turns it into BullMQ's
 * UnrecoverableError. Every other error is transient (Postgres, Redis or SMTP unreachable) and
 * is retried with backoff. Subclasses say more; the check is `instanceof`, never a name.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/**
 * Postgres refused a value (SQLSTATE class 22, data exception: out of range, bad encoding, NUL,
 * division by zero...): the same data fails the same way on every retry.
 */
export const isPostgresDataError = (error: unknown): boolean =>
  error instanceof Error && /^22[0-9A-Z]{3}$/.test(String((error as { code?: unknown }).code ?? '')) && 'severity' in error;

/** An input error, or a Postgres data error (raised by pg, not by us: classified by its SQLSTATE). */
export const isInputError = (error: unknown): error is Error => error instanceof InputError || isPostgresDataError(error);
