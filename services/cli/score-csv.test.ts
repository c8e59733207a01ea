import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { metricsCsv } from '../../test/support/csv.js';
import { formatScoresCsv, scoreCsv } from '../../shared/models/backtest.js';
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

  it('reads the timestamps Postgres prints and writes ISO 8601 with the zone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'score-csv-'));
    const rows = Array.from({ length: 60 }, (_, i) => {
      const t = new Date(Date.UTC(2026, 11, 1, 0, i * 5));
      return `m,${t.toISOString().slice(0, 19).replace('T', ' ')}+00,${10 + (i % 7)}`;
    });
    await writeFile(path.join(dir, 'pg.csv'), `metric_name,metric_timestamp,metric_value\n${rows.join('\n')}\n`);
    expect(await scoreCsvCommand([path.join(dir, 'pg.csv'), path.join(dir, 'out.csv'), '--score-n', '3'])).toBe(0);
    const out = (await readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n');
    expect(out.slice(1).map((line) => line.split(',')[1])).toEqual(['2026-12-01T04:45:00Z', '2026-12-01T04:50:00Z', '2026-12-01T04:55:00Z']);
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

  it('streams a file of several read chunks (CRLF lines, interleaved metrics) to the same output as scoreCsv on the whole text', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'score-csv-'));
    // About 2.5 MiB: lines cross the 64 KiB read boundaries; metrics interleave, as a database export lists them.
    const [header, ...lines] = metricsCsv(Object.fromEntries(Array.from({ length: 60 }, (_, m) => [`metric_${m}`, 1000]))).split('\n');
    const interleaved = lines.map((line, i) => ({ line, key: (i % 1000) * 100 + Math.floor(i / 1000) })).sort((a, b) => a.key - b.key);
    const text = `\uFEFF${header}\r\n${interleaved.map((l) => l.line).join('\r\n')}\r\n`;
    expect(text.length).toBeGreaterThan(2 << 20);
    await writeFile(path.join(dir, 'in.csv'), text);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await scoreCsvCommand([path.join(dir, 'in.csv'), path.join(dir, 'out.csv'), '--score-n', '5'])).toBe(0);
    stderr.mockRestore();
    expect(await readFile(path.join(dir, 'out.csv'), 'utf8')).toBe(formatScoresCsv(scoreCsv(text, { scoreN: 5 })));
  });

  it('leaves OUT as it was when a line near the end is bad', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'score-csv-'));
    await writeFile(path.join(dir, 'out.csv'), 'before\n');
    await writeFile(path.join(dir, 'in.csv'), `${metricsCsv({ a: 5000, b: 5000 })}\nb,2024-01-01 00:00:00,oops\n`);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await scoreCsvCommand([path.join(dir, 'in.csv'), path.join(dir, 'out.csv')])).toBe(1);
    expect(String(stderr.mock.calls.at(-1)?.[0])).toMatch(/in\.csv: line 10002: bad metric_value 'oops'/);
    stderr.mockRestore();
    expect(await readFile(path.join(dir, 'out.csv'), 'utf8')).toBe('before\n');
  });
});
