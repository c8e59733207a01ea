/**
 * The user's ingest function or what it returned is at fault (it raised, hung, used too much
 * memory, returned rows that do not validate). Retrying the same input cannot help, so the queue
 * adapter should turn this into BullMQ's `UnrecoverableError`.
 */
export class IngestInputError extends Error {
  override readonly name: string = 'IngestInputError';
}

/**
 * The runner itself cannot work on this machine: the interpreter named by `ANOMSTACK_PYTHON` is
 * missing or has no pandas. Not retryable either, but the fix is in the deployment, not the batch.
 */
export class IngestRunnerSetupError extends IngestInputError {
  override readonly name: string = 'IngestRunnerSetupError';
}
