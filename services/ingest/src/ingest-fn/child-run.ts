import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

import { IngestRunnerSetupError } from './errors.js';
import { watchRunMemory } from './memory-watch.js';
import { RUN_MARKER, RunLog, interpretOutcome, killGroup, killMarked, newRunId, type RunOutcome } from './run-outcome.js';
import type { IngestFnRunOptions, IngestFnSpec } from './types.js';

/** Child processes of runs in progress, so that `closeIngestRunners()` can end them. */
export const liveChildren = new Set<number>();

export interface ChildRunRequest {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  stdin: string;
  /** Names the program in the error raised when it cannot be started. */
  describeMissing: (error: NodeJS.ErrnoException) => string;
}

/**
 * Runs one process per call (its own process group), with the result on fd 3, stdout and stderr
 * to `opts.log`, and the spec's time limit. The group, and every process carrying the run's
 * marker (those started in a new session too), is killed when the leader exits, so that strays
 * the function started do not outlive the run.
 */
export function runChild(
  request: ChildRunRequest,
  spec: IngestFnSpec,
  opts: IngestFnRunOptions,
): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const log = new RunLog(opts.log);
    const result: Buffer[] = [];
    let killedFor: RunOutcome['killedFor'];
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;

    if (opts.signal?.aborted) {
      reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
      return;
    }
    const runId = newRunId();
    const child = spawn(request.command, request.args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...request.env, [RUN_MARKER]: runId },
      detached: true, // own process group, so a timeout kills everything the function started
    });
    const pid = child.pid;
    if (pid !== undefined) {
      liveChildren.add(pid);
    }
    let usedMb: number | undefined;
    const kill = (reason: NonNullable<RunOutcome['killedFor']>): void => {
      if (exit === undefined && killedFor === undefined) {
        killedFor = reason;
        killGroup(pid);
        killMarked(runId);
      }
    };
    const timer = setTimeout(() => kill('timeout'), spec.timeoutMs);
    // ingest_memory_mb on the whole tree: shared mappings, Buffers and children included.
    const memory = watchRunMemory({
      runId,
      leader: () => pid,
      limitMb: spec.memoryMb,
      onExceeded: (mb) => {
        usedMb = mb;
        kill('memory');
      },
    });
    const onAbort = (): void => kill('abort');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.write('stdout', chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.write('stderr', chunk));
    const resultStream = child.stdio[3] as Readable | null | undefined;
    resultStream?.on('data', (chunk: Buffer) => result.push(chunk));
    resultStream?.on('error', () => undefined);
    child.stdin?.on('error', () => undefined); // EPIPE when the child dies before reading its job
    child.stdin?.end(request.stdin);

    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = error;
      if (pid === undefined) {
        // Never started (ENOENT, EACCES): no 'exit' will come.
        clearTimeout(timer);
        memory.stop();
        opts.signal?.removeEventListener('abort', onAbort);
        reject(new IngestRunnerSetupError(`batch "${spec.batch}": ${request.describeMissing(error)}`));
      }
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      memory.stop();
      // The run is over: its group, and whatever left the group (it would also hold the pipes open).
      killGroup(pid);
      killMarked(runId);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      memory.stop();
      if (pid === undefined) {
        return;
      }
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      liveChildren.delete(pid);
      if (spawnError !== undefined && exit === undefined) {
        reject(new IngestRunnerSetupError(`batch "${spec.batch}": ${request.describeMissing(spawnError)}`));
        return;
      }
      log.flush();
      try {
        resolve(
          interpretOutcome(
            spec,
            {
              resultText: result.length > 0 ? Buffer.concat(result).toString('utf8') : undefined,
              code: exit?.code ?? code,
              signal: exit?.signal ?? signal,
              killedFor,
              ...(usedMb === undefined ? {} : { usedMb }),
              log,
            },
            opts,
          ),
        );
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

/** `ANOMSTACK_INGEST_ENV_<NAME>=value` in the worker's environment is `<NAME>=value` in every ingest function's. */
export const INGEST_ENV_PREFIX = 'ANOMSTACK_INGEST_ENV_';

/** What a function gets of the worker's own environment: nothing that could be a secret. */
const ALLOWED = /^(PATH|HOME|LANG|LANGUAGE|TZ|TMPDIR|LC_[A-Z_]+|PYTHON[A-Z0-9_]*)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The function's environment, from the worker's (`env`, default `process.env`): the allow-list
 * (PATH, HOME, LANG, LANGUAGE, LC_*, TZ, TMPDIR, PYTHON*), the `ANOMSTACK_INGEST_ENV_` variables
 * under their own names (never one starting `ANOMSTACK_`), and single-threaded BLAS (see
 * harness.py: set_memory_limit). Never the admin token, store URLs or alert secrets.
 * `batchVariables: false` (the warm fork server) leaves out the prefixed ones too.
 */
export function childEnv(env: NodeJS.ProcessEnv | undefined, options: { batchVariables?: boolean } = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const source = Object.entries(env ?? process.env);
  for (const [key, value] of source) {
    if (value !== undefined && ALLOWED.test(key)) {
      out[key] = value;
    }
  }
  if (options.batchVariables !== false) {
    for (const [key, value] of source) {
      const name = key.slice(INGEST_ENV_PREFIX.length);
      if (value !== undefined && key.startsWith(INGEST_ENV_PREFIX) && NAME.test(name) && !name.toUpperCase().startsWith('ANOMSTACK_')) {
        out[name] = value;
      }
    }
  }
  for (const key of ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS']) {
    out[key] ??= '1';
  }
  return out;
}
