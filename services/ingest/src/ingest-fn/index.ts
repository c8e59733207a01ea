/**
 * Runs a batch's `ingest_fn` outside the worker process and returns its raw rows (validate them
 * with `validateIngestRows`). Python runs in a fork server by default (harness.py), TypeScript
 * and JavaScript in a Node child per run. Each run has a time limit and a memory limit, its own
 * process group (killed at the end of the run, with anything it started in a new session: see
 * killMarked), an allow-listed environment (childEnv), and its stdout/stderr going to `opts.log`.
 *
 * Not a security boundary: the function runs as the worker's user, with the worker's network.
 */
import { liveChildren } from './child-run.js';
import { IngestInputError } from './errors.js';
import { runJsIngestFn } from './js-runner.js';
import { closePythonServers, runPythonCold, runPythonWarm } from './python-runner.js';
import { killGroup } from './run-outcome.js';
import type { IngestFnRunOptions, IngestFnSpec } from './types.js';

export type { IngestFnLanguage, IngestFnRunOptions, IngestFnSpec } from './types.js';

export async function runIngestFn(spec: IngestFnSpec, opts: IngestFnRunOptions): Promise<Record<string, unknown>[]> {
  if (!(spec.timeoutMs > 0) || !(spec.memoryMb > 0)) {
    throw new IngestInputError(`batch "${spec.batch}": ingest time and memory limits must be positive`);
  }
  switch (spec.language) {
    case 'python':
      return (opts.pythonMode ?? 'warm') === 'warm' ? runPythonWarm(spec, opts) : runPythonCold(spec, opts);
    case 'typescript':
    case 'javascript':
      return runJsIngestFn(spec, opts);
  }
}

/** Stops the warm Python interpreters and kills runs still in progress (shutdown and tests). */
export async function closeIngestRunners(): Promise<void> {
  for (const pid of liveChildren) {
    killGroup(pid);
  }
  await closePythonServers();
}
