import { afterAll, describe, expect, it } from 'vitest';
import { closeModelPool, scoreMany, trainMany } from './pool.js';
import { DEFAULT_PREPROCESS, type ModelConfig } from './types.js';
import type { TrainTask } from './model-tasks.js';

const STEP = 300_000;
const configs: ModelConfig[] = [
  { model_name: 'PCA', model_tag: '', model_params: {} },
  { model_name: 'KNN', model_tag: '', model_params: { n_neighbors: 10 } },
  { model_name: 'IForest', model_tag: '', model_params: { n_estimators: 20 } },
];

function tasks(count: number): TrainTask[] {
  return Array.from({ length: count }, (_, k) => ({
    key: `m${k}`,
    points: Array.from({ length: 200 }, (_, i) => ({ t: i * STEP, v: 50 * Math.sin(i / (5 + k)) + ((i * 31 + k) % 17) })),
    preprocess: DEFAULT_PREPROCESS,
    configs,
  }));
}

describe('trainMany / scoreMany', () => {
  afterAll(closeModelPool);

  it('gives the same models and scores in worker threads as in process', async () => {
    const batch = tasks(12);
    const inProcess = await trainMany(batch, { mode: 'in-process' });
    const pooled = await trainMany(batch, { mode: 'pool' });
    expect(pooled.map((r) => r.key)).toEqual(batch.map((t) => t.key));
    expect(pooled).toEqual(inProcess);

    const scoreTasks = batch.map((t, i) => ({ ...t, models: pooled[i]!.models, since: 150 * STEP }));
    const scoredHere = await scoreMany(scoreTasks, { mode: 'in-process' });
    const scoredThere = await scoreMany(scoreTasks, { mode: 'pool' });
    expect(scoredThere).toEqual(scoredHere);
    expect(scoredHere[0]!.timestamps.length).toBe(50);
    expect(scoredHere[0]!.scores).toHaveLength(3);
  });

  it('reports a model that cannot be fitted without failing the others', async () => {
    const [result] = await trainMany([{ ...tasks(1)[0]!, trainMaxN: 8 }]);
    expect(result!.models.map((m) => m.modelName)).toEqual(['PCA', 'IForest']);
    expect(result!.errors).toEqual([expect.stringMatching(/^KNN: n_neighbors=10 needs more than 10 training rows, got 8/) as unknown]);
  });

  it('leaves out a model that cannot score, and combines nothing when none can', async () => {
    const [trained] = await trainMany(tasks(1));
    const task = { ...tasks(1)[0]!, since: 190 * STEP };
    const wrongShape = { ...trained!.models[0]!, d: 3 };
    const [partial] = await scoreMany([{ ...task, models: [wrongShape, trained!.models[1]!] }]);
    expect(partial!.scores[0]).toBeNull();
    expect(Array.from(partial!.combined)).toEqual(Array.from(partial!.scores[1]!));
    expect(partial!.errors).toEqual(['PCA: model was trained on 3 features, got 6']);
    const [none] = await scoreMany([{ ...task, models: [wrongShape] }]);
    expect(none!.combined).toHaveLength(0);
  });
});
