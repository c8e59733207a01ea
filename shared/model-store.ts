import fs from 'node:fs/promises';
import path from 'node:path';
import type { Db } from './db/db.js';
import { decodeModel, encodeModel, type FittedModel } from './models/index.js';

/** Versions kept per (batch, metric, tag): the current one and the one before it. */
const KEEP_VERSIONS = 2;

export interface StoredModel {
  metric: string;
  tag: string;
  version: number;
  nTrain: number;
  trainedAt: Date;
  model: FittedModel;
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

  return {
    async save(batch: string, metric: string, model: FittedModel, nTrain: number, version: number): Promise<void> {
      const bytes = encodeModel(model);
      if (localDir) {
        const file = fileOf(batch, metric, model.modelTag, version);
        await fs.mkdir(path.dirname(file), { recursive: true });
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
      await db.run('insert_model', [batch, metric, model.modelTag, version, model.modelName, nTrain, localDir ? null : bytes]);
      const dropped = await db.run<{ version: number }>('delete_old_models', [batch, metric, model.modelTag, KEEP_VERSIONS]);
      if (localDir) {
        await Promise.all(dropped.map((d) => fs.rm(fileOf(batch, metric, model.modelTag, Number(d.version)), { force: true })));
      }
    },

    /** The current model of every (metric, tag) of a batch; unreadable ones are reported, not thrown. */
    async loadCurrent(batch: string): Promise<{ models: StoredModel[]; errors: { metric: string; tag: string; reason: string }[] }> {
      const rows = await db.run<{
        metric_name: string;
        model_tag: string;
        version: number;
        n_train: number;
        trained_at: Date;
        model: Buffer | null;
      }>('select_current_models', [batch]);
      const models: StoredModel[] = [];
      const errors: { metric: string; tag: string; reason: string }[] = [];
      for (const row of rows) {
        try {
          const bytes = row.model ?? (await fs.readFile(fileOf(batch, row.metric_name, row.model_tag, Number(row.version))));
          models.push({
            metric: row.metric_name,
            tag: row.model_tag,
            version: Number(row.version),
            nTrain: row.n_train,
            trainedAt: row.trained_at,
            model: decodeModel(bytes),
          });
        } catch (error) {
          errors.push({ metric: row.metric_name, tag: row.model_tag, reason: (error as Error).message });
        }
      }
      return { models, errors };
    },
  };
}

export type ModelStore = ReturnType<typeof createModelStore>;

/** Metric names can hold any character; file names cannot. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
