import type { MetricRow } from '../models/backtest.js';
import { quoteCsvField } from '../models/csv.js';
import type { BacktestResult } from './run.js';

export const BACKTEST_COLUMNS = ['metric_name', 'metric_timestamp', 'metric_value', 'metric_score', 'alert'] as const;

/**
 * `anomstack backtest` output: one line per input row, input order. The timestamp is ISO 8601 UTC
 * (whatever zone the input used); metric_score is empty before the metric's first model.
 */
export function formatBacktestCsv(rows: readonly MetricRow[], result: BacktestResult): string {
  const lines = new Array<string>(rows.length + 1);
  lines[0] = BACKTEST_COLUMNS.join(',');
  const quoted = new Map<string, string>();
  rows.forEach((row, i) => {
    let name = quoted.get(row.metric_name);
    if (name === undefined) {
      name = quoteCsvField(row.metric_name);
      quoted.set(row.metric_name, name);
    }
    const score = result.score[i]!;
    lines[i + 1] = `${name},${new Date(row.metric_timestamp).toISOString()},${row.metric_value},${Number.isNaN(score) ? '' : score},${result.alert[i]}`;
  });
  return `${lines.join('\n')}\n`;
}
