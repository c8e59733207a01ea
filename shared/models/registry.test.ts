import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from './codec.js';
import { Random } from './random.js';
import { combineScores, fitModel, MODEL_NAMES, scoreModel, validateModelConfig } from './registry.js';
import type { FeatureMatrix } from './types.js';

function randomMatrix(n: number, d: number, seed: number): FeatureMatrix {
  const random = new Random(seed);
  return { n, d, data: Float64Array.from({ length: n * d }, () => random.next()), timestamps: new Float64Array(n) };
}

describe('validateModelConfig', () => {
  it('accepts every model with PyOD defaults and PyOD parameter names', () => {
    for (const name of MODEL_NAMES) {
      expect(validateModelConfig({ model_name: name, model_tag: '', model_params: { contamination: 0.01 } })).toEqual([]);
    }
    expect(validateModelConfig({ model_name: 'KNN', model_tag: 'k', model_params: { n_neighbors: 10, method: 'median' } })).toEqual([]);
    expect(validateModelConfig({ model_name: 'IForest', model_tag: '', model_params: { n_estimators: 50, max_samples: 128, random_state: 1 } })).toEqual([]);
  });

  it('reports every problem at once', () => {
    expect(validateModelConfig({ model_name: 'LOF', model_tag: '', model_params: {} })).toEqual([
      'model_name "LOF" is not one of PCA, KNN, IForest, ECOD, COPOD, MAD, Conformal',
    ]);
    const problems = validateModelConfig({ model_name: 'KNN', model_tag: 3, model_params: { n_neighbors: 0, method: 'max', colour: 'red' } });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/model_tag must be a string/);
    expect(problems.join('\n')).toMatch(/unknown parameter 'colour'/);
    expect(problems.join('\n')).toMatch(/n_neighbors must be an integer >= 1, got 0/);
    expect(problems.join('\n')).toMatch(/method must be one of "largest", "mean", "median", got "max"/);
    expect(validateModelConfig({ model_name: 'Conformal', model_tag: 'c', model_params: { calibration: 'split', predictive_tail: false } })).toEqual([]);
    expect(validateModelConfig({ model_name: 'Conformal', model_tag: 'c', model_params: { calibration: 'forward', predictive_tail: 'yes' } })).toEqual([
      'Conformal: calibration must be one of "pooled", "split", "symmetric", got "forward"',
      'Conformal: predictive_tail must be true or false, got "yes"',
    ]);
    expect(validateModelConfig('PCA')).toHaveLength(1);
    expect(validateModelConfig({ model_name: 'PCA', model_params: { contamination: 2 } })).toEqual([
      'PCA: contamination must be a number in (0, 0.5], got 2',
    ]);
  });
});

describe('fitModel and scoreModel', () => {
  it('rejects unknown models and bad params with a clear error', () => {
    const X = randomMatrix(20, 2, 1);
    expect(() => fitModel({ model_name: 'LOF', model_tag: '', model_params: {} }, X)).toThrow(/unknown model 'LOF'/);
    expect(() => fitModel({ model_name: 'KNN', model_tag: '', model_params: { n_neighbors: 'five' } }, X)).toThrow(/n_neighbors/);
  });

  it('scales raw scores by the training min and max, clipped to [0, 1]', () => {
    const model = fitModel({ model_name: 'MAD', model_tag: '', model_params: {} }, {
      n: 5,
      d: 1,
      data: Float64Array.from([1, 2, 3, 4, 5]),
      timestamps: new Float64Array(5),
    });
    // median 3, MAD 1: training scores 0 .. 1.349
    const scores = scoreModel(model, { n: 3, d: 1, data: Float64Array.from([3, 4, 100]), timestamps: new Float64Array(3) });
    expect(Array.from(scores)).toEqual([0, 0.5, 1]);
  });

  it('rejects rows with a different feature count', () => {
    const model = fitModel({ model_name: 'PCA', model_tag: '', model_params: {} }, randomMatrix(30, 3, 1));
    expect(() => scoreModel(model, randomMatrix(2, 4, 1))).toThrow(/trained on 3 features, got 4/);
  });
});

describe('combineScores', () => {
  const a = Float64Array.from([0.2, 0.9]);
  const b = Float64Array.from([0.4, 0.1]);
  it('combines per row by mean, min or max', () => {
    expect(Array.from(combineScores([a, b], 'mean'))).toEqual([0.30000000000000004, 0.5]);
    expect(Array.from(combineScores([a, b], 'min'))).toEqual([0.2, 0.1]);
    expect(Array.from(combineScores([a, b], 'max'))).toEqual([0.4, 0.9]);
    expect(Array.from(combineScores([a], 'mean'))).toEqual([0.2, 0.9]);
  });
  it('refuses no models or arrays of different lengths', () => {
    expect(() => combineScores([], 'mean')).toThrow(/at least one/);
    expect(() => combineScores([a, Float64Array.from([1])], 'max')).toThrow(/differ in length/);
  });
});

describe('encodeModel / decodeModel', () => {
  const X = randomMatrix(300, 6, 9);
  const probe = randomMatrix(25, 6, 10);

  it.each(MODEL_NAMES)('round-trips %s with identical scores', (name) => {
    const model = fitModel({ model_name: name, model_tag: 'tag', model_params: { contamination: 0.01 } }, X);
    const bytes = encodeModel(model);
    // A Buffer at an odd offset inside a larger allocation, as pg returns bytea.
    const embedded = Buffer.concat([Buffer.from([1, 2, 3]), bytes]).subarray(3);
    const decoded = decodeModel(embedded);
    expect(decoded.modelName).toBe(name);
    expect(decoded.modelTag).toBe('tag');
    expect(decoded.params).toEqual({ contamination: 0.01 });
    expect([decoded.d, decoded.trainMin, decoded.trainMax]).toEqual([model.d, model.trainMin, model.trainMax]);
    expect(scoreModel(decoded, probe)).toEqual(scoreModel(model, probe));
  });

  it('keeps models compact', () => {
    const pca = encodeModel(fitModel({ model_name: 'PCA', model_tag: '', model_params: {} }, X));
    expect(pca.length).toBeLessThan(1500);
  });

  it('rejects garbage with a clear error', () => {
    const good = encodeModel(fitModel({ model_name: 'KNN', model_tag: '', model_params: {} }, X));
    expect(() => decodeModel(Buffer.from('not a model'))).toThrow(/not a valid anomstack model: missing AMDL header/);
    expect(() => decodeModel(good.subarray(0, good.length - 8))).toThrow(/truncated/);
    const wrongVersion = Buffer.from(good);
    wrongVersion.writeUInt8(9, 4);
    expect(() => decodeModel(wrongVersion)).toThrow(/version 9 is not supported/);
    const corrupt = Buffer.from(good);
    corrupt.write('}', 12);
    expect(() => decodeModel(corrupt)).toThrow(/corrupt JSON header/);
  });
});
