import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { formatScoresCsv, parseMetricsCsv, scoreCsv } from './backtest.js';
import { scoreCsvCommand } from './score-csv.command.js';

function metricsCsv(metrics: Record<string, number>): string {
  const lines = ['metric_name,metric_timestamp,metric_value'];
  for (const [name, count] of Object.entries(metrics)) {
    for (let i = 0; i < count; i++) {
      const ts = new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
      lines.push(`${name},${ts},${(100 + 10 * Math.sin(i / 5) + (i % 7)).toFixed(3)}`);
    }
  }
  return lines.join('\n');
}

describe('parseMetricsCsv', () => {
  it('reads columns in any order, quoted names and ISO timestamps', () => {
    const rows = parseMetricsCsv('metric_value,metric_name,metric_timestamp\n1.5,"a,b",2024-01-01T00:05:00Z\n\n2,c,2024-01-01 00:10:00\n');
    expect(rows).toEqual([
      { metric_name: 'a,b', metric_timestamp: Date.UTC(2024, 0, 1, 0, 5), metric_value: 1.5 },
      { metric_name: 'c', metric_timestamp: Date.UTC(2024, 0, 1, 0, 10), metric_value: 2 },
    ]);
  });

  it('names the line of a bad row', () => {
    expect(() => parseMetricsCsv('metric_name,metric_timestamp\n')).toThrow("line 1: missing column 'metric_value'");
    expect(() => parseMetricsCsv('metric_name,metric_timestamp,metric_value\nm,2024-01-01 00:00:00,1\nm,yesterday,2')).toThrow(
      "line 3: bad metric_timestamp 'yesterday'",
    );
    expect(() => parseMetricsCsv('metric_name,metric_timestamp,metric_value\nm,2024-02-31 00:00:00,1')).toThrow(/line 2/);
    expect(() => parseMetricsCsv('metric_name,metric_timestamp,metric_value\nm,2024-01-01 00:00:00,abc')).toThrow(
      "line 2: bad metric_value 'abc'",
    );
  });
});

describe('scoreCsv', () => {
  it('scores the last N rows per metric and skips metrics with too few rows', () => {
    const result = scoreCsv(metricsCsv({ long: 120, short: 17 }), { models: ['PCA', 'KNN'], scoreN: 10 });
    expect(result.models).toEqual(['PCA', 'KNN']);
    expect(result.rows).toHaveLength(10);
    expect(result.rows.every((r) => r.metric_name === 'long' && r.scores.length === 2)).toBe(true);
    expect(result.rows[0]!.metric_timestamp).toBe(Date.UTC(2024, 0, 1) + 110 * 300_000);
    for (const row of result.rows) {
      expect(row.metric_score).toBeCloseTo((row.scores[0]! + row.scores[1]!) / 2, 15);
    }
    expect(result.skipped).toEqual([{ metric_name: 'short', reason: expect.stringMatching(/need more than score-n/) as unknown }]);
  });

  it('rejects unknown models', () => {
    expect(() => scoreCsv(metricsCsv({ m: 50 }), { models: ['LOF'] })).toThrow(/unknown model 'LOF'/);
  });

  it('formats the CONTRACT columns', () => {
    const csv = formatScoresCsv({
      models: ['PCA'],
      rows: [{ metric_name: 'm', metric_timestamp: Date.UTC(2024, 0, 2, 3, 4, 5), scores: [0.25], metric_score: 0.25 }],
      skipped: [],
    });
    expect(csv).toBe('metric_name,metric_timestamp,score_PCA,metric_score\nm,2024-01-02 03:04:05,0.25,0.25\n');
  });
});

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
