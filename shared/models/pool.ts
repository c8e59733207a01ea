import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runScoreTask, runTrainTask, type ScoreResult, type ScoreTask, type TrainResult, type TrainTask } from './model-tasks.js';
import { transferablesOf, type WorkerRequest, type WorkerResponse } from './pool-protocol.js';
import { isPackedSeries, packPoints } from './preprocess.js';

/** Below this many metrics, thread start-up and copying cost more than they save. */
export const POOL_MIN_TASKS = 64;
/** Chunks per worker: enough to balance uneven metrics, few enough to keep messages cheap. */
const CHUNKS_PER_WORKER = 8;

export interface ManyOptions {
  /** 'auto' uses the pool from POOL_MIN_TASKS tasks on. @defaultValue 'auto' */
  mode?: 'auto' | 'pool' | 'in-process';
}

/** Trains many metrics, in worker threads when the batch is large. Results are in task order. */
export async function trainMany(tasks: readonly TrainTask[], options: ManyOptions = {}): Promise<TrainResult[]> {
  if (!usePool(tasks.length, options)) {
    return tasks.map(runTrainTask);
  }
  return (await sharedPool().run('train', tasks.map(packTask))) as TrainResult[];
}

/** Scores many metrics, in worker threads when the batch is large. Results are in task order. */
export async function scoreMany(tasks: readonly ScoreTask[], options: ManyOptions = {}): Promise<ScoreResult[]> {
  if (!usePool(tasks.length, options)) {
    return tasks.map(runScoreTask);
  }
  return (await sharedPool().run('score', tasks.map(packTask))) as ScoreResult[];
}

/** Stops the worker threads (on shutdown); the next large batch starts new ones. */
export async function closeModelPool(): Promise<void> {
  const current = pool;
  pool = null;
  await current?.close();
}

function usePool(count: number, options: ManyOptions): boolean {
  const mode = options.mode ?? 'auto';
  return mode === 'pool' || (mode === 'auto' && count >= POOL_MIN_TASKS);
}

/** Series this module packed itself: only those may be transferred (moving a caller's arrays would empty them). */
const ownSeries = new WeakSet<object>();

/** Points as typed arrays: structured clone copies them in one block instead of object by object. */
function packTask<T extends TrainTask | ScoreTask>(task: T): T {
  if (isPackedSeries(task.points)) {
    return task;
  }
  const points = packPoints(task.points);
  ownSeries.add(points);
  return { ...task, points };
}

function ownBuffers(request: WorkerRequest): ArrayBuffer[] {
  return request.tasks.flatMap((task) => (ownSeries.has(task.points) ? transferablesOf(task.points) : []));
}

let pool: WorkerPool | null = null;

function sharedPool(): WorkerPool {
  pool ??= new WorkerPool(availableParallelism());
  return pool;
}

interface Pending {
  resolve: (results: unknown[]) => void;
  reject: (error: Error) => void;
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: WorkerRequest[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;

  constructor(size: number) {
    // From sources (tsx, vitest) the worker needs tsx's loader first; a compiled build runs the .js directly.
    const fromSources = extname(fileURLToPath(import.meta.url)) === '.ts';
    const url = new URL(fromSources ? './model-worker.bootstrap.mjs' : './model-worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url);
      worker.on('message', (response: WorkerResponse) => this.settle(worker, response));
      worker.on('error', (error) => this.fail(worker, error));
      worker.unref();
      this.workers.push(worker);
      this.idle.push(worker);
    }
  }

  async run(kind: 'train' | 'score', tasks: readonly (TrainTask | ScoreTask)[]): Promise<unknown[]> {
    const chunkSize = Math.max(1, Math.ceil(tasks.length / (this.workers.length * CHUNKS_PER_WORKER)));
    const chunks: Promise<unknown[]>[] = [];
    for (let start = 0; start < tasks.length; start += chunkSize) {
      const id = this.nextId++;
      const slice = tasks.slice(start, start + chunkSize);
      const request = { id, kind, tasks: slice } as WorkerRequest;
      chunks.push(new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })));
      this.queue.push(request);
    }
    this.dispatch();
    return (await Promise.all(chunks)).flat();
  }

  async close(): Promise<void> {
    for (const { reject } of this.pending.values()) {
      reject(new Error('model pool closed'));
    }
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const request = this.queue.shift()!;
      this.busy.set(worker, request.id);
      worker.ref(); // keep the process alive while work is out
      worker.postMessage(request, ownBuffers(request));
    }
  }

  private release(worker: Worker): void {
    this.busy.delete(worker);
    worker.unref();
    this.idle.push(worker);
    this.dispatch();
  }

  private settle(worker: Worker, response: WorkerResponse): void {
    const pending = this.pending.get(response.id);
    this.pending.delete(response.id);
    this.release(worker);
    if ('error' in response) {
      pending?.reject(new Error(`model worker failed: ${response.error}`));
    } else {
      pending?.resolve(response.results);
    }
  }

  /** A crashed worker fails its chunk; it is replaced by no one, so the pool shrinks (rare: only on a bug). */
  private fail(worker: Worker, error: Error): void {
    const id = this.busy.get(worker);
    this.busy.delete(worker);
    this.workers.splice(this.workers.indexOf(worker), 1);
    if (id !== undefined) {
      this.pending.get(id)?.reject(error);
      this.pending.delete(id);
    }
    if (this.workers.length === 0) {
      for (const { reject } of this.pending.values()) {
        reject(new Error(`all model workers died: ${error.message}`));
      }
      this.pending.clear();
    }
  }
}
