import fs from 'node:fs/promises';
import path from 'node:path';
import type { Db } from './db/db.js';
import { decodeModel, encodeModel, type FittedModel } from './models/index.js';

/** Versions kept per (batch, metric, tag): the current one and the one before it. */
const KEEP_VERSIONS = 2;
/** Model files read or written at once: enough to hide the disk's latency, few enough to hold little memory. */
const FILE_CONCURRENCY = 32;
/** Models per insert: one statement per batch of models, bounded so a postgres:// store's bytes stay a modest message. */
const SAVE_CHUNK = 256;
/**
 * Decoded models a process keeps between runs, counted by their encoded size (about what they
 * take in memory). Past it, further models are read on every run rather than evicting others:
 * a cycle over more models than fit would evict each one just before it is needed again.
 */
export const MODEL_CACHE_MAX_BYTES = 128 * 1024 * 1024;

export interface StoredModel {
  metric: string;
  tag: string;
  version: number;
  nTrain: number;
  trainedAt: Date;
  model: FittedModel;
}

export interface ModelToSave {
  metric: string;
  model: FittedModel;
  nTrain: number;
}

interface VersionRow {
  metric_name: string;
  model_tag: string;
  version: number;
  n_train: number;
  trained_at: Date;
}

interface CachedModel {
  version: number;
  bytes: number;
  model: FittedModel;
}

/**
 * Current models of this process, by (model path, batch) and then (metric, tag): a score run
 * decodes only the versions a train wrote since the last run. Versions are never rewritten (the
 * row's insert does nothing on conflict, a file is written once under its version), so a version
 * read is a version known: no file is even looked at again (a stat per model per run cost more
 * than the scoring of a steady run).
 */
const caches = new Map<string, Map<string, CachedModel>>();
let cachedBytes = 0;

/**
 * Forgets the models of batches not in `configured` (the batches a worker has loaded): a batch
 * whose YAML was deleted would otherwise hold its share of MODEL_CACHE_MAX_BYTES until a restart.
 */
export function forgetUnconfiguredBatches(configured: readonly string[]): void {
  const names = new Set(configured);
  for (const [key, cache] of caches) {
    if (!names.has(key.slice(key.indexOf('\u0000') + 1))) {
      for (const entry of cache.values()) {
        cachedBytes -= entry.bytes;
      }
      caches.delete(key);
    }
  }
}

/** Bytes of the models this process keeps (tests). */
export function modelCacheBytes(): number {
  return cachedBytes;
}

/** Forgets every cached model (tests that compare with a cold read). */
export function clearModelCache(): void {
  caches.clear();
  cachedBytes = 0;
}

/**
 * Models live where `model_path` says: `local://DIR` (a file per version, written to a temp
 * name, fsynced and renamed) or `postgres://` (the bytes in anomstack_models). Either way the
 * anomstack_models row is written last and is what makes a version current, so a crash
 * mid-write leaves the previous version in place.
 */
