import { describe, expect, it } from 'vitest';
import { earlyRetrainDue, earlyRetrainLimit } from './early-retrain.js';

const MIN = 60_000;
/** Timestamps of n points every 5 minutes, the last at `last`. */
const window = (n: number, last: number): number[] => Array.from({ length: n }, (_, i) => last - (n - 1 - i) * 5 * MIN);

describe('early retrain of short histories', () => {
  it('asks for a retrain once the points since the fit reach half the rows it was fitted on', () => {
    const trainedAt = 0;
    // 16 rows: due at the 8th new point, counted in the score window.
    expect(earlyRetrainDue(16, trainedAt, window(30, 7 * 5 * MIN), 500)).toBe(false);
    expect(earlyRetrainDue(16, trainedAt, window(30, 8 * 5 * MIN), 500)).toBe(true);
    // 100 rows: due at the 50th; the window (30 points) is all newer, so the rest is counted at its spacing.
    expect(earlyRetrainDue(100, trainedAt, window(30, 49 * 5 * MIN), 500)).toBe(false);
    expect(earlyRetrainDue(100, trainedAt, window(30, 50 * 5 * MIN), 500)).toBe(true);
    // An odd count rounds up: 33 rows, due at the 17th.
    expect(earlyRetrainDue(33, trainedAt, window(30, 16 * 5 * MIN), 500)).toBe(false);
    expect(earlyRetrainDue(33, trainedAt, window(30, 17 * 5 * MIN), 500)).toBe(true);
  });

  it('stops once the model has train_early_retrain_n rows, and is off for the original models', () => {
    expect(earlyRetrainDue(500, 0, window(30, 10_000 * 5 * MIN), 500)).toBe(false);
    expect(earlyRetrainDue(16, 0, window(30, 10_000 * 5 * MIN), 0)).toBe(false);
    const configs = (...names: string[]) => names.map((model_name) => ({ model_name }));
    expect(earlyRetrainLimit({ train_early_retrain_n: 500, train_max_n: 2500, model_configs: configs('Conformal') })).toBe(500);
    // A capped training window never reaches 500 rows: the limit stops at half of it.
    expect(earlyRetrainLimit({ train_early_retrain_n: 500, train_max_n: 300, model_configs: configs('Conformal') })).toBe(150);
    expect(earlyRetrainLimit({ train_early_retrain_n: 500, train_max_n: 2500, model_configs: configs('PCA', 'KNN') })).toBe(0);
  });
});
