import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { IngestInputError, IngestRunnerSetupError } from '../services/ingest/src/ingest-fn/errors.js';
import { InputError, isInputError } from '../shared/errors.js';
import { TemplateError } from '../shared/templates.js';
import { toQueueError } from '../shared/worker.js';

describe('error classes', () => {
  it('fails every input error at once, the runner set-up error too, and retries the rest', () => {
    for (const error of [new InputError('x'), new TemplateError('x'), new IngestInputError('x'), new IngestRunnerSetupError('no pandas')]) {
      expect(isInputError(error), error.name).toBe(true);
      expect(toQueueError(error, 'b', 'ingest'), error.name).toBeInstanceOf(UnrecoverableError);
    }
    const transient = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isInputError(transient)).toBe(false);
    expect(toQueueError(transient, 'b', 'ingest')).not.toBeInstanceOf(UnrecoverableError);
    // A name alone does not make an input error: classification is by class.
    expect(isInputError(Object.assign(new Error('x'), { name: 'InputError' }))).toBe(false);
  });
});
