import { EnvError, loadDotEnv } from '../../shared/config/dotenv.js';
import { main } from './commands.js';
import { endQuietlyOnClosedPipe } from './pipe.js';

// Only the parser is loaded up front; each command imports what it needs when it runs, so
// `--help`, `--version` and a usage error start in about a tenth of a second.
endQuietlyOnClosedPipe(process.stdout);

try {
  // `.env` in the working directory, under the real environment (which wins).
  loadDotEnv(process.cwd());
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // By name: StoreUnreachableError lives beside pg, which this file does not load up front.
  const name = (error as Error).name;
  if (error instanceof EnvError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  } else if (name === 'StoreUnreachableError') {
    // Said plainly, without a stack: the message names the server, the address and what to set.
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  } else {
    const { logger } = await import('../../shared/logger.js');
    logger.error({ err: error }, 'command failed');
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
