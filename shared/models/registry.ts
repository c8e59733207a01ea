import { conformalDetector } from './conformal.js';
import type { Detector, ExpectedBand } from './detector.js';
import { copodDetector, ecodDetector } from './ecod.js';
import { iforestDetector } from './iforest.js';
import { knnDetector } from './knn.js';
import { madDetector } from './mad.js';
import { ParamReader } from './params.js';
import { pcaDetector } from './pca.js';
import { DEFAULT_PREPROCESS, type CombineMethod, type FeatureMatrix, type FittedModel, type ModelConfig, type PreprocessParams } from './types.js';

/** PyOD class names we implement, spelled as in `model_configs[].model_name`. */
export const MODEL_NAMES = ['PCA', 'KNN', 'IForest', 'ECOD', 'COPOD', 'MAD', 'Conformal'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/**
 * Each detector has its own params/state types; the registry only passes them through. A `calibrated`
 * detector's decision scores are already 0-1 probabilities (Conformal) and skip the min-max scaling.
 */
type AnyDetector = Detector<unknown, unknown> & { calibrated?: boolean };

const DETECTORS: Record<ModelName, AnyDetector> = {
  PCA: pcaDetector,
  KNN: knnDetector,
  IForest: iforestDetector,
  ECOD: ecodDetector,
  COPOD: copodDetector,
  MAD: madDetector,
  Conformal: conformalDetector,
};

function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** Every problem with one model config, as sentences for config validation; [] when valid. */
export function validateModelConfig(cfg: unknown): string[] {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    return ['model config must be a mapping with model_name, model_tag and model_params'];
  }
  const { model_name: name, model_tag: tag, model_params: params } = cfg as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof name !== 'string' || !isModelName(name)) {
    problems.push(`model_name ${JSON.stringify(name)} is not one of ${MODEL_NAMES.join(', ')}`);
  }
  if (tag !== undefined && typeof tag !== 'string') {
    problems.push(`model_tag must be a string, got ${JSON.stringify(tag)}`);
  }
  if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) {
    problems.push(`model_params must be a mapping, got ${JSON.stringify(params)}`);
  } else if (typeof name === 'string' && isModelName(name)) {
    const reader = new ParamReader(name, (params ?? {}) as Record<string, unknown>);
    DETECTORS[name].readParams(reader);
    problems.push(...reader.problems);
  }
  return problems;
}

/**
 * The preprocess a batch gets for the keys it does not set: the models' own when every model of
 * the batch asks for the same (Conformal: raw windows), else the original's DEFAULT_PREPROCESS, so a
 * batch naming PCA, KNN, ... keeps today's features and scores.
 */
export function defaultPreprocessFor(configs: readonly { model_name: string }[]): PreprocessParams {
  const wanted = configs.map((c) => JSON.stringify((isModelName(c.model_name) ? DETECTORS[c.model_name].preprocess : undefined) ?? {}));
  const same = wanted.length > 0 && wanted.every((w) => w === wanted[0]);
  return { ...DEFAULT_PREPROCESS, ...(same ? (JSON.parse(wanted[0]!) as Partial<PreprocessParams>) : {}) };
}

/** Every named model gives calibrated 0-1 scores (tail probabilities), so the stored score keeps full resolution. */
export function allCalibrated(modelNames: readonly string[]): boolean {
  return modelNames.length > 0 && modelNames.every((name) => isModelName(name) && DETECTORS[name].calibrated === true);
}

function detectorFor(name: string): AnyDetector {
  if (!isModelName(name)) {
    throw new Error(`unknown model '${name}' (known: ${MODEL_NAMES.join(', ')})`);
  }
  return DETECTORS[name];
}

function readParams(detector: AnyDetector, params: Record<string, unknown>): unknown {
  const reader = new ParamReader(detector.name, params);
  const parsed: unknown = detector.readParams(reader);
  reader.assertValid();
  return parsed;
}

/** Fits one model and keeps the min/max of its raw training scores for the 0-1 scaling. Throws on bad params or too few rows. */
export function fitModel(cfg: ModelConfig, X: FeatureMatrix): FittedModel {
  const detector = detectorFor(cfg.model_name);
  const params = cfg.model_params ?? {};
  const { state, trainScores } = detector.fit(X, readParams(detector, params));
  let trainMin = Infinity;
  let trainMax = -Infinity;
  for (const s of trainScores) {
    if (s < trainMin) {
      trainMin = s;
    }
    if (s > trainMax) {
      trainMax = s;
    }
  }
  return { modelName: cfg.model_name, modelTag: cfg.model_tag, params, d: X.d, trainMin, trainMax, state };
}

/** The rows have the model's width, or more for a detector that reads a row's first columns by position (readsRowPrefix). */
function rowsFit(detector: AnyDetector, model: FittedModel, X: FeatureMatrix): boolean {
  return X.d === model.d || (detector.readsRowPrefix === true && X.d > model.d);
}

/** Raw decision scores of new rows (higher = more abnormal). */
export function decisionScores(model: FittedModel, X: FeatureMatrix): Float64Array {
  const detector = detectorFor(model.modelName);
  if (!rowsFit(detector, model, X)) {
    throw new Error(`${model.modelName}: model was trained on ${model.d} features, got ${X.d}`);
  }
  return detector.decision(model.state, X, readParams(detector, model.params));
}

/** PyOD's predict_proba(method='linear')[:, 1]: min-max scaled by the training scores, clipped to [0, 1]. */
export function scoreModel(model: FittedModel, X: FeatureMatrix): Float64Array {
  const scores = decisionScores(model, X);
  if (detectorFor(model.modelName).calibrated === true) {
    return scores;
  }
  const range = model.trainMax - model.trainMin;
  // In place (decision returns a new array), in a plain loop: TypedArray.map calls back per element and copies.
  for (let i = 0; i < scores.length; i++) {
    scores[i] = range > 0 ? Math.min(1, Math.max(0, (scores[i]! - model.trainMin) / range)) : 0;
  }
  return scores;
}

/** The model's expected range of each row's newest value (value units), or null when the model gives none. */
export function expectedBand(model: FittedModel, X: FeatureMatrix): ExpectedBand | null {
  const detector = detectorFor(model.modelName);
  if (detector.expected === undefined || !rowsFit(detector, model, X)) {
    return null;
  }
  return detector.expected(model.state, X, readParams(detector, model.params));
}

/** Per row, which of the model's own detectors gave the score (Conformal: window, jump, flatline), or null when the model has none. */
export function firedDetectors(model: FittedModel, X: FeatureMatrix): string[] | null {
  const detector = detectorFor(model.modelName);
  if (detector.fired === undefined || !rowsFit(detector, model, X)) {
    return null;
  }
  return detector.fired(model.state, X, readParams(detector, model.params));
}

/** Combines per-model 0-1 scores row by row. */
export function combineScores(perModel: readonly Float64Array[], method: CombineMethod): Float64Array {
  const first = perModel[0];
  if (first === undefined) {
    throw new Error('combineScores needs at least one model');
  }
  const out = Float64Array.from(first);
  for (const scores of perModel.slice(1)) {
    if (scores.length !== out.length) {
      throw new Error(`combineScores: score arrays differ in length (${out.length} vs ${scores.length})`);
    }
    for (let i = 0; i < out.length; i++) {
      const s = scores[i]!;
      out[i] = method === 'mean' ? out[i]! + s : method === 'min' ? Math.min(out[i]!, s) : Math.max(out[i]!, s);
    }
  }
  if (method === 'mean') {
    for (let i = 0; i < out.length; i++) {
      out[i]! /= perModel.length;
    }
  }
  return out;
}
