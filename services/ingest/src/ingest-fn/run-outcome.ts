import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';

import { IngestInputError, IngestRunnerSetupError } from './errors.js';
import { INSTALL_PANDAS } from './find-python.js';
import { readProcFile } from './proc-file.js';
import type { IngestFnRunOptions, IngestFnSpec } from './types.js';

/** Caps one run's log volume: a function printing in a loop must not flood the worker's log. */
const MAX_LOG_LINES = 10_000;
const MAX_LOG_BYTES = 4 * 1024 * 1024;
const MAX_LINE_CHARS = 8_192;
const STDERR_TAIL_LINES = 20;

/** Splits a run's stdout and stderr into lines for `opts.log` and keeps the last stderr lines. */
export class RunLog {
  private readonly partial = { stdout: '', stderr: '' };
  private lines = 0;
  private bytes = 0;
  private truncated = false;
  readonly stderrTail: string[] = [];
  /** Node prints this when `--max-old-space-size` is hit. */
  heapOutOfMemory = false;

  constructor(private readonly log: IngestFnRunOptions['log']) {}

  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    if (this.partial[stream].length > MAX_LINE_CHARS) {
      parts.push(this.partial[stream]);
      this.partial[stream] = '';
    }
    for (const line of parts) {
      this.emit(stream, line);
    }
  }

  /** Emits what is left of unterminated lines; call once the process is gone. */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') {
        this.emit(stream, this.partial[stream]);
        this.partial[stream] = '';
      }
    }
  }

  private emit(stream: 'stdout' | 'stderr', raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (stream === 'stderr') {
      if (line.includes('JavaScript heap out of memory')) {
        this.heapOutOfMemory = true;
      }
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) {
        this.stderrTail.shift();
      }
    }
    if (this.truncated) {
      return;
    }
    this.lines += 1;
    this.bytes += line.length;
    if (this.lines > MAX_LOG_LINES || this.bytes > MAX_LOG_BYTES) {
      this.truncated = true;
      this.log(stream, '[anomstack: further output of this ingest function is not logged]');
      return;
    }
    this.log(stream, line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
  }
}

/** How one run ended, as seen from Node. */
export interface RunOutcome {
  /** The JSON the harness wrote on the result channel, if any. */
  resultText: string | undefined;
  code: number | null;
  signal: NodeJS.Signals | number | null;
  /** Set when Node itself killed the run (`memory`: the process tree went over ingest_memory_mb). */
  killedFor: 'timeout' | 'abort' | 'memory' | undefined;
  /** With `killedFor: 'memory'`, what the tree used when it was killed. */
  usedMb?: number;
  log: RunLog;
}

interface HarnessResult {
  ok: boolean;
  rows?: unknown;
  /** A DataFrame arrives column by column (smaller, faster to parse); rows are built here. */
  columns?: Record<string, unknown[]>;
  length?: number;
  kind?: 'exception' | 'memory' | 'bad_result' | 'setup';
  message?: string;
  traceback?: string;
}

export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Turns a finished run into rows, or the error that says what went wrong. */
export function interpretOutcome(
  spec: IngestFnSpec,
  outcome: RunOutcome,
  opts: Pick<IngestFnRunOptions, 'python' | 'signal'>,
): Record<string, unknown>[] {
  const prefix = `batch "${spec.batch}": ingest function`;
  if (outcome.killedFor === 'timeout') {
    throw new IngestInputError(`${prefix} timed out after ${formatSeconds(spec.timeoutMs)}`);
  }
  if (outcome.killedFor === 'abort') {
    const reason: unknown = opts.signal?.reason;
    throw reason instanceof Error ? reason : new Error(`${prefix} run was aborted`);
  }
  if (outcome.killedFor === 'memory') {
    const used = outcome.usedMb === undefined ? '' : ` (its processes used ${Math.round(outcome.usedMb)} MiB)`;
    throw new IngestInputError(`${prefix} exceeded memory limit ${spec.memoryMb} MiB${used}: killed`);
  }
  if (outcome.log.heapOutOfMemory) {
    throw new IngestInputError(`${prefix} exceeded memory limit ${spec.memoryMb} MiB`);
  }
  if (outcome.resultText === undefined || outcome.resultText === '') {
    const how =
      outcome.signal !== null
        ? `was killed by signal ${String(outcome.signal)}${isKill(outcome.signal) ? ' (out of memory?)' : ''}`
        : `exited with code ${String(outcome.code)}`;
    throw new IngestInputError(`${prefix} ${how} without returning a result${tail(outcome.log)}`);
  }
  let parsed: HarnessResult;
  try {
    parsed = JSON.parse(outcome.resultText) as HarnessResult;
  } catch {
    throw new IngestInputError(`${prefix} returned a result that is not valid JSON${tail(outcome.log)}`);
  }
  if (parsed.ok) {
    if (parsed.columns !== undefined) {
      return rowsFromColumns(parsed.columns, parsed.length ?? 0);
    }
    if (!Array.isArray(parsed.rows)) {
      throw new IngestInputError(`${prefix} did not return a list of rows`);
    }
    return parsed.rows as Record<string, unknown>[];
  }
  const message = parsed.message ?? 'failed';
  switch (parsed.kind) {
    case 'setup':
      throw new IngestRunnerSetupError(
        `batch "${spec.batch}": the Python interpreter "${opts.python}" (ANOMSTACK_PYTHON) cannot import pandas: ${message}; ${INSTALL_PANDAS}`,
      );
    case 'memory':
      throw new IngestInputError(`${prefix} exceeded memory limit ${spec.memoryMb} MiB (${message || 'MemoryError'})`);
    case 'bad_result':
      throw new IngestInputError(`${prefix}: ${message}`);
    case 'exception':
    case undefined:
      throw new IngestInputError(`${prefix} raised ${message}\n${parsed.traceback ?? ''}`.trimEnd());
  }
}

function rowsFromColumns(columns: Record<string, unknown[]>, length: number): Record<string, unknown>[] {
  const entries = Object.entries(columns);
  const rows: Record<string, unknown>[] = new Array<Record<string, unknown>>(length);
  for (let i = 0; i < length; i++) {
    const row: Record<string, unknown> = {};
    for (const [name, values] of entries) {
      row[name] = values[i];
    }
    rows[i] = row;
  }
  return rows;
}

function isKill(signal: NodeJS.Signals | number): boolean {
  return signal === 'SIGKILL' || signal === 9;
}

function tail(log: RunLog): string {
  return log.stderrTail.length > 0 ? `\n${log.stderrTail.join('\n')}` : '';
}

/** Kills a whole process group; the run's leader id is also the group id. */
/**
 * Every run's processes carry `ANOMSTACK_INGEST_RUN=<id>` in their environment (inherited by
 * whatever they start, in any process group or session), so that the end of the run can find
 * and kill those that left the run's process group (setsid, start_new_session, detached).
 */
export const RUN_MARKER = 'ANOMSTACK_INGEST_RUN';

export const newRunId = (): string => randomUUID();

/**
 * SIGKILLs every process (but this one) whose environment holds the run's marker, by a scan of
 * /proc: the strays that escaped the process group. A no-op where there is no /proc. Processes
 * that exec with a cleared environment escape it: ingest functions are not a security boundary.
 */
export function killMarked(runId: string): number {
  const needle = Buffer.from(`${RUN_MARKER}=${runId}\0`);
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) {
      continue;
    }
    // null: gone, or not ours to read.
    if (readProcFile(`/proc/${entry}/environ`)?.includes(needle)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // Gone since.
      }
    }
  }
  return killed;
}

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) {
    return;
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
