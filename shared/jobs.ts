/**
 * The job registry: every job kind in one table, and every list, check and chaining rule derived
 * from it. Adding a kind is one row here, one core file under services/ and its defaults.
 *
 * A row says which worker service consumes the kind's queue (the queue is named as the job), how
 * it is scheduled, where its core is, and which jobs follow a run of it. The config keys follow
 * from the name: `disable_<job>` for every kind, `<job>_cron_schedule` for scheduled kinds and
 * `<job>_default_schedule_status` for per-batch ones.
 */

/** Every job kind, in pipeline order; each is a BullMQ queue of the same name and a row below. */
export const JOB_NAMES = ['ingest', 'train', 'score', 'alert', 'change', 'tholdalert', 'llmalert', 'plot', 'summary', 'delete'] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** The worker services (`anomstack start <kind>`). */
export const WORKER_KINDS = ['ingest', 'train', 'score', 'alert'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];

/**
 * - `batch`: a cron per batch, started RUNNING or STOPPED by the batch's config;
 * - `global`: one cron for every batch, keyed by the first batch in path order (the original's
 *   summary), always RUNNING unless disabled;
 * - `chained`: no cron of its own; it runs when another job asks for it.
 */
export type ScheduleKind = 'batch' | 'global' | 'chained';

/** What a finished run tells the chaining rules. */
export interface FinishedRun {
  /** The run's BullMQ job id: tells a slot's own run from a scheduled or manual one. */
  jobId: string;
  batch: string;
  slot: string;
  status: 'ok' | 'skipped';
  rows: number;
  details?: Record<string, unknown>;
}

/** A job to enqueue after a run, with a suffix that keeps its id apart from the slot's own run. */
export interface NextJob {
  job: JobName;
  suffix?: string;
}

interface JobKindSpec {
  worker: WorkerKind;
  schedule: ScheduleKind;
  /**
   * The core: a module path relative to services/ and its export, `file#export`. It is loaded on
   * first use, so an ingest worker never loads charts or models; start-up checks it exists.
   */
  core: `${string}#${string}`;
  /** The job graph: what to enqueue after a run of this kind (disabled jobs are dropped). */
  then?: (run: FinishedRun) => readonly NextJob[];
}

/** Suffix of the score run that follows a first training. */
const AFTER_TRAIN = '+after-train';

/** Whether the run is its slot's own run of `job` (not a cron run, a manual one or a re-run). */
const isSlotRun = (job: JobName, run: FinishedRun): boolean => run.jobId === slotJobId(job, run.batch, run.slot);

/** The score named metrics it could not score (as opposed to finding nothing new to score). */
const skippedMetrics = (run: FinishedRun): boolean => {
  const skipped = run.details?.skipped;
  return typeof skipped === 'object' && skipped !== null && Object.keys(skipped).length > 0;
};

/** Suffix of the train that a score run asks for when a short history has grown by half: no score follows it (the next ingest's does). */
const EARLY_RETRAIN = '+early-retrain';

const wantsEarlyRetrain = (run: FinishedRun): boolean => {
  const metrics = run.details?.earlyRetrain;
  return Array.isArray(metrics) && metrics.length > 0;
};

/**
 * After a slot's ingest writes rows, its score and threshold check follow at once, and its alert
 * follows the score, so a fresh point is alerted on within seconds instead of at the next crons.
 * When a chained score leaves metrics unscored (no model yet: the newcomer's first run), train
 * follows, then one more score. Schedule status (RUNNING/STOPPED) only governs crons.
 */
