import { EnvError, loadDotEnv } from '../../shared/config/env.js';
import { StoreUnreachableError } from '../../shared/db/reachable.js';
import { logger } from '../../shared/logger.js';
import { main } from './commands.js';
import { endQuietlyOnClosedPipe } from './pipe.js';

endQuietlyOnClosedPipe(process.stdout);

try {
  // `.env` in the working directory, under the real environment (which wins).
  loadDotEnv(process.cwd());
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof EnvError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  } else if (error instanceof StoreUnreachableError) {
    // Said plainly, without a stack: the message names the server, the address and what to set.
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  } else {
    logger.error({ err: error }, 'command failed');
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
