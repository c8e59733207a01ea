import { readdirSync } from 'node:fs';

import { readProcFile } from './proc-file.js';
import { RUN_MARKER } from './run-outcome.js';

/**
 * `ingest_memory_mb` on the whole process tree of a run, whatever the memory is: RLIMIT_DATA
 * (Python) and `--max-old-space-size` (Node) miss shared mappings, Buffers and child processes.
 * Every `POLL_MS` the run's processes are found in /proc (the leader's process group, everything
 * carrying the run's marker, and their descendants) and their proportional set size (PSS: shared
 * pages split among the processes sharing them, so a warm fork does not pay for the pandas pages
 * of its fork server) is summed; over the limit, `onExceeded` runs once (the caller kills the run).
 * A no-op where there is no /proc.
 */
export const POLL_MS = 100;

export interface MemoryWatch {
  /** The highest total seen, in MiB. */
  readonly peakMb: number;
  stop(): void;
}

export function watchRunMemory(options: {
  runId: string;
  /** The run's leader, also its process group id; undefined until known (warm Python). */
  leader: () => number | undefined;
  limitMb: number;
  onExceeded: (usedMb: number) => void;
}): MemoryWatch {
  let peakMb = 0;
  let fired = false;
  const needle = Buffer.from(`${RUN_MARKER}=${options.runId}\0`);
  const check = (): void => {
    if (fired) {
      return;
    }
    const usedMb = treeMemoryBytes(runProcesses(options.leader(), needle)) / (1024 * 1024);
    peakMb = Math.max(peakMb, usedMb);
    if (usedMb > options.limitMb) {
      fired = true;
      options.onExceeded(usedMb);
    }
  };
  const timer = setInterval(check, POLL_MS);
  timer.unref();
  return {
    get peakMb() {
      return peakMb;
    },
    stop: () => clearInterval(timer),
  };
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgid: number;
  /** A kernel thread (PF_KTHREAD): no environment, no memory of its own, never a run's. */
  kernel: boolean;
}

const PF_KTHREAD = 0x00200000;

/** The pids of a run: its group, its marked processes, and their descendants. */
function runProcesses(leader: number | undefined, needle: Buffer): number[] {
  const entries = listProcesses();
  const members = new Set<number>();
  for (const entry of entries) {
    if ((leader !== undefined && (entry.pid === leader || entry.pgid === leader)) || (!entry.kernel && hasMarker(entry.pid, needle))) {
      members.add(entry.pid);
    }
  }
  // Descendants that left the group and cleared their environment still count.
  for (let grown = true; grown; ) {
    grown = false;
    for (const entry of entries) {
      if (!members.has(entry.pid) && members.has(entry.ppid)) {
        members.add(entry.pid);
        grown = true;
      }
    }
  }
  members.delete(process.pid);
  return [...members];
}

function listProcesses(): ProcEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const entries: ProcEntry[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) {
      continue;
    }
    // latin1: only the ASCII after the command name is read. null: gone.
    const stat = readProcFile(`/proc/${name}/stat`)?.toString('latin1');
    if (stat !== undefined) {
      // pid (comm) state ppid pgrp session tty tpgid flags ...: comm may hold spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      entries.push({ pid, ppid: Number(fields[1]), pgid: Number(fields[2]), kernel: (Number(fields[6]) & PF_KTHREAD) !== 0 });
    }
  }
  return entries;
}

function hasMarker(pid: number, needle: Buffer): boolean {
  return readProcFile(`/proc/${pid}/environ`)?.includes(needle) ?? false;
}

const PAGE_BYTES = 4096;

/** Sum of PSS (smaps_rollup), else of RSS (statm), in bytes. */
function treeMemoryBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    // No smaps_rollup (old kernel) or gone: fall back to statm.
    const rollup = readProcFile(`/proc/${pid}/smaps_rollup`)?.toString('latin1');
    const pss = rollup === undefined ? undefined : /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1];
    if (pss !== undefined) {
      total += Number(pss) * 1024;
      continue;
    }
    const resident = Number(readProcFile(`/proc/${pid}/statm`)?.toString('latin1').split(' ')[1]);
    total += Number.isFinite(resident) ? resident * PAGE_BYTES : 0;
  }
  return total;
}
