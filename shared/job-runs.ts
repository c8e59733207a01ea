import { type JobName } from './jobs.js';
import type { Db } from './db/db.js';
import type { JobResult } from './job.js';

/** Records a job run from start to finish in anomstack_job_runs (what ran, when, what it wrote). */
export async function withJobRun(
  db: Db,
  batch: string,
  job: JobName,
  detail: Record<string, unknown>,
  fn: () => Promise<JobResult>,
): Promise<JobResult> {
  const [row] = await db.run<{ id: number }>('insert_job_run', [batch, job, detail]);
  const id = row?.id;
  // The insert also closes the rows a killed earlier attempt of the same queue job left running.
  try {
    const result = await fn();
    await db.run('finish_job_run', [id, result.status, result.rows, { reason: result.reason ?? null, ...result.details }, null]);
    return result;
  } catch (error) {
    await db
      .run('finish_job_run', [id, 'failed', 0, null, (error as Error).message])
      .catch(() => {}); // the database may be what failed; the job's own error matters more
    throw error;
  }
}
