#!/usr/bin/env node
// Compiles shared/ and services/ to dist/ (one .js per .ts, same tree) and copies the files the
// code reads beside itself (SQL, fonts, dashboard assets, the ingest harnesses), so the bin runs
// plain JavaScript instead of transpiling through tsx on every start. esbuild only strips types
// (the tsconfig's isolatedModules + verbatimModuleSyntax make that safe); `npm run typecheck`
// checks them. Runs in `prepare` (npm ci) and before the tests; well under a second.
import fs from 'node:fs';
import process from 'node:process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIRS = ['shared', 'services'];
const OUT = path.join(ROOT, 'dist');
/** Written last: the bin runs dist/ only when this is newer than every source file. */
export const STAMP = path.join(OUT, '.build-stamp');

/** Test files and fixtures stay out of the build (and out of the staleness check). */
export const isSkipped = (name) => name.endsWith('.test.ts') || name === 'fixtures';

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (isSkipped(entry.name)) {
      continue;
    }
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walk(full);
    } else {
      yield full;
    }
  }
}

/** True when some built file under `dir` changed after `builtAt` (ms): a few ms for the tree. */
function changedSince(dir, builtAt) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (isSkipped(entry.name)) {
      continue;
    }
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() ? changedSince(full, builtAt) : fs.statSync(full).mtimeMs > builtAt) {
      return true;
    }
  }
  return false;
}

/** dist/ exists and no source file changed since it was built (an edit, a checkout). */
export function distIsCurrent() {
  let builtAt;
  try {
    builtAt = fs.statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  return !SOURCE_DIRS.some((dir) => changedSince(path.join(ROOT, dir), builtAt));
}

export async function build() {
  // Loaded here: the bin imports this file for distIsCurrent() and must not pay for esbuild.
  const { transform } = await import('esbuild');
  // The stamp goes first, so a run that dies half-way leaves a build the bin will not use.
  fs.rmSync(STAMP, { force: true });
  fs.rmSync(OUT, { recursive: true, force: true });
  const jobs = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of walk(path.join(ROOT, dir))) {
      const rel = path.relative(ROOT, file);
      const target = path.join(OUT, rel.endsWith('.ts') ? rel.slice(0, -3) + '.js' : rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (!rel.endsWith('.ts')) {
        fs.copyFileSync(file, target);
        continue;
      }
      jobs.push(
        (async () => {
          const source = fs.readFileSync(file, 'utf8');
          const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: rel, sourcemap: 'inline' });
          fs.writeFileSync(target, code);
        })(),
      );
    }
  }
  await Promise.all(jobs);
  // `../../package.json` from dist/services/cli reads the version here; "module" keeps .js as ESM.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(OUT, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true })}\n`);
  fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return jobs.length;
}

// `node scripts/build.mjs [--if-stale]`: the test setup passes --if-stale.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && distIsCurrent()) {
    process.exit(0);
  }
  const started = Date.now();
  const count = await build();
  process.stderr.write(`built ${count} modules into dist/ in ${Date.now() - started} ms\n`);
}
