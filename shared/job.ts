import type { AppEnv } from './config/env.js';
import { type MetricBatch } from './config/metric-batch.js';
import { type JobName } from './jobs.js';
import type { Db } from './db/db.js';
import type { Logger } from './logger.js';
import type { MetricRow } from './metric-row.js';

/** What every job core receives: its I/O and the run's settings. */
export interface JobContext {
  env: AppEnv;
  db: Db;
  /** Every loaded batch, for jobs that look across batches (summary). */
  batches: readonly MetricBatch[];
  /** The slot this run stands for; windows are measured back from it. */
  now: Date;
  /** Write nothing, send nothing; report what would be written. */
  dryRun: boolean;
  log: Logger;
  /**
   * The queue job's own log (BullMQ `Job.log`, Bull Board's Logs tab) when the run is a queue
   * job: what a user's code printed goes there too.
   */
  jobLog?: (line: string) => void;
}

export interface JobResult {
  batch: string;
  job: JobName;
  status: 'ok' | 'skipped';
  /** Rows written (or, in a dry run, that would be written). */
  rows: number;
  reason?: string;
  /** Per-job facts: metrics trained, skipped with reasons, deliveries sent... */
  details?: Record<string, unknown>;
  /** Dry runs only: the rows that would be written. */
  wouldWrite?: MetricRow[];
}

export type JobCore = (batch: MetricBatch, context: JobContext) => Promise<JobResult>;

export const skipped = (batch: MetricBatch, job: JobName, reason: string): JobResult => ({
  batch: batch.name,
  job,
  status: 'skipped',
  rows: 0,
  reason,
});

/** A queued run that will not be retried: what the failure notification is told. */
export interface FinalFailure {
  queue: JobName;
  jobId: string;
  batch: string;
  slot: string;
  /** This attempt (1-based) and the attempts allowed. */
  attempt: number;
  attempts: number;
  /** Failed at once because the input is at fault (not retried). */
  inputError: boolean;
  reason: string;
}
