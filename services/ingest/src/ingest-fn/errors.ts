import { InputError } from '../../../../shared/errors.js';

/**
 * The user's ingest function or what it returned is at fault (it raised, hung, used too much
 * memory, returned rows that do not validate). Retrying the same input cannot help, so the queue
 * adapter turns this into BullMQ's `UnrecoverableError`.
 */
export class IngestInputError extends InputError {
  override readonly name: string = 'IngestInputError';
}

/**
 * The runner itself cannot work on this machine: the interpreter named by `ANOMSTACK_PYTHON` is
 * missing or has no pandas. Not retried either (an input error), but the fix is in the
 * deployment, not the batch.
 */
export class IngestRunnerSetupError extends IngestInputError {
  override readonly name: string = 'IngestRunnerSetupError';
}