export function createModelStore(db: Db, modelPath: string) {
  const localDir = modelPath.startsWith('local://') ? path.resolve(modelPath.slice('local://'.length)) : null;
  const fileOf = (batch: string, metric: string, tag: string, version: number): string => {
    if (!localDir) {
      throw new Error('no local model directory');
    }
    return path.join(localDir, safeName(batch), `${safeName(metric)}_${safeName(tag)}.v${version}.model`);
  };
  const cacheOf = (batch: string): Map<string, CachedModel> => {
    const key = `${modelPath}\u0000${batch}`;
    let cache = caches.get(key);
    if (!cache) {
      cache = new Map();
      caches.set(key, cache);
    }
    return cache;
  };
  const keyOf = (row: Pick<VersionRow, 'metric_name' | 'model_tag'>): string => `${row.metric_name}\u0000${row.model_tag}`;

  const saveChunk = async (batch: string, models: readonly ModelToSave[], version: number): Promise<void> => {
    const encoded = models.map((m) => encodeModel(m.model));
    if (localDir) {
      await fs.mkdir(path.join(localDir, safeName(batch)), { recursive: true });
      await eachLimited(models, FILE_CONCURRENCY, (m, i) => writeDurably(fileOf(batch, m.metric, m.model.modelTag, version), encoded[i]!));
    }
    const metrics = models.map((m) => m.metric);
    const tags = models.map((m) => m.model.modelTag);
    await db.run('insert_models', [
      batch,
      metrics,
      tags,
      models.map(() => version),
      models.map((m) => m.model.modelName),
      models.map((m) => m.nTrain),
      localDir ? models.map(() => null) : encoded,
    ]);
    const dropped = await db.run<{ metric_name: string; model_tag: string; version: number }>('delete_old_models_many', [batch, metrics, tags, KEEP_VERSIONS]);
    if (localDir) {
      await eachLimited(dropped, FILE_CONCURRENCY, (d) => fs.rm(fileOf(batch, d.metric_name, d.model_tag, Number(d.version)), { force: true }));
    }
  };

  return {
    /**
     * The version a new train of `batch` writes: `candidate` (its clock), or one above the batch's
     * newest version when that is not below it. Versions are never rewritten, so a second train at
     * the same (future) clock would otherwise be dropped, or overwrite a file a worker has cached.
     */
    async nextVersion(batch: string, candidate: number): Promise<number> {
      const [row] = await db.run<{ version: string | number }>('select_max_model_version', [batch]);
      return Math.max(candidate, Number(row?.version ?? 0) + 1);
    },

    /**
     * Makes `version` of every given model current, SAVE_CHUNK models at a time: their files
     * first (if local, in parallel), then their rows in one statement, then one statement drops
     * the versions past KEEP_VERSIONS.
     */
    async saveMany(batch: string, all: readonly ModelToSave[], version: number): Promise<void> {
      for (let at = 0; at < all.length; at += SAVE_CHUNK) {
        await saveChunk(batch, all.slice(at, at + SAVE_CHUNK), version);
      }
    },

    /**
     * The current model of every (metric, tag) of a batch; unreadable ones are reported, not
     * thrown. Only versions this process has not decoded yet are read.
     */
    async loadCurrent(batch: string): Promise<{ models: StoredModel[]; errors: { metric: string; tag: string; reason: string }[] }> {
      const rows = await db.run<VersionRow>('select_current_model_versions', [batch]);
      const cache = cacheOf(batch);
      // Models no longer current (a metric gone, a tag dropped) leave the cache.
      const current = new Set(rows.map(keyOf));
      for (const [key, entry] of cache) {
        if (!current.has(key)) {
          cache.delete(key);
          cachedBytes -= entry.bytes;
        }
      }
      const models: (StoredModel | null)[] = rows.map(() => null);
      const errors: { metric: string; tag: string; reason: string }[] = [];
      const stored = (row: VersionRow, model: FittedModel): StoredModel => ({
        metric: row.metric_name,
        tag: row.model_tag,
        version: Number(row.version),
        nTrain: row.n_train,
        trainedAt: row.trained_at,
        model,
      });
      const remember = (row: VersionRow, bytes: Buffer): FittedModel => {
        const model = decodeModel(bytes);
        const key = keyOf(row);
        cachedBytes -= cache.get(key)?.bytes ?? 0;
        cache.delete(key);
        if (cachedBytes + bytes.length <= MODEL_CACHE_MAX_BYTES) {
          cache.set(key, { version: Number(row.version), bytes: bytes.length, model });
          cachedBytes += bytes.length;
        }
        return model;
      };
      const fail = (row: VersionRow, error: unknown): void => {
        errors.push({ metric: row.metric_name, tag: row.model_tag, reason: (error as Error).message });
      };

      if (localDir) {
        await eachLimited(rows, FILE_CONCURRENCY, async (row, i) => {
          const file = fileOf(batch, row.metric_name, row.model_tag, Number(row.version));
          try {
            const hit = cache.get(keyOf(row));
            const model = hit?.version === Number(row.version) ? hit.model : remember(row, await fs.readFile(file));
            models[i] = stored(row, model);
          } catch (error) {
            fail(row, error);
          }
        });
      } else {
        const missing: number[] = [];
        rows.forEach((row, i) => {
          const hit = cache.get(keyOf(row));
          if (hit?.version === Number(row.version)) {
            models[i] = stored(row, hit.model);
          } else {
            missing.push(i);
          }
        });
        if (missing.length > 0) {
          const fetched = await db.run<{ metric_name: string; model_tag: string; version: number; model: Buffer | null }>('select_model_bytes', [
            batch,
            missing.map((i) => rows[i]!.metric_name),
            missing.map((i) => rows[i]!.model_tag),
            missing.map((i) => rows[i]!.version),
          ]);
          const bytesOf = new Map(fetched.map((f) => [keyOf(f), f.model]));
          for (const i of missing) {
            const row = rows[i]!;
            try {
              const bytes = bytesOf.get(keyOf(row));
              if (!bytes) {
                throw new Error('the model row holds no bytes (was it written under a local:// model_path?)');
              }
              models[i] = stored(row, remember(row, bytes));
            } catch (error) {
              fail(row, error);
            }
          }
        }
      }
      // Errors in row order, as a serial read would report them.
      const order = new Map(rows.map((row, i) => [keyOf(row), i]));
      const at = (e: { metric: string; tag: string }): number => order.get(keyOf({ metric_name: e.metric, model_tag: e.tag })) ?? 0;
      errors.sort((a, b) => at(a) - at(b));
      return { models: models.filter((m): m is StoredModel => m !== null), errors };
    },
  };
}

export type ModelStore = ReturnType<typeof createModelStore>;

/** Writes a temp file, fsyncs it and renames it over `file`: a reader sees all of it or none. */
async function writeDurably(file: string, bytes: Buffer): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
}

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first failure after all settle. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== null) {
    throw failure;
  }
}

/** Metric names can hold any character; file names cannot. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
