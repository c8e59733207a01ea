import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/**
 * Kept apart from env.ts so the CLI reads `.env` before any command without loading zod and the
 * settings schema (`--help` and `--version` never need them).
 */
export class EnvError extends Error {
  override name = 'EnvError';
}

/**
 * Reads `<dir>/.env` into `env` under the real environment (a variable already set wins);
 * returns the file read, or null when there is none.
 */
export function loadDotEnv(dir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = path.join(dir, '.env');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw new EnvError(`cannot read ${file}: ${(error as Error).message}`);
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined) {
      env[name] = value;
    }
  }
  return file;
}
