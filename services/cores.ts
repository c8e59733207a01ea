import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JOB_KINDS, JOB_NAMES, type JobName } from '../shared/jobs.js';
import type { JobCore } from '../shared/job.js';

const SERVICES_DIR = path.dirname(fileURLToPath(import.meta.url));

/** A registered job whose core cannot be loaded: start-up refuses it. */
export class MissingCoreError extends Error {
  override name = 'MissingCoreError';
}

const loaded = new Map<JobName, Promise<JobCore>>();

/** The core of a job kind, as its registry row locates it (`file#export` under services/). */
export function loadCore(job: JobName): Promise<JobCore> {
  let core = loaded.get(job);
  if (!core) {
    core = importCore(job, JOB_KINDS[job].core);
    loaded.set(job, core);
    core.catch(() => loaded.delete(job));
  }
  return core;
}

/** Imports `file#export` under services/; a missing module or export names the job. */
export async function importCore(job: string, locator: string): Promise<JobCore> {
  const [file = '', name = ''] = locator.split('#');
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path.join(SERVICES_DIR, file)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new MissingCoreError(`job "${job}": cannot load its core services/${file}: ${(error as Error).message}`);
  }
  const core = module[name];
  if (typeof core !== 'function') {
    throw new MissingCoreError(`job "${job}": services/${file} exports no function ${name}`);
  }
  return core as JobCore;
}

/**
 * Every job kind's core, each loading its module on first run: an ingest worker never loads the
 * charts or the models. The same functions serve `anomstack run` and the workers.
 */
export const JOB_CORES: Readonly<Record<JobName, JobCore>> = Object.fromEntries(
  JOB_NAMES.map((job): [JobName, JobCore] => [job, async (batch, context) => (await loadCore(job))(batch, context)]),
) as Record<JobName, JobCore>;

/** Loads the cores of `jobs` now; a worker refuses to start with a job it could not run. */
export async function checkCores(jobs: readonly JobName[]): Promise<void> {
  const results = await Promise.allSettled(jobs.map(loadCore));
  const problems = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (problems.length > 0) {
    throw new MissingCoreError(problems.join('\n'));
  }
}
