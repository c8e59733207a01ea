import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './support/cli.js';

const run = promisify(execFile);

/**
 * The bin runs dist/ only while it is current. A copy of the bin and the build script over a
 * two-file tree whose CLI prints which file it is, so the repository's own dist/ (which other
 * test files are spawning) is never rebuilt or touched here.
 */
describe('bin: compiled build or the current source', () => {
  let root = '';
  const cliSource = (): string => path.join(root, 'services/cli/main.ts');
  const bin = async (): Promise<string> => (await run(process.execPath, [path.join(root, 'bin/anomstack.mjs')], { cwd: root })).stdout.trim();
  const build = async (...args: string[]): Promise<string> => (await run(process.execPath, [path.join(root, 'scripts/build.mjs'), ...args], { cwd: root })).stderr;
  /** Sources (and build inputs) of two minutes ago, the build of one: whatever is touched now is newer than it. */
  const ageBuild = (): void => {
    const sources = new Date(Date.now() - 120_000);
    for (const dir of ['shared', 'services']) {
      for (const file of fs.readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })) {
        fs.utimesSync(path.join(root, dir, file), sources, sources);
      }
    }
    for (const file of ['scripts/build.mjs', 'package-lock.json'].map((f) => path.join(root, f)).filter((f) => fs.existsSync(f))) {
      fs.utimesSync(file, sources, sources);
    }
    const built = new Date(Date.now() - 60_000);
    fs.utimesSync(path.join(root, 'dist/.build-stamp'), built, built);
  };
  const touch = (file: string): void => {
    fs.utimesSync(file, new Date(), new Date());
  };

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'anomstack-bin-'));
    for (const file of ['bin/anomstack.mjs', 'scripts/build.mjs']) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.copyFileSync(path.join(REPO, file), path.join(root, file));
    }
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'x', version: '9.9.9', type: 'module' }));
    fs.mkdirSync(path.join(root, 'services/cli'), { recursive: true });
    fs.mkdirSync(path.join(root, 'shared/sql'), { recursive: true });
    // Type annotations: the compiled copy must have had them stripped to run as .js.
    fs.writeFileSync(cliSource(), "const where: string = new URL(import.meta.url).pathname;\nprocess.stdout.write(where.slice(where.lastIndexOf('/') + 1));\n");
    fs.writeFileSync(path.join(root, 'shared/sql/query.sql'), 'select 1');
    fs.writeFileSync(path.join(root, 'shared/sql/query.test.ts'), 'export {};');
  });

  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('runs the sources through tsx when there is no build', async () => {
    expect(await bin()).toBe('main.ts');
  });

  it('runs dist/ once built, with the files the code reads beside it and without tests', async () => {
    expect(await build()).toMatch(/built 1 modules into dist/);
    expect(await bin()).toBe('main.js');
    expect(fs.readFileSync(path.join(root, 'dist/shared/sql/query.sql'), 'utf8')).toBe('select 1');
    expect(fs.existsSync(path.join(root, 'dist/shared/sql/query.test.js'))).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'dist/package.json'), 'utf8'))).toMatchObject({ version: '9.9.9', type: 'module' });
  });

  it('ignores a changed test file, and --if-stale then builds nothing', async () => {
    ageBuild();
    touch(path.join(root, 'shared/sql/query.test.ts'));
    expect(await bin()).toBe('main.js');
    expect(await build('--if-stale')).toBe('');
  });

  it('falls back to the sources as soon as a source or an asset is newer than the build', async () => {
    ageBuild();
    touch(cliSource());
    expect(await bin()).toBe('main.ts');
    expect(await build('--if-stale')).toMatch(/built 1 modules/);
    expect(await bin()).toBe('main.js');
    const asset = path.join(root, 'shared/sql/query.sql');
    ageBuild();
    fs.writeFileSync(asset, 'select 2');
    expect(await bin()).toBe('main.ts');
  });

  it.each([
    ['the build script', 'scripts/build.mjs'],
    ['the lockfile (the bundled packages\' versions)', 'package-lock.json'],
  ])('falls back to the sources when %s is newer than the build', async (_, file) => {
    await build();
    const input = path.join(root, file);
    if (!fs.existsSync(input)) {
      fs.writeFileSync(input, '{}');
    }
    ageBuild();
    touch(input);
    expect(await bin()).toBe('main.ts');
    expect(await build('--if-stale')).toMatch(/built 1 modules/);
    expect(await bin()).toBe('main.js');
  });

  it('falls back when a build died half-way (no stamp)', async () => {
    await build();
    expect(await bin()).toBe('main.js');
    fs.rmSync(path.join(root, 'dist/.build-stamp'));
    expect(await bin()).toBe('main.ts');
  });
});
