import type { JobName } from '../shared/config/metric-batch.js';
import type { JobCore } from '../shared/job.js';

/** A core whose module loads on its first run: an ingest worker never loads the charts or models. */
const lazy =
  (load: () => Promise<JobCore>): JobCore =>
  async (batch, context) =>
    (await load())(batch, context);

/** Every job kind and its core: the same function serves `anomstack run` and the workers. */
export const JOB_CORES: Readonly<Record<JobName, JobCore>> = {
  ingest: lazy(async () => (await import('./ingest/src/ingest.js')).ingestBatch),
  train: lazy(async () => (await import('./train/src/train.js')).trainBatch),
  score: lazy(async () => (await import('./score/src/score.js')).scoreBatch),
  alert: lazy(async () => (await import('./alert/src/alert.js')).alertBatch),
  change: lazy(async () => (await import('./alert/src/change.js')).changeBatch),
  tholdalert: lazy(async () => (await import('./alert/src/tholdalert.js')).tholdalertBatch),
  plot: lazy(async () => (await import('./alert/src/plot.js')).plotBatch),
  summary: lazy(async () => (await import('./alert/src/summary.js')).summaryBatch),
  delete: lazy(async () => (await import('./alert/src/delete.js')).deleteBatch),
};
