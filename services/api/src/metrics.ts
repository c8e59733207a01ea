import { QueueEvents } from 'bullmq';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type JobName } from '../../../shared/jobs.js';
import { JOB_NAMES } from '../../../shared/jobs.js';
import type { QueueMap } from '../../../shared/worker.js';

const CLOSE_WAIT_MS = 2000;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export interface ApiMetrics {
  registry: Registry;
  close(): Promise<void>;
}

/**
 * Prometheus metrics of the whole deployment, seen from the API: completions and failures come
 * from each queue's event stream (so every worker process counts, wherever it runs), queue depths
 * are read at scrape time. Counters start at zero when the API starts, as Prometheus expects.
 */
export function createApiMetrics(queues: QueueMap, redisUrl: string, prefix: string): ApiMetrics {
  const registry = new Registry();
  const completed = new Counter({ name: 'anomstack_jobs_completed_total', help: 'Jobs completed, per queue.', labelNames: ['queue'], registers: [registry] });
  const failed = new Counter({ name: 'anomstack_jobs_failed_total', help: 'Jobs failed for good (retries exhausted or bad input), per queue.', labelNames: ['queue'], registers: [registry] });
  const rows = new Counter({ name: 'anomstack_rows_written_total', help: 'Rows written by completed jobs, per queue.', labelNames: ['queue'], registers: [registry] });
  const duration = new Histogram({
    name: 'anomstack_job_duration_seconds',
    help: 'Run time of completed jobs, per queue.',
    labelNames: ['queue'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  new Gauge({
    name: 'anomstack_queue_jobs',
    help: 'Jobs in each queue by state, at scrape time.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(JOB_NAMES.map(async (q) => [q, await queues[q].getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed')] as const));
      this.reset();
      for (const [queue, byState] of counts) {
        for (const [state, count] of Object.entries(byState)) {
          this.set({ queue, state }, count);
        }
      }
    },
  });
  for (const queue of JOB_NAMES) {
    completed.inc({ queue }, 0);
    failed.inc({ queue }, 0);
    rows.inc({ queue }, 0);
  }

  const events = JOB_NAMES.map((queue: JobName) => {
    const queueEvents = new QueueEvents(queue, {
      // Options, not a shared client: each QueueEvents blocks on its own connection, which it owns and closes.
      connection: { url: redisUrl, maxRetriesPerRequest: null, connectionName: 'anomstack-api-events' },
      prefix,
    });
    queueEvents.on('completed', ({ jobId, returnvalue }) => {
      completed.inc({ queue });
      const written = (returnvalue as unknown as { rows?: unknown } | null)?.rows;
      if (typeof written === 'number') {
        rows.inc({ queue }, written);
      }
      void queues[queue]
        .getJob(jobId)
        .then((job) => {
          if (job?.processedOn && job.finishedOn) {
            duration.observe({ queue }, (job.finishedOn - job.processedOn) / 1000);
          }
        })
        .catch(() => {});
    });
    queueEvents.on('failed', () => failed.inc({ queue }));
    queueEvents.on('error', () => {});
    return queueEvents;
  });

  return {
    registry,
    async close() {
      // QueueEvents.close waits for its connection to be ready: with Redis down it would wait for
      // ever, and these are only counters, so give up after a moment.
      await Promise.all(events.map((e) => Promise.race([e.close().catch(() => {}), delay(CLOSE_WAIT_MS)])));
    },
  };
}
