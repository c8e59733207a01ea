import { closeModelPool } from '../shared/models/pool.js';
import { closeIngestRunners } from './ingest/src/ingest-fn/index.js';

/** Releases what jobs keep warm between runs (model threads, Python fork servers). */
export async function closeJobResources(): Promise<void> {
  await Promise.all([closeModelPool(), closeIngestRunners()]);
}