export const JOB_KINDS: Readonly<Record<JobName, JobKindSpec>> = {
  ingest: {
    worker: 'ingest',
    schedule: 'batch',
    core: 'ingest/src/ingest.js#ingestBatch',
    then: (run) => (run.status === 'ok' && run.rows > 0 ? [{ job: 'score' }, { job: 'tholdalert' }] : []),
  },
  train: {
    worker: 'train',
    schedule: 'batch',
    core: 'train/src/train.js#trainBatch',
    then: (run) => (run.status === 'ok' && run.rows > 0 && isSlotRun('train', run) ? [{ job: 'score', suffix: AFTER_TRAIN }] : []),
  },
  score: {
    worker: 'score',
    schedule: 'batch',
    core: 'score/src/score.js#scoreBatch',
    then: (run) => {
      if (run.rows > 0) {
        // A short history that has grown by half since its model (shared/models/early-retrain.ts) is retrained now, not at the train cron.
        return wantsEarlyRetrain(run) ? [{ job: 'alert' }, { job: 'train', suffix: EARLY_RETRAIN }] : [{ job: 'alert' }];
      }
      // Scheduled scores with nothing new never train; only the slot's chained score does.
      return isSlotRun('score', run) && run.status === 'skipped' && skippedMetrics(run) ? [{ job: 'train' }] : [];
    },
  },
  alert: { worker: 'alert', schedule: 'batch', core: 'alert/src/alert.js#alertBatch' },
  change: { worker: 'alert', schedule: 'batch', core: 'alert/src/change.js#changeBatch' },
  tholdalert: { worker: 'alert', schedule: 'chained', core: 'alert/src/tholdalert.js#tholdalertBatch' },
  llmalert: { worker: 'alert', schedule: 'batch', core: 'alert/src/llmalert.js#llmalertBatch' },
  plot: { worker: 'alert', schedule: 'batch', core: 'alert/src/plot.js#plotBatch' },
  summary: { worker: 'alert', schedule: 'global', core: 'alert/src/summary.js#summaryBatch' },
  delete: { worker: 'alert', schedule: 'batch', core: 'alert/src/delete.js#deleteBatch' },
};

export const isJobName = (value: string): value is JobName => Object.hasOwn(JOB_KINDS, value);

export const jobKind = (job: JobName): JobKindSpec => JOB_KINDS[job];

/** The queues a worker service consumes. */
export const queuesOf = (worker: WorkerKind): JobName[] => JOB_NAMES.filter((job) => JOB_KINDS[job].worker === worker);

export const jobsScheduled = (kind: ScheduleKind): JobName[] => JOB_NAMES.filter((job) => JOB_KINDS[job].schedule === kind);

/** Every service `anomstack start` knows: the scheduler, the workers, the API. */
export const SERVICE_KINDS = ['scheduler', ...WORKER_KINDS, 'api'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/**
 * Job id of a slot's run: `${job}:${batch}:${slot}` with the slot in ISO form without colons
 * (`2026-02-03T040500.000Z`): BullMQ accepts a custom id with colons only as exactly three parts.
 */
export const slotJobId = (job: JobName, batch: string, slot: string, suffix = ''): string =>
  `${job}:${batch.replaceAll(':', '_')}:${slot.replaceAll(':', '')}${suffix}`;

/** A job to enqueue because another one finished; its id dedupes a second enqueue. */
export interface FollowUp {
  queue: JobName;
  jobId: string;
}

/** What to enqueue after a run of `job`: the row's rule, less the jobs the batch disables. */
export function followUps(job: JobName, run: FinishedRun, disabled: Readonly<Record<JobName, boolean>>): FollowUp[] {
  return (JOB_KINDS[job].then?.(run) ?? [])
    .filter((next) => !disabled[next.job])
    .map((next) => ({ queue: next.job, jobId: slotJobId(next.job, run.batch, run.slot, next.suffix) }));
}

/**
 * The registry's own consistency, checked at start-up and by the tests: every job a rule can
 * enqueue is registered and has a consumer, every worker kind consumes something.
 */
export function registryProblems(): string[] {
  const problems: string[] = [];
  for (const worker of WORKER_KINDS) {
    if (queuesOf(worker).length === 0) {
      problems.push(`worker "${worker}" consumes no queue`);
    }
  }
  for (const job of JOB_NAMES) {
    const spec = JOB_KINDS[job];
    if (!(WORKER_KINDS as readonly string[]).includes(spec.worker)) {
      problems.push(`job "${job}": no worker service "${spec.worker}" consumes its queue`);
    }
    if (!/^[\w/.-]+\.js#\w+$/.test(spec.core)) {
      problems.push(`job "${job}": core "${spec.core}" is not "path/to/module.js#export"`);
    }
  }
  return problems;
}
