import { describe, expect, it } from 'vitest';
import { metricsCsv } from '../../test/support/csv.js';
import { formatScoresCsv, parseMetricsCsv, scoreCsv } from './backtest.js';

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

  it('formats the documented score-csv columns', () => {
    const csv = formatScoresCsv({
      models: ['PCA'],
      rows: [{ metric_name: 'm', metric_timestamp: Date.UTC(2024, 0, 2, 3, 4, 5), scores: [0.25], metric_score: 0.25 }],
      skipped: [],
    });
    expect(csv).toBe('metric_name,metric_timestamp,score_PCA,metric_score\nm,2024-01-02 03:04:05,0.25,0.25\n');
  });
});
