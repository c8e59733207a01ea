import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../shared/config/env.js';
import { loadBatches } from '../shared/config/load-batches.js';
import { type MetricBatch } from '../shared/config/metric-batch.js';
import { upsertMetricRows } from '../shared/db/metrics-store.js';
import type { JobContext } from '../shared/job.js';
import { logger } from '../shared/logger.js';
import type { MetricRow } from '../shared/metric-row.js';
import { clearModelCache, createModelStore, modelCacheBytes } from '../shared/model-store.js';
import { scoreBatch } from '../services/score/src/score.js';
import { trainBatch } from '../services/train/src/train.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

const START = Date.UTC(2025, 0, 1);
const STEP = 5 * 60_000;
let test: TestDatabase;
let workdir: string;
let local: MetricBatch;
let inPostgres: MetricBatch;

/** A noisy sine with a spike at `spikeAt` (index), one point every 5 minutes. */
function series(batch: string, name: string, n: number, spikeAt = -1): MetricRow[] {
  return Array.from({ length: n }, (_, i) => ({
    metric_timestamp: new Date(START + i * STEP),
    metric_batch: batch,
    metric_name: name,
    metric_type: 'metric' as const,
    metric_value: 100 + 10 * Math.sin(i / 12) + ((i * 7919) % 13) / 13 + (i === spikeAt ? 80 : 0),
    metadata: null,
  }));
}

const context = (now: Date, dryRun = false): JobContext => ({
  env: loadEnv({}),
  db: test.db,
  batches: [local, inPostgres],
  now,
  dryRun,
  log: logger,
});

const NOW = new Date(START + 299 * STEP);

/** These tests are about the original's models (two per metric, PCA's model files): the batches name them. */
const ORIGINAL_MODELS = `train_min_n: 14
model_configs:
  - {model_name: PCA, model_tag: pca_default, model_params: {contamination: 0.01}}
  - {model_name: KNN, model_tag: knn_default, model_params: {contamination: 0.01}}
`;

beforeAll(async () => {
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-train-'));
  const metrics = path.join(workdir, 'metrics');
  fs.mkdirSync(path.join(metrics, 'b'), { recursive: true });
  fs.writeFileSync(
    path.join(metrics, 'b', 'local.yaml'),
    `metric_batch: ts_local\ningest_sql: select 1\ntable_key: ts_metrics\nmodel_path: "local://${path.join(workdir, 'models')}"\n${ORIGINAL_MODELS}`,
  );
  fs.writeFileSync(
    path.join(metrics, 'b', 'pg.yaml'),
    `metric_batch: ts_pg\ningest_sql: select 1\ntable_key: ts_metrics\nmodel_path: "postgres://"\nscore_max_n: 10\n${ORIGINAL_MODELS}`,
  );
  const loaded = loadBatches({ metricsDir: metrics, defaultsDir: path.resolve('defaults'), ignoreExamples: false, env: {} });
  expect(loaded.problems).toEqual([]);
  [local, inPostgres] = loaded.batches as [MetricBatch, MetricBatch];
  test = await createTestDatabase(loaded.batches);
  await upsertMetricRows(test.db, 'ts_metrics', [
    ...series('ts_local', 'steady', 300),
    ...series('ts_local', 'spiky', 300, 299),
    ...series('ts_local', 'tiny', 10),
    ...series('ts_pg', 'steady', 300),
  ]);
});

afterAll(async () => {
  await test.drop();
  fs.rmSync(workdir, { recursive: true, force: true });
});

