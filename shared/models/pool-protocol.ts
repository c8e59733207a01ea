import type { ScoreResult, ScoreTask, TrainResult, TrainTask } from './model-tasks.js';

export type WorkerRequest = { id: number; kind: 'train'; tasks: TrainTask[] } | { id: number; kind: 'score'; tasks: ScoreTask[] };

export type WorkerResponse = { id: number; results: TrainResult[] | ScoreResult[] } | { id: number; error: string };

/** Every distinct ArrayBuffer under `value`, so postMessage moves typed arrays instead of copying them. */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) {
        buffers.add(v.buffer);
      }
    } else if (Array.isArray(v)) {
      v.forEach(visit);
    } else if (typeof v === 'object' && v !== null) {
      Object.values(v).forEach(visit);
    }
  };
  visit(value);
  return [...buffers];
}
