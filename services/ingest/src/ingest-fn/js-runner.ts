import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { childEnv, runChild } from './child-run.js';
import type { IngestFnRunOptions, IngestFnSpec } from './types.js';

const HARNESS = fileURLToPath(new URL('./js-harness.mjs', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Runs a TypeScript or JavaScript `ingest(params)` in a child Node process, with
 * `--max-old-space-size` as the memory limit. Source without a file is written to a temporary
 * file, removed afterwards.
 */
export async function runJsIngestFn(spec: IngestFnSpec, opts: IngestFnRunOptions): Promise<Record<string, unknown>[]> {
  const typescript = spec.language === 'typescript';
  let path = spec.path;
  let tempDir: string | undefined;
  if (path === undefined) {
    tempDir = await mkdtemp(join(tmpdir(), 'anomstack-ingest-'));
    path = join(tempDir, `ingest_fn${typescript ? '.mts' : '.mjs'}`);
    await writeFile(path, spec.source);
  }
  const env = childEnv(opts.env);
  delete env.NODE_OPTIONS; // the runner chooses the flags; an inherited loader would change them
  try {
    return await runChild(
      {
        command: process.execPath,
        args: [
          `--max-old-space-size=${Math.max(16, Math.floor(spec.memoryMb))}`,
          ...(typescript || path.endsWith('.ts') || path.endsWith('.mts') ? ['--import', TSX_LOADER] : []),
          HARNESS,
        ],
        env,
        stdin: JSON.stringify({ path, params: spec.params }),
        describeMissing: (error) => `node (${process.execPath}) cannot be started: ${error.code ?? error.message}`,
      },
      spec,
      opts,
    );
  } finally {
    if (tempDir !== undefined) {
      await rm(tempDir, { recursive: true, force: true });
    }
  }
}