describe('train and score on Postgres', () => {
  it('trains every metric with enough data and skips the others with a reason', async () => {
    const result = await trainBatch(local, context(NOW));
    expect(result).toMatchObject({ status: 'ok', rows: 4, details: { trained: 2 } });
    expect((result.details?.skipped as Record<string, string>).tiny).toMatch(/10 points, train_min_n is 14/);
    const files = fs.readdirSync(path.join(workdir, 'models', 'ts_local')).sort();
    expect(files).toHaveLength(4);
    expect(files.every((f) => /^(spiky|steady)_(pca|knn)_default\.v\d+\.model$/.test(f))).toBe(true);
  });

  it('scores only unscored points, and a re-run writes nothing', async () => {
    const first = await scoreBatch(local, context(NOW));
    expect(first.status).toBe('ok');
    expect(first.rows).toBe(50); // 25 newest points of steady and spiky; tiny has no model
    expect((first.details?.skipped as Record<string, string>).tiny).toMatch(/no model/);
    const scores = await test.db.query<{ metric_name: string; metric_value: number; metric_timestamp: Date }>({
      text: `select metric_name, metric_value, metric_timestamp from ts_metrics where metric_type = 'score' and metric_batch = 'ts_local' order by metric_timestamp`,
      values: [],
    });
    expect(scores.every((s) => s.metric_value >= 0 && s.metric_value <= 1)).toBe(true);
    const spike = scores.filter((s) => s.metric_name === 'spiky').at(-1);
    expect(spike?.metric_timestamp.getTime()).toBe(NOW.getTime());
    expect(spike?.metric_value).toBeGreaterThan(0.8);
    const steadyLast = scores.filter((s) => s.metric_name === 'steady').at(-1);
    expect(steadyLast?.metric_value).toBeLessThan(spike?.metric_value ?? 0);

    const again = await scoreBatch(local, context(NOW));
    expect(again).toMatchObject({ status: 'skipped', rows: 0 });
    expect(Object.keys(again.details?.skipped as object)).toEqual(['tiny']);
  });

  it('keeps models in Postgres with model_path postgres:// and scores score_max_n points', async () => {
    expect(await trainBatch(inPostgres, context(NOW))).toMatchObject({ status: 'ok', rows: 2 });
    const [row] = await test.db.query<{ n: number }>({
      text: `select count(*)::int as n from anomstack_models where metric_batch = 'ts_pg' and model is not null`,
      values: [],
    });
    expect(row?.n).toBe(2);
    expect(await scoreBatch(inPostgres, context(NOW))).toMatchObject({ status: 'ok', rows: 10 });
  });

  it('keeps the last good model when a newer write did not complete', async () => {
    const store = createModelStore(test.db, local.config.model_path);
    const before = await store.loadCurrent('ts_local');
    // A writer that died mid-write leaves only its temp file: no row, so nothing changes.
    fs.writeFileSync(path.join(workdir, 'models', 'ts_local', `steady_pca_default.v${Date.now() + 1000}.model.123.tmp`), 'partial');
    const after = await store.loadCurrent('ts_local');
    expect(after.errors).toEqual([]);
    expect(after.models.map((m) => m.version)).toEqual(before.models.map((m) => m.version));
  });

  it('scores with the remaining models when one model file is unreadable', async () => {
    const store = createModelStore(test.db, local.config.model_path);
    const current = await store.loadCurrent('ts_local');
    const spiky = current.models.find((m) => m.metric === 'spiky' && m.tag === 'pca_default');
    fs.writeFileSync(path.join(workdir, 'models', 'ts_local', `spiky_pca_default.v${spiky?.version}.model`), 'garbage');
    // A process reads a version's file once; one that has not read it yet (a restarted worker) finds it broken.
    clearModelCache();
    const rows = series('ts_local', 'steady', 302).slice(300).concat(series('ts_local', 'spiky', 302).slice(300));
    await upsertMetricRows(test.db, 'ts_metrics', rows);
    const later = new Date(START + 301 * STEP);
    const result = await scoreBatch(local, context(later));
    expect(result.rows).toBe(4);
    expect(result.details?.modelErrors).toEqual([expect.stringMatching(/^spiky pca_default: /)]);
    const [scored] = await test.db.query<{ metadata: { models: Record<string, number> } }>({
      text: `select metadata from ts_metrics where metric_type = 'score' and metric_name = 'spiky' and metric_timestamp = $1`,
      values: [later],
    });
    expect(Object.keys(scored?.metadata.models ?? {})).toEqual(['knn_default']);
  });

  it('writes nothing on a dry run and says what it would write', async () => {
    await upsertMetricRows(test.db, 'ts_metrics', series('ts_pg', 'steady', 301).slice(300));
    const later = new Date(START + 300 * STEP);
    const result = await scoreBatch(inPostgres, context(later, true));
    expect(result.rows).toBe(1);
    expect(result.wouldWrite).toHaveLength(1);
    const [row] = await test.db.query<{ n: number }>({
      text: `select count(*)::int as n from ts_metrics where metric_type = 'score' and metric_batch = 'ts_pg' and metric_timestamp = $1`,
      values: [later],
    });
    expect(row?.n).toBe(0);
  });
  // The score worker keeps decoded models between runs: a retrain's new version must replace them.
  it.each([
    ['local://', () => local],
    ['postgres://', () => inPostgres],
  ])('scores with the retrained model on the next run of the same process (model_path %s)', async (_, batchOf) => {
    const batch = batchOf();
    await upsertMetricRows(test.db, 'ts_metrics', series(batch.name, 'retrained', 300));
    const first = new Date(START + 299 * STEP);
    const trainedFirst = await trainBatch(batch, context(first));
    expect((await scoreBatch(batch, context(first))).status).toBe('ok'); // the process now holds this version
    // The history moves to another level, and a retrain fits it: a new version of every model.
    const moved = series(batch.name, 'retrained', 301).map((row) => ({ ...row, metric_value: row.metric_value + 500 }));
    await upsertMetricRows(test.db, 'ts_metrics', moved);
    const later = new Date(START + 300 * STEP);
    const retrained = await trainBatch(batch, context(later));
    expect(Number(retrained.details?.version)).toBeGreaterThan(Number(trainedFirst.details?.version));

    const pick = (result: Awaited<ReturnType<typeof scoreBatch>>): unknown =>
      (result.wouldWrite as MetricRow[] | undefined)?.filter((row) => row.metric_name === 'retrained');
    const warm = pick(await scoreBatch(batch, context(later, true)));
    clearModelCache();
    const cold = pick(await scoreBatch(batch, context(later, true)));
    expect(cold).toHaveLength(1);
    expect(warm).toEqual(cold);
  });
  it('forgets the cached models of a batch that is no longer configured on the next score run', async () => {
    clearModelCache();
    await upsertMetricRows(test.db, 'ts_metrics', series(local.name, 'gone', 300));
    await upsertMetricRows(test.db, 'ts_metrics', series(inPostgres.name, 'kept', 300));
    await trainBatch(local, context(NOW));
    await trainBatch(inPostgres, context(NOW));
    await scoreBatch(local, context(NOW, true));
    const both = modelCacheBytes();
    await scoreBatch(inPostgres, context(NOW, true));
    expect(modelCacheBytes()).toBeGreaterThan(both);
    const withBoth = modelCacheBytes();
    // The local batch's YAML is deleted: the workers' next load has only the other one.
    await scoreBatch(inPostgres, { ...context(NOW, true), batches: [inPostgres] });
    expect(modelCacheBytes()).toBeLessThan(withBoth);
    expect(modelCacheBytes()).toBe(withBoth - both);
  });

  // A train's version is its clock, but `--now` can set a future clock: two trains at the same
  // future time must still give two versions, or the second model is dropped (the row's insert does
  // nothing on conflict) and, under local://, its file overwrites one a worker has already cached.
  it.each([
    ['local://', () => local],
    ['postgres://', () => inPostgres],
  ])('gives a second train at the same future time a newer version (model_path %s)', async (_, batchOf) => {
    const batch = batchOf();
    const future = new Date(Date.UTC(2200, 0, 1));
    const at = (i: number): Date => new Date(future.getTime() - (400 - i) * STEP);
    const rows = (shift: number): MetricRow[] =>
      series(batch.name, 'future', 400).map((row, i) => ({ ...row, metric_timestamp: at(i), metric_value: row.metric_value + shift }));
    await upsertMetricRows(test.db, 'ts_metrics', rows(0));
    const first = await trainBatch(batch, context(future));
    const warmBefore = (await scoreBatch(batch, context(future, true))).wouldWrite as MetricRow[];
    await upsertMetricRows(test.db, 'ts_metrics', rows(500));
    const second = await trainBatch(batch, context(future));
    expect(Number(second.details?.version)).toBeGreaterThan(Number(first.details?.version));

    const pick = (result: Awaited<ReturnType<typeof scoreBatch>>): unknown =>
      (result.wouldWrite as MetricRow[] | undefined)?.filter((row) => row.metric_name === 'future').map((row) => row.metric_value);
    const warm = pick(await scoreBatch(batch, context(future, true)));
    clearModelCache();
    const cold = pick(await scoreBatch(batch, context(future, true)));
    expect(warm).toEqual(cold);
    expect(warmBefore.length).toBeGreaterThan(0);
  });
});
