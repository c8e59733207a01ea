import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IngestRunnerSetupError } from './errors.js';

/** Tried in order when `ANOMSTACK_PYTHON` is unset: the first that imports pandas is used. */
export const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3'] as const;

export const INSTALL_PANDAS =
  'install pandas for one of them (Debian/Ubuntu: `apt-get install python3-pandas python3-requests`; elsewhere: `python3 -m pip install pandas requests`), or set ANOMSTACK_PYTHON to an interpreter that has it';

const PROBE = fileURLToPath(new URL('./probe_pandas.py', import.meta.url));

/** Why `python` cannot run `import pandas`, or null when it can. */
function pandasProblem(python: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(python, [PROBE], { timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) {
        resolve(null);
      } else if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve('not found');
      } else {
        const last = stderr.trim().split('\n').at(-1);
        resolve(last && last !== '' ? last : error.message);
      }
    });
  });
}

const found = new Map<string, Promise<string>>();

/**
 * The interpreter for Python ingest functions: `ANOMSTACK_PYTHON` when set, else the first of
 * PYTHON_CANDIDATES that imports pandas (looked for once per process). When none does, the
 * error names each one tried, why it failed, and what to install.
 */
export function findPython(setting: string | null, candidates: readonly string[] = PYTHON_CANDIDATES): Promise<string> {
  if (setting !== null) {
    return Promise.resolve(setting);
  }
  const key = candidates.join('\0');
  let result = found.get(key);
  if (!result) {
    result = (async () => {
      const tried: string[] = [];
      for (const candidate of candidates) {
        const problem = await pandasProblem(candidate);
        if (problem === null) {
          return candidate;
        }
        tried.push(`${candidate} (${problem})`);
      }
      throw new IngestRunnerSetupError(`no Python interpreter with pandas: tried ${tried.join(', ')}; ${INSTALL_PANDAS}`);
    })();
    // A failed search is tried again next run: the user may install pandas meanwhile.
    result.catch(() => found.delete(key));
    found.set(key, result);
  }
  return result;
}
