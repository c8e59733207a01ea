import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { StringDecoder } from 'node:string_decoder';

import { childEnv, liveChildren, runChild } from './child-run.js';
import { IngestRunnerSetupError } from './errors.js';
import { watchRunMemory, type MemoryWatch } from './memory-watch.js';
import { RUN_MARKER, RunLog, interpretOutcome, killGroup, killMarked, newRunId, type RunOutcome } from './run-outcome.js';
import type { IngestFnRunOptions, IngestFnSpec } from './types.js';

const HARNESS = fileURLToPath(new URL('./harness.py', import.meta.url));
/** After a kill, how long to wait for the fork server to confirm the child is gone. */
const EXIT_CONFIRM_MS = 5_000;

function missingInterpreter(python: string, error: NodeJS.ErrnoException): string {
  return `the Python interpreter "${python}" (ANOMSTACK_PYTHON) cannot be started: ${error.code ?? error.message}`;
}

/** Cold path: one interpreter per run. */
export function runPythonCold(spec: IngestFnSpec, opts: IngestFnRunOptions): Promise<Record<string, unknown>[]> {
  return runChild(
    {
      command: opts.python,
      args: [HARNESS, 'run'],
      env: childEnv(opts.env),
      stdin: JSON.stringify({ batch: spec.batch, source: spec.source, path: spec.path, params: spec.params, memoryMb: spec.memoryMb }),
      describeMissing: (error) => missingInterpreter(opts.python, error),
    },
    spec,
    opts,
  );
}

interface WarmRun {
  spec: IngestFnSpec;
  opts: IngestFnRunOptions;
  log: RunLog;
  decoders: { stdout: StringDecoder; stderr: StringDecoder };
  pid: number | undefined;
  /** In the environment of everything the run starts (see killMarked). */
  runId: string;
  resultText: string | undefined;
  killedFor: RunOutcome['killedFor'];
  /** ingest_memory_mb on the forked child and everything it starts. */
  memory: MemoryWatch | undefined;
  usedMb: number | undefined;
  /** The promise is settled once the result arrives; the entry stays until the exit is reported. */
  settled: boolean;
  timer: NodeJS.Timeout;
  confirmTimer: NodeJS.Timeout | undefined;
  onAbort: () => void;
  resolve: (rows: Record<string, unknown>[]) => void;
  reject: (error: Error) => void;
}

interface Frame {
  t: 'ready' | 'fatal' | 'unsupported' | 'started' | 'log' | 'result' | 'exit';
  id?: number;
  n?: number;
  pid?: number;
  s?: 'stdout' | 'stderr';
  code?: number | null;
  signal?: number | null;
  message?: string;
}

/** Thrown while starting the fork server when warm mode cannot work here; the caller falls back to cold. */
class WarmUnavailableError extends Error {}

/**
 * A long-lived interpreter that has imported pandas and forks one child per run (harness.py,
 * `serve`). It lives in its own process group and talks to Node over its stdin/stdout only;
 * children get fresh pipes, so nothing a function prints can reach the frames.
 */
class PythonForkServer {
  readonly ready: Promise<void>;
  private readonly proc: ChildProcess;
  private readonly runs = new Map<number, WarmRun>();
  private nextId = 1;
  private chunks: Buffer[] = [];
  private chunksLength = 0;
  private header: Frame | undefined;
  private readonly stderrTail: string[] = [];
  private dead = false;
  private readonly exited: Promise<void>;

