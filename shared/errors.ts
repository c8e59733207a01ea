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

export const isInputError = (error: unknown): error is InputError => error instanceof InputError;
