import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { metricsCsv } from '../../test/support/csv.js';
import { scoreCsvCommand } from './score-csv.js';

describe('scoreCsvCommand', () => {
  it('writes the scores CSV and returns 0', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'score-csv-'));
    await writeFile(path.join(dir, 'in.csv'), metricsCsv({ m: 80 }));
    const code = await scoreCsvCommand([path.join(dir, 'in.csv'), path.join(dir, 'out.csv'), '--models', 'PCA,KNN,ECOD', '--score-n', '5']);
    expect(code).toBe(0);
    const out = (await readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n');
    expect(out[0]).toBe('metric_name,metric_timestamp,score_PCA,score_KNN,score_ECOD,metric_score');
    expect(out).toHaveLength(6);
  });

  it('fails with a clear message for a missing file, a bad row or bad usage', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const dir = await mkdtemp(path.join(tmpdir(), 'score-csv-'));
    expect(await scoreCsvCommand([path.join(dir, 'nope.csv'), path.join(dir, 'out.csv')])).toBe(1);
    expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(/cannot read .*nope\.csv: ENOENT/);
    await writeFile(path.join(dir, 'bad.csv'), 'metric_name,metric_timestamp,metric_value\nm,2024-01-01 00:00:00,x\n');
    expect(await scoreCsvCommand([path.join(dir, 'bad.csv'), path.join(dir, 'out.csv')])).toBe(1);
    expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(/bad\.csv: line 2: bad metric_value 'x'/);
    expect(await scoreCsvCommand(['only-one.csv'])).toBe(2);
    stderr.mockRestore();
  });
});