  constructor(
    private readonly python: string,
    private readonly onDead: (server: PythonForkServer) => void,
  ) {
    let readyResolve: () => void = () => undefined;
    let readyReject: (error: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined);
    let isReady = false;

    this.proc = spawn(python, [HARNESS, 'serve'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its children read /proc/<server>/environ as easily as their own: no secrets, no batch's variables.
      env: childEnv(process.env, { batchVariables: false }),
      detached: true,
    });
    this.exited = new Promise((resolve) => this.proc.once('close', () => resolve()));
    this.proc.stdin?.on('error', () => undefined);
    this.proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line !== '') {
          this.stderrTail.push(line);
          if (this.stderrTail.length > 20) {
            this.stderrTail.shift();
          }
        }
      }
    });
    this.proc.stdout?.on('data', (chunk: Buffer) => {
      this.onData(chunk, (frame) => {
        if (frame.t === 'ready') {
          isReady = true;
          if (this.runs.size === 0) {
            this.setReferenced(false);
          }
          readyResolve();
        } else if (frame.t === 'fatal') {
          readyReject(
            new IngestRunnerSetupError(
              `the Python interpreter "${python}" (ANOMSTACK_PYTHON) cannot import pandas: ${frame.message ?? ''}`,
            ),
          );
        } else if (frame.t === 'unsupported') {
          readyReject(new WarmUnavailableError(frame.message ?? 'warm mode unsupported'));
        }
      });
    });
    this.proc.on('error', (error: NodeJS.ErrnoException) => {
      if (this.proc.pid === undefined) {
        // Never started (ENOENT, EACCES): no 'exit' follows; the next run tries a new server.
        this.dead = true;
        this.onDead(this);
      }
      readyReject(new IngestRunnerSetupError(missingInterpreter(python, error)));
    });
    this.proc.on('exit', (code, signal) => {
      this.dead = true;
      this.onDead(this);
      const why = `the warm Python runner (${python}) exited (code ${String(code)}, signal ${String(signal)})`;
      if (!isReady) {
        readyReject(new WarmUnavailableError(`${why}\n${this.stderrTail.join('\n')}`));
      }
      for (const run of this.runs.values()) {
        killGroup(run.pid);
        killMarked(run.runId);
        if (run.pid !== undefined) {
          liveChildren.delete(run.pid);
        }
        this.settle(run, () => {
          throw new Error(`batch "${run.spec.batch}": ${why}; the run was lost\n${this.stderrTail.join('\n')}`);
        });
      }
      this.runs.clear();
    });
  }

  get alive(): boolean {
    return !this.dead;
  }

  run(spec: IngestFnSpec, opts: IngestFnRunOptions): Promise<Record<string, unknown>[]> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted'));
        return;
      }
      const id = this.nextId++;
      const run: WarmRun = {
        spec,
        opts,
        log: new RunLog(opts.log),
        decoders: { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') },
        pid: undefined,
        runId: newRunId(),
        resultText: undefined,
        killedFor: undefined,
        memory: undefined,
        usedMb: undefined,
        settled: false,
        timer: setTimeout(() => this.kill(id, 'timeout'), spec.timeoutMs),
        confirmTimer: undefined,
        onAbort: () => this.kill(id, 'abort'),
        resolve,
        reject,
      };
      opts.signal?.addEventListener('abort', run.onAbort, { once: true });
      run.memory = watchRunMemory({
        runId: run.runId,
        leader: () => run.pid,
        limitMb: spec.memoryMb,
        onExceeded: (mb) => {
          run.usedMb = mb;
          this.kill(id, 'memory');
        },
      });
      this.runs.set(id, run);
      this.setReferenced(true);
      const env = { ...childEnv(opts.env), [RUN_MARKER]: run.runId };
      this.proc.stdin?.write(
        `${JSON.stringify({ op: 'run', id, batch: spec.batch, source: spec.source, path: spec.path, params: spec.params, memoryMb: spec.memoryMb, env })}\n`,
      );
    });
  }

  /** Ends the server; its children die with it (it kills them when its stdin closes). */
  async close(): Promise<void> {
    if (!this.dead) {
      this.proc.stdin?.end();
      const timer = setTimeout(() => killGroup(this.proc.pid), 2_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private kill(id: number, reason: NonNullable<RunOutcome['killedFor']>): void {
    const run = this.runs.get(id);
    if (run === undefined || run.settled || run.killedFor !== undefined) {
      return;
    }
    run.killedFor = reason;
    killGroup(run.pid); // when the pid is not known yet, the 'started' frame kills it
    killMarked(run.runId);
    // The server reports the exit once it has reaped the child; don't wait for ever if it can't.
    run.confirmTimer = setTimeout(() => this.onExited(id, run, { code: null, signal: 'SIGKILL' }), EXIT_CONFIRM_MS);
  }

  private onData(chunk: Buffer, onControl: (frame: Frame) => void): void {
    this.chunks.push(chunk);
    this.chunksLength += chunk.length;
    for (;;) {
      if (this.header === undefined) {
        const joined = this.join();
        const newline = joined.indexOf(10);
        if (newline < 0) {
          return;
        }
        this.header = JSON.parse(joined.subarray(0, newline).toString('utf8')) as Frame;
        this.setChunks(joined.subarray(newline + 1));
      }
      const size = this.header.n ?? 0;
      if (this.chunksLength < size) {
        return;
      }
      const joined = this.join();
      const payload = joined.subarray(0, size);
      this.setChunks(joined.subarray(size));
      const frame = this.header;
      this.header = undefined;
      this.onFrame(frame, payload, onControl);
    }
  }

  private join(): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.setChunks(joined);
    return joined;
  }

  private setChunks(buffer: Buffer): void {
    this.chunks = buffer.length > 0 ? [buffer] : [];
    this.chunksLength = buffer.length;
  }

  private onFrame(frame: Frame, payload: Buffer, onControl: (frame: Frame) => void): void {
    const run = frame.id === undefined ? undefined : this.runs.get(frame.id);
    switch (frame.t) {
      case 'ready':
      case 'fatal':
      case 'unsupported':
        onControl(frame);
        return;
      case 'started':
        if (run !== undefined) {
          run.pid = frame.pid;
          if (run.pid !== undefined) {
            liveChildren.add(run.pid);
          }
          if (run.killedFor !== undefined) {
            killGroup(run.pid);
          }
        }
        return;
      case 'log':
        if (run !== undefined && frame.s !== undefined) {
          run.log.write(frame.s, run.decoders[frame.s].write(payload));
        }
        return;
      case 'result':
        // The function's last word (its output was forwarded before it): settle now, the exit
        // report follows within milliseconds.
        if (run !== undefined) {
          run.resultText = payload.toString('utf8');
          this.finish(run, { code: 0, signal: null });
        }
        return;
      case 'exit':
        if (run !== undefined && frame.id !== undefined) {
          this.onExited(frame.id, run, { code: frame.code ?? null, signal: frame.signal ?? null });
        }
        return;
    }
  }

  /** The child is gone (reaped by the server, or presumed so after a kill): forget it. */
  private onExited(id: number, run: WarmRun, exit: { code: number | null; signal: number | string | null }): void {
    if (this.runs.get(id) !== run) {
      return;
    }
    this.runs.delete(id);
    if (run.pid !== undefined) {
      liveChildren.delete(run.pid);
    }
    // The server has killed the run's group; what left it (setsid, start_new_session) goes too.
    killMarked(run.runId);
    this.finish(run, exit);
    if (this.runs.size === 0) {
      this.setReferenced(false);
    }
  }

  private finish(run: WarmRun, exit: { code: number | null; signal: number | string | null }): void {
    if (run.settled) {
      return;
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      run.log.write(stream, run.decoders[stream].end());
    }
    run.log.flush();
    this.settle(run, () =>
      interpretOutcome(
        run.spec,
        {
          resultText: run.resultText,
          code: exit.code,
          signal: exit.signal === 9 ? 'SIGKILL' : (exit.signal as NodeJS.Signals | number | null),
          killedFor: run.killedFor,
          ...(run.usedMb === undefined ? {} : { usedMb: run.usedMb }),
          log: run.log,
        },
        run.opts,
      ),
    );
  }

  private settle(run: WarmRun, outcome: () => Record<string, unknown>[]): void {
    if (run.settled) {
      return;
    }
    run.settled = true;
    run.memory?.stop();
    clearTimeout(run.timer);
    clearTimeout(run.confirmTimer);
    run.opts.signal?.removeEventListener('abort', run.onAbort);
    try {
      run.resolve(outcome());
    } catch (error) {
      run.reject(error as Error);
    }
  }

  /** An idle server must not keep the Node process alive (e.g. `anomstack run` exits when done). */
  private setReferenced(referenced: boolean): void {
    const handles = [this.proc, this.proc.stdin, this.proc.stdout, this.proc.stderr] as unknown as (
      | { ref?: () => void; unref?: () => void }
      | null
    )[];
    for (const handle of handles) {
      if (referenced) {
        handle?.ref?.();
      } else {
        handle?.unref?.();
      }
    }
  }
}

const servers = new Map<string, PythonForkServer>();

function forkServer(python: string): PythonForkServer {
  let server = servers.get(python);
  if (server === undefined || !server.alive) {
    server = new PythonForkServer(python, (dead) => {
      if (servers.get(python) === dead) {
        servers.delete(python);
      }
    });
    servers.set(python, server);
  }
  return server;
}

/** Warm path: fork from a running interpreter; falls back to cold when warm mode cannot start here. */
export async function runPythonWarm(spec: IngestFnSpec, opts: IngestFnRunOptions): Promise<Record<string, unknown>[]> {
  const server = forkServer(opts.python);
  try {
    await server.ready;
  } catch (error) {
    if (error instanceof WarmUnavailableError) {
      return runPythonCold(spec, opts);
    }
    throw error instanceof IngestRunnerSetupError
      ? new IngestRunnerSetupError(`batch "${spec.batch}": ${error.message}`)
      : error;
  }
  return server.run(spec, opts);
}

/** Starts the warm interpreter ahead of the first run (optional; the first run does it otherwise). */
export async function warmUpPython(python: string): Promise<void> {
  await forkServer(python).ready;
}

export async function closePythonServers(): Promise<void> {
  const all = [...servers.values()];
  servers.clear();
  await Promise.all(all.map((server) => server.close()));
}
