import { parseArgs } from 'node:util';
import type { Job } from 'bullmq';
import { renderAlertChart } from '../shared/alerts/chart.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { createDb } from '../shared/db/db.js';
import { slotJobId } from '../shared/jobs.js';
import { renderSql } from '../shared/templates.js';
import { alertConfig } from '../services/alert/src/alert.js';
import { DEFAULTS_DIR } from '../test/support/processes.js';
import { median, openHarness, percentile, settled, WORKERS } from './support.js';

const BATCH = 'bench_latency';
const STEP_MIN = 5;

/**
 * `metrics` metrics of 5-minute points: the first run backfills `points` points each, every later
 * run adds one. From `spikesFrom` on, one metric per slot (a different one each slot, so the
 * snooze never hides it) jumps far out of range: exactly one alert email per steady cycle.
 */
const ingestSql = (metrics: number, points: number, spikesFrom: string): string => `
with last as (
  select coalesce(max(metric_timestamp), {{param.now}}::timestamptz - interval '${points * STEP_MIN} minutes') as ts
  from ${BATCH} where metric_batch = '${BATCH}' and metric_type = 'metric'
)
select 'm' || lpad(i::text, 3, '0') as metric_name, ts as metric_timestamp,
  case when ts >= timestamptz '${spikesFrom}' and (extract(epoch from ts)::bigint / ${STEP_MIN * 60}) % ${metrics} = i - 1 then 1000.0
    else round((100 + 10 * sin(extract(epoch from ts) / 7200 + i) + ((i * 7919 + extract(epoch from ts)::bigint / 300) % 17) / 4.0)::numeric, 3)::float8 end as metric_value
from generate_series(1, ${metrics}) as i,
  generate_series((select ts from last) + interval '${STEP_MIN} minutes', {{param.now}}::timestamptz, interval '${STEP_MIN} minutes') as ts`;

/** The time line of one steady cycle, in ms since the epoch. */
interface Cycle {
  ingestDone: number;
  scorePicked: number;
  scoreDone: number;
  alertAdded: number;
  alertPicked: number;
  emailReceived: number;
  alertDone: number;
}

/**
 * `npm run bench -- latency [--metrics 100] [--points 300] [--cycles 9]`: ingest done -> alert
 * email received, through the queues, for one batch where one metric spikes every cycle. The
 * default worker set runs as compose runs it (one `anomstack start <kind>` per kind), with a
 * real SMTP server on loopback (test/support/smtp-server.ts). The first slot backfills and
 * trains (the newcomer path); then each steady slot ingests one point per metric, and the bench
 * waits for its email. Prints the median and p90 of the latency and where it goes: queue pick-up
 * waits and each job's run, timed by BullMQ (added, processedOn, finishedOn) and the SMTP
 * server's arrival time; and, as a same-run reference, one chart rendered in this process.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      metrics: { type: 'string', default: '100' },
      points: { type: 'string', default: '300' },
      cycles: { type: 'string', default: '9' },
    },
  });
  const metrics = Number(values.metrics);
  const points = Number(values.points);
  const cycles = Number(values.cycles);
  const start = Date.UTC(2026, 5, 1, 12, 0, 0);
  const slots = Array.from({ length: cycles + 1 }, (_, i) => new Date(start + i * STEP_MIN * 60_000).toISOString());
  console.log(`latency bench: ${metrics} metrics x ${points} points, one spiking metric per cycle, ${cycles} cycles, workers ${WORKERS.join(', ')} (one process each)`);

  const harness = await openHarness({
    [BATCH]: { ingest_sql: ingestSql(metrics, points, slots[1] ?? ''), table_key: BATCH, alert_methods: 'email' },
  });
  const { database, dir, processes, queues, smtp } = harness;
  try {
    await harness.startWorkers(1);

    const first = slots[0] ?? '';
    await queues.ingest.add('ingest', { batch: BATCH, slot: first }, { jobId: slotJobId('ingest', BATCH, first) });
    await settled(queues, [BATCH], first, ['ingest', 'score', 'train', 'score+after-train', 'alert'], processes);
    const emailsBefore = smtp.messages.length;

    const timeline: Cycle[] = [];
    for (const [index, slot] of slots.slice(1).entries()) {
      await queues.ingest.add('ingest', { batch: BATCH, slot }, { jobId: slotJobId('ingest', BATCH, slot) });
      await smtp.waitFor(emailsBefore + index + 1, 120_000);
      const jobs = await settled(queues, [BATCH], slot, ['ingest', 'score', 'alert'], processes);
      const one = (name: string): Job => jobs[name]![0]!;
      timeline.push({
        ingestDone: one('ingest').finishedOn ?? 0,
        scorePicked: one('score').processedOn ?? 0,
        scoreDone: one('score').finishedOn ?? 0,
        alertAdded: one('alert').timestamp,
        alertPicked: one('alert').processedOn ?? 0,
        emailReceived: smtp.receivedAt[emailsBefore + index] ?? 0,
        alertDone: one('alert').finishedOn ?? 0,
      });
    }
    const emails = smtp.messages.length - emailsBefore;

    // A same-run reference for the chart share of the alert job: one 250-point chart here.
    const chartMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await renderAlertChart({
        title: 'bench',
        threshold: 0.999,
        points: Array.from({ length: 250 }, (_, k) => ({ t: new Date(start + k * 300_000), value: 100 + (k % 7), score: 0.1, scoreSmooth: 0.1, alert: k === 249, change: false })),
      });
      chartMs.push(performance.now() - t0);
    }

    // And for its query: the batch's alert_sql at the last slot, as the job renders it.
    const batch = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: true }).batches[0]!;
    const config = alertConfig(batch);
    const windowN = Math.max(config.maxN, config.recentN) + config.smoothN + config.snoozeN;
    const sql = renderSql(batch, 'alert_sql', { now: new Date(slots.at(-1) ?? '') }, { alert_window_n: windowN });
    const db = createDb(database.url);
    const queryMs: number[] = [];
    let windowRows = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      windowRows = (await db.query(sql)).length;
      queryMs.push(performance.now() - t0);
    }

    const row = (label: string, pick: (c: Cycle) => number): void => {
      const values = timeline.map(pick);
      console.log(`${label.padEnd(44)} median ${(median(values) / 1000).toFixed(3).padStart(7)} s  p90 ${(percentile(values, 90) / 1000).toFixed(3).padStart(7)} s`);
    };
    console.log(`-- ${timeline.length} steady cycles, ${emails} emails (expected ${timeline.length})`);
    row('ingest done -> email received', (c) => c.emailReceived - c.ingestDone);
    row('  ingest done -> score picked up', (c) => c.scorePicked - c.ingestDone);
    row('  score run', (c) => c.scoreDone - c.scorePicked);
    row('  score done -> alert added', (c) => c.alertAdded - c.scoreDone);
    row('  alert added -> alert picked up', (c) => c.alertPicked - c.alertAdded);
    row('  alert picked up -> email received', (c) => c.emailReceived - c.alertPicked);
    row('  email received -> alert done', (c) => c.alertDone - c.emailReceived);
    const ms = (values: number[]): string => values.map((v) => (v / 1000).toFixed(3)).join(' ');
    console.log(`reference, in this process: one 250-point alert chart (the first loads vega) ${ms(chartMs)} s; the alert_sql query (${windowRows} rows) ${ms(queryMs)} s`);
  } finally {
    await harness.close();
  }
}
