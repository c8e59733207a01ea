import { JOB_NAMES, type JobName } from './config/metric-batch.js';

/** One BullMQ queue per job kind, named as the job (CONTRACT.md, "Queues"). */
export const QUEUE_NAMES: readonly JobName[] = JOB_NAMES;

/**
 * A job's payload: the batch and the slot it stands for. Never a config, a secret or SQL text:
 * BullMQ stores job data in clear text in Redis.
 */
export interface BatchJobData {
  batch: string;
  /** ISO time of the scheduled slot (or of the manual request). */
  slot: string;
}

/** Which worker service consumes which queues (`anomstack start <kind>`). */
export const WORKER_QUEUES = {
  ingest: ['ingest'],
  train: ['train'],
  score: ['score'],
  alert: ['alert', 'change', 'tholdalert', 'plot', 'summary', 'delete'],
} as const satisfies Record<string, readonly JobName[]>;

export type WorkerKind = keyof typeof WORKER_QUEUES;

export const SERVICE_KINDS = ['scheduler', 'ingest', 'train', 'score', 'alert', 'api'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];
