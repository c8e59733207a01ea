import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { plotPath, safeFileStem, writeFileAtomic } from './plot.js';

describe('safeFileStem', () => {
  it('keeps plain names', () => {
    expect(safeFileStem('cpu_usage-1.total')).toBe('cpu_usage-1.total');
  });

  it('replaces unsafe characters and adds a hash so names never collide', () => {
    const a = safeFileStem('cpu/usage');
    const b = safeFileStem('cpu usage');
    expect(a).toMatch(/^cpu_usage-[0-9a-f]{10}$/);
    expect(b).toMatch(/^cpu_usage-[0-9a-f]{10}$/);
    expect(a).not.toBe(b);
    expect(safeFileStem('../../etc/passwd')).not.toContain('/');
    expect(safeFileStem('..')).not.toBe('..');
    expect(safeFileStem('.hidden').startsWith('.')).toBe(false);
  });

  it('builds <plotsDir>/<batch>/<metric>.png', () => {
    expect(plotPath('/p', 'b', 'm')).toBe(path.join('/p', 'b', 'm.png'));
  });
});

describe('writeFileAtomic', () => {
  it('writes the file and leaves no temporary file behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'plot-test-'));
    try {
      const file = path.join(dir, 'sub', 'x.png');
      await writeFileAtomic(file, Buffer.from('one'));
      await writeFileAtomic(file, Buffer.from('two'));
      expect((await readFile(file)).toString()).toBe('two');
      expect(await readdir(path.join(dir, 'sub'))).toEqual(['x.png']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
