import type { JobName } from '../shared/config/metric-batch.js';
import type { JobCore } from '../shared/job.js';
import { alertBatch } from './alert/src/alert.js';
import { changeBatch } from './alert/src/change.js';
import { deleteBatch } from './alert/src/delete.js';
import { plotBatch } from './alert/src/plot.js';
import { summaryBatch } from './alert/src/summary.js';
import { tholdalertBatch } from './alert/src/tholdalert.js';
import { ingestBatch } from './ingest/src/ingest.js';
import { scoreBatch } from './score/src/score.js';
import { trainBatch } from './train/src/train.js';

/** Every job kind and its core: the same function serves `anomstack run` and the workers. */
export const JOB_CORES: Readonly<Record<JobName, JobCore>> = {
  ingest: ingestBatch,
  train: trainBatch,
  score: scoreBatch,
  alert: alertBatch,
  change: changeBatch,
  tholdalert: tholdalertBatch,
  plot: plotBatch,
  summary: summaryBatch,
  delete: deleteBatch,
};
