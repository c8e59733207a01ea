/**
 * `anomstack validate --json | head -1`: once the reader has gone, more output is pointless.
 * End the process at once and quietly (as Unix tools do on SIGPIPE) instead of crashing with an
 * EPIPE stack; any other stream error still surfaces.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') {
      process.exit(process.exitCode ?? 0);
    }
    throw error;
  });
}
