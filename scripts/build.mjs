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
    // Not path.join: in a cold process it cost about 0.1 ms a call, most of this check's time.
    const full = `${dir}${path.sep}${entry.name}`;
    if (entry.isDirectory() ? changedSince(full, builtAt) : fs.statSync(full).mtimeMs > builtAt) {
      return true;
    }
  }
  return false;
}

/**
 * Files besides the sources that change what a build holds: this script, and the lockfile (the
 * versions of the packages bundled in; `npm install` and a checkout both rewrite it).
 */
const BUILD_INPUTS = [fileURLToPath(import.meta.url), path.join(ROOT, 'package-lock.json')];

/** dist/ exists and no source file or build input changed since it was built (an edit, a checkout, an install). */
export function distIsCurrent() {
  let builtAt;
  try {
    builtAt = fs.statSync(STAMP).mtimeMs;
  } catch {
    return false;
  }
  const inputChanged = BUILD_INPUTS.some((file) => (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) > builtAt);
  return !inputChanged && !SOURCE_DIRS.some((dir) => changedSince(path.join(ROOT, dir), builtAt));
}

/**
 * The modules loaded by path at run time, each an entry of the bundle at its own place in dist/:
 * the CLI, every job core of the registry (services/cores.ts imports `file#export` under
 * services/) and the model worker (a thread). Everything else is reached by imports.
 */
function entryPoints(sources) {
  const wanted = new Set(['services/cli/main.ts', 'shared/models/model-worker.ts']);
  const jobs = path.join(ROOT, 'shared/jobs.ts');
  if (fs.existsSync(jobs)) {
    for (const match of fs.readFileSync(jobs, 'utf8').matchAll(/core: '([^'#]+)\.js#/g)) {
      wanted.add(`services/${match[1]}.ts`);
    }
  }
  return sources.filter((rel) => wanted.has(rel));
}

/**
 * Packages bundled in (pure JavaScript, read on every start; zod tree-shaken to what the schemas
 * use). Every other package stays in node_modules: native ones, ones that read files beside
 * themselves (bullmq's Lua scripts, pino's transports) and ones loaded only by some jobs.
 */
const BUNDLED = new Set(['zod', 'commander', 'js-yaml', 'mustache']);

/** `import.meta.url` of a bundled module, replaced per output file by the path from it to dist/. */
const ROOT_MARK = '__ANOMSTACK_DIST_ROOT__/';

const plugin = {
  name: 'anomstack',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      return BUNDLED.has(name) && !args.path.startsWith('node:') ? undefined : { path: args.path, external: true };
    });
    // Each module keeps its own URL, as if it were dist/<its path>.js: the SQL, fonts, harnesses
    // and workers it finds beside itself are copied there, and cores.ts finds the job entries.
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = path.relative(ROOT, args.path).split(path.sep).join('/');
      if (rel.startsWith('..') || rel.startsWith('node_modules/')) {
        return undefined;
      }
      const own = JSON.stringify(`${ROOT_MARK}${rel.slice(0, -3)}.js`);
      const source = fs.readFileSync(args.path, 'utf8').replace(/\bimport\.meta\.url\b/g, `new URL(${own}, import.meta.url).href`);
      return { contents: source, loader: 'ts', resolveDir: path.dirname(args.path) };
    });
  },
};

/**
 * Bundles shared/ and services/ into dist/ (the entries at their source paths as .js, the code
 * they share in dist/chunks/) and copies the files the code reads beside itself. One file per
 * command instead of a few hundred modules resolved on every start (zod alone was 99 files).
 */
export async function build() {
  // Loaded here: the bin imports this file for distIsCurrent() and must not pay for esbuild.
  const esbuild = await import('esbuild');
  // The stamp goes first, so a run that dies half-way leaves a build the bin will not use.
  fs.rmSync(STAMP, { force: true });
  fs.rmSync(OUT, { recursive: true, force: true });
  const sources = [];
  for (const dir of SOURCE_DIRS) {
    for (const file of walk(path.join(ROOT, dir))) {
      const rel = path.relative(ROOT, file).split(path.sep).join('/');
      if (rel.endsWith('.ts')) {
        sources.push(rel);
        continue;
      }
      const target = path.join(OUT, rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(file, target);
    }
  }
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: entryPoints(sources),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outbase: ROOT,
    outdir: OUT,
    entryNames: '[dir]/[name]',
    chunkNames: 'chunks/[name]-[hash]',
    // Linked maps: no cost unless asked for (NODE_OPTIONS=--enable-source-maps gives source lines).
    sourcemap: true,
    metafile: true,
    write: false,
    logLevel: 'warning',
    // commander is CommonJS: its require() of Node's own modules needs a require in ESM.
    banner: { js: "import { createRequire as __anomstackCreateRequire } from 'node:module';\nconst require = __anomstackCreateRequire(import.meta.url);" },
    plugins: [plugin],
  });
  for (const file of result.outputFiles) {
    let text = file.text;
    if (file.path.endsWith('.js')) {
      const up = path.relative(path.dirname(file.path), OUT).split(path.sep).join('/');
      text = text.replaceAll(ROOT_MARK, up === '' ? './' : `${up}/`);
    }
    fs.mkdirSync(path.dirname(file.path), { recursive: true });
    fs.writeFileSync(file.path, text);
  }
  // `../../package.json` from dist/services/cli reads the version here; "module" keeps .js as ESM.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(OUT, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true })}\n`);
  fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  return Object.keys(result.metafile.inputs).filter((input) => SOURCE_DIRS.some((dir) => input.startsWith(`${dir}/`)) && input.endsWith('.ts')).length;
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
