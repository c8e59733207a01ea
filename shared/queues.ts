/**
 * A job's payload: the batch and the slot it stands for. Never a config, a secret or SQL text:
 * BullMQ stores job data in clear text in Redis. Queue names are the job names of shared/jobs.ts.
 */
export interface BatchJobData {
  batch: string;
  /** ISO time of the scheduled slot (or of the manual request). */
  slot: string;
}
