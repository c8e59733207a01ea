/**
 * The default score and alert SQL read each metric's newest points on the by-metric index. They
 * must return exactly what the plain window-function form returns (test/fixtures/window-sql), on
 * data that has what real batches have: gaps, sparse and stale metrics, names that sort by
 * collation, scores without a value, alert, change and threshold-alert rows, another batch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBatches } from '../shared/config/load-batches.js';
import type { MetricBatch } from '../shared/config/metric-batch.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import type { MetricRow } from '../shared/metric-row.js';
import { renderSql } from '../shared/templates.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

const NOW = new Date(Date.UTC(2026, 5, 1, 12, 0, 0));
const STEP = 5 * 60_000;
const reference = (name: string): string => fs.readFileSync(path.resolve('test/fixtures/window-sql', name), 'utf8');

let test: TestDatabase;
let workdir: string;
let plain: MetricBatch;
let excluding: MetricBatch;

/** A deterministic stream in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

function rows(): MetricRow[] {
  const random = seeded(11);
  const out: MetricRow[] = [];
  const add = (batch: string, name: string, type: MetricRow['metric_type'], t: number, value: number, metadata: MetricRow['metadata'] = null): void => {
    out.push({ metric_timestamp: new Date(t), metric_batch: batch, metric_name: name, metric_type: type, metric_value: value, metadata });
  };
  const names = ['m1', 'm2', 'M3', 'b_10', 'émoji ü', 'zz'];
  for (const name of names) {
    for (let i = 0; i < 400; i++) {
      const t = NOW.getTime() - i * STEP;
      if (random() < 0.1) {
        continue; // gaps
      }
      add('w', name, 'metric', t, Math.round(random() * 1e6) / 1e3);
      if (random() < 0.6) {
        add('w', name, 'score', t, Math.round(random() * 1e6) / 1e6, { models: { c: random() }, band: { lo: 1, hi: 2 } });
      }
      if (random() < 0.04) {
        add('w', name, 'alert', t, 1, { metric_score: 0.99 });
      }
      if (random() < 0.03) {
        add('w', name, 'change', t, 1);
      }
      if (random() < 0.02) {
        add('w', name, 'tholdalert', t, 1);
      }
    }
  }
  for (let day = 0; day < 60; day++) {
    add('w', 'daily', 'metric', NOW.getTime() - day * 86_400_000, day);
    add('w', 'daily', 'score', NOW.getTime() - day * 86_400_000, day / 100);
  }
  add('w', 'stale', 'metric', NOW.getTime() - 100 * 86_400_000, 1);
  add('w', 'stale', 'score', NOW.getTime() - 100 * 86_400_000, 0.5);
  add('w', 'future', 'metric', NOW.getTime() + STEP, 1);
  add('w', 'future', 'score', NOW.getTime() + STEP, 0.5);
  add('w', 'only_score', 'score', NOW.getTime() - STEP, 0.5);
  add('other', 'm1', 'metric', NOW.getTime(), 5);
  add('other', 'm1', 'score', NOW.getTime(), 0.1);
  return out;
}

beforeAll(async () => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-window-sql-'));
  fs.mkdirSync(path.join(workdir, 'w'));
  fs.writeFileSync(path.join(workdir, 'w', 'w.yaml'), 'metric_batch: w\ningest_sql: select 1\ntable_key: window_sql\n');
  fs.writeFileSync(
    path.join(workdir, 'w', 'x.yaml'),
    "metric_batch: wx\ningest_sql: select 1\ntable_key: window_sql\nscore_exclude_metrics: [m2, daily]\nalert_exclude_metrics: ['émoji ü', zz]\n",
  );
  const loaded = loadBatches({ metricsDir: workdir, defaultsDir: path.resolve('defaults'), ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  const byName = new Map(loaded.batches.map((b) => [b.name, b]));
  plain = byName.get('w')!;
  // The excluding batch reads batch w's rows: only its name differs in the SQL.
  excluding = { ...byName.get('wx')!, name: 'w' };
  test = await createTestDatabase(loaded.batches);
  await upsertMetricRows(test.db, 'window_sql', rows());
});

afterAll(async () => {
  await test?.drop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

/** The default template's rows and the reference's, rendered with the same values. */
async function both(batch: MetricBatch, key: 'score_sql' | 'alert_sql', file: string, extra: Record<string, unknown>): Promise<[unknown[], unknown[]]> {
  const withReference = { ...batch, vars: { ...batch.vars, [key]: reference(file) } };
  return [
    await test.db.query(renderSql(batch, key, { now: NOW }, extra)),
    await test.db.query(renderSql(withReference, key, { now: NOW }, extra)),
  ];
}

describe('default window SQL', () => {
  it.each([5, 100])('score_sql returns the reference rows (score_history_n %i)', async (historyN) => {
    for (const batch of [plain, excluding]) {
      const [got, want] = await both(batch, 'score_sql', 'score-reference.sql', { score_history_n: historyN });
      expect(want.length).toBeGreaterThan(100);
      expect(got).toEqual(want);
    }
  });

  it.each([25, 274, 5000])('alert_sql returns the reference rows (alert_window_n %i)', async (windowN) => {
    for (const batch of [plain, excluding]) {
      const [got, want] = await both(batch, 'alert_sql', 'alerts-reference.sql', { alert_window_n: windowN });
      expect(want.length).toBeGreaterThan(100);
      expect((want as { metric_alert: number }[]).some((row) => row.metric_alert === 1)).toBe(true);
      expect(got).toEqual(want);
    }
  });
});
