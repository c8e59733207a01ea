import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/**
 * Reads a small /proc file (stat, environ, smaps_rollup, statm) whole; null when it cannot be
 * read (the process is gone, or not ours). The scans of a run's processes (memory-watch.ts,
 * killMarked) read a few files per process on the machine, several times a run: readFileSync
 * (which stats first, then reads /proc's size-0 files twice) into a new Buffer cost about 2.5
 * times this single read into one reused buffer. The result is a view of that buffer, valid
 * until the next call; a file larger than the buffer is read whole the slow way.
 */
const BUFFER = Buffer.allocUnsafe(64 * 1024);

export function readProcFile(file: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = readSync(fd, BUFFER, 0, BUFFER.length, null);
    return size < BUFFER.length ? BUFFER.subarray(0, size) : readFileSync(file);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
