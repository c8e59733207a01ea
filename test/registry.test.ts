import { describe, expect, it } from 'vitest';
import { checkCores, importCore, MissingCoreError } from '../services/cores.js';
import { parseStartArgs } from '../services/start.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { JOB_KEYS } from '../shared/config/schema.js';
import { followUps, JOB_KINDS, JOB_NAMES, queuesOf, registryProblems, SERVICE_KINDS, WORKER_KINDS } from '../shared/jobs.js';
import { definedSchedules } from '../shared/schedules/plan.js';
import { createMetricsDir, DEFAULTS_DIR } from './support/processes.js';

describe('the job registry', () => {
  it('is consistent: every queue has one consumer and every job a core that loads', async () => {
    expect(registryProblems()).toEqual([]);
    expect(WORKER_KINDS.flatMap(queuesOf).sort()).toEqual([...JOB_NAMES].sort());
    expect(SERVICE_KINDS).toEqual(['scheduler', ...WORKER_KINDS, 'api']);
    await expect(checkCores(JOB_NAMES)).resolves.toBeUndefined();
  });

  it('refuses a core that does not exist, naming the job', async () => {
    await expect(importCore('newjob', 'alert/src/nope.js#run')).rejects.toThrow(MissingCoreError);
    await expect(importCore('newjob', 'alert/src/nope.js#run')).rejects.toThrow(/job "newjob": cannot load its core services\/alert\/src\/nope\.js/);
    await expect(importCore('newjob', 'alert/src/alert.js#nope')).rejects.toThrow(/job "newjob": services\/alert\/src\/alert\.js exports no function nope/);
  });

  it('derives config keys, schedules and chaining from the rows', () => {
    for (const job of JOB_NAMES) {
      expect(JOB_KEYS).toHaveProperty(`disable_${job}`);
      expect(Object.hasOwn(JOB_KEYS, `${job}_cron_schedule`)).toBe(JOB_KINDS[job].schedule !== 'chained');
      expect(Object.hasOwn(JOB_KEYS, `${job}_default_schedule_status`)).toBe(JOB_KINDS[job].schedule === 'batch');
    }
    const dir = createMetricsDir({ a: { ingest_sql: 'select 1' }, b: { ingest_sql: 'select 1' } });
    const { batches } = loadBatches({ metricsDir: dir, defaultsDir: DEFAULTS_DIR, ignoreExamples: false, env: {} });
    const ids = definedSchedules(batches).map((s) => s.id);
    // Per-batch jobs once per batch, the global one once, chained ones never.
    expect(ids.filter((id) => id.startsWith('ingest:'))).toEqual(['ingest:a', 'ingest:b']);
    expect(ids.filter((id) => id.split(':')[0] === 'summary')).toEqual(['summary']);
    expect(ids.some((id) => id.startsWith('tholdalert:'))).toBe(false);
    const slot = '2026-01-01T00:00:00.000Z';
    const run = { jobId: 'x', batch: 'a', slot, status: 'ok' as const, rows: 3 };
    const none = Object.fromEntries(JOB_NAMES.map((job) => [job, false])) as Record<(typeof JOB_NAMES)[number], boolean>;
    expect(followUps('ingest', run, none).map((f) => f.queue)).toEqual(['score', 'tholdalert']);
    expect(followUps('ingest', run, { ...none, tholdalert: true }).map((f) => f.queue)).toEqual(['score']);
  });

  it('lets `anomstack start` name exactly the registered services', () => {
    expect(parseStartArgs(['all'])).toEqual({ kinds: [...SERVICE_KINDS], check: false });
    expect(parseStartArgs(['nope'])).toEqual({ error: expect.stringContaining('unknown service "nope"') });
  });
});
