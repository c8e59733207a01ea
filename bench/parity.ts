import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { parseLabels, scoreWithLabels } from '../shared/backtest/labels.js';
import { runBacktest, type BacktestResult } from '../shared/backtest/run.js';
import { parseMetricsCsv, type MetricRow } from '../shared/models/backtest.js';
import { parseUtcTimestamp } from '../shared/models/csv.js';
import { PROFILE_NAMES } from '../shared/nab/score.js';
import { benchSettings, ORIGINAL_DETECTION, PREVIOUS_DEFAULT } from './nab.js';

/**
 * `npm run bench -- parity [--with JSON]`
 * Event detection on the synthetic parity set (test/fixtures/parity-events: 20 metrics x 400
 * 5-minute points, injected spikes, level shifts and flatlines), replayed through the same core as
 * `anomstack backtest` (shared/backtest) with the default batch, the KNN window alone (the first Conformal default) and PCA+KNN
 * in one run (`--with` adds a run of the default with those keys over it). An event is caught when
 * an alert falls on one of its points; a false alert is one outside every event. Metric-days are
 * counted over the replayed span after warm-up: per metric, from its first scored point to its last.
 * Target (issue 10): every event in the score window (the metric's last 25 points) caught, at most
 * 1 false alert per 10 metric-days.
 */

const dir = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), 'test', 'fixtures', 'parity-events');
const EVENT_TYPES = ['spike', 'level_shift', 'flatline'] as const;
const DAY_MS = 86_400_000;

export interface ParityEvent {
  metric: string;
  type: string;
  start: number;
  end: number;
  /** In the metric's last 25 points (the original's score window). */
  tail: boolean;
}

/** public.labels.csv: one event per row; errors name the line. */
export function parseEvents(text: string): ParityEvent[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',') ?? [];
  const at = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) {
      throw new Error(`public.labels.csv line 1: missing column '${name}'`);
    }
    return i;
  };
  const [metric, type, start, end, tail] = ['metric_name', 'anomaly_type', 'start_timestamp', 'end_timestamp', 'in_score_window'].map(at) as [number, number, number, number, number];
  return lines.slice(1).map((line, i) => {
    const f = line.split(',');
    const event = { metric: f[metric] ?? '', type: f[type] ?? '', start: parseUtcTimestamp(f[start] ?? ''), end: parseUtcTimestamp(f[end] ?? ''), tail: f[tail] === '1' };
    if (event.metric === '' || Number.isNaN(event.start) || Number.isNaN(event.end)) {
      throw new Error(`public.labels.csv line ${i + 2}: bad row '${line}'`);
    }
    return event;
  });
}

export interface EventTally {
  caught: Record<string, { caught: number; total: number }>;
  tail: Record<string, { caught: number; total: number }>;
  falseAlerts: number;
  metricDays: number;
  missedTail: string[];
}

/** Which events an alert fell in, the alerts outside every event, and the metric-days after warm-up. */
export function tallyEvents(rows: readonly MetricRow[], result: BacktestResult, events: readonly ParityEvent[]): EventTally {
  const tally: EventTally = { caught: {}, tail: {}, falseAlerts: 0, metricDays: 0, missedTail: [] };
  const byMetric = new Map<string, number[]>();
  rows.forEach((r, i) => byMetric.set(r.metric_name, [...(byMetric.get(r.metric_name) ?? []), i]));
  for (const [metric, indexes] of byMetric) {
    const own = events.filter((e) => e.metric === metric);
    const scored = indexes.filter((i) => !Number.isNaN(result.score[i]!)).map((i) => rows[i]!.metric_timestamp);
    if (scored.length > 0) {
      tally.metricDays += (Math.max(...scored) - Math.min(...scored)) / DAY_MS;
    }
    const alertTimes = indexes.filter((i) => result.alert[i] === 1).map((i) => rows[i]!.metric_timestamp);
    tally.falseAlerts += alertTimes.filter((t) => !own.some((e) => t >= e.start && t <= e.end)).length;
    for (const e of own) {
      const hit = alertTimes.some((t) => t >= e.start && t <= e.end);
      for (const bucket of e.tail ? [tally.caught, tally.tail] : [tally.caught]) {
        const cell = (bucket[e.type] ??= { caught: 0, total: 0 });
        cell.total++;
        cell.caught += hit ? 1 : 0;
      }
      if (e.tail && !hit) {
        tally.missedTail.push(`${metric} ${e.type}`);
      }
    }
  }
  return tally;
}

const sum = (cells: Record<string, { caught: number; total: number }>): string => {
  const all = Object.values(cells);
  return `${all.reduce((s, c) => s + c.caught, 0)}/${all.reduce((s, c) => s + c.total, 0)}`;
};

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { with: { type: 'string', default: '' } } });
  const rows = parseMetricsCsv(readFileSync(path.join(dir, 'public.csv'), 'utf8'));
  const labels = parseLabels(readFileSync(path.join(dir, 'public.windows.json'), 'utf8'));
  const events = parseEvents(readFileSync(path.join(dir, 'public.labels.csv'), 'utf8'));
  console.log(`parity event set: ${new Set(rows.map((r) => r.metric_name)).size} metrics, ${rows.length} rows, ${events.length} events (${events.filter((e) => e.tail).length} in the score window)`);
  const runs: [string, Record<string, unknown>][] = [
    ['default', {}],
    ['KNN window alone', PREVIOUS_DEFAULT],
    ['PCA+KNN (original)', ORIGINAL_DETECTION],
  ];
  if (values.with !== '') {
    runs.push([`default + ${values.with}`, JSON.parse(values.with) as Record<string, unknown>]);
  }
  const header = ['detector', 'tail spike', 'tail shift', 'tail flat', 'tail all', 'all events', 'false', 'per 10 metric-days', 'NAB std/lowFP/lowFN', 's'];
  const lines: string[][] = [];
  let metricDays = 0;
  for (const [label, keys] of runs) {
    const started = performance.now();
    const result = runBacktest(rows, benchSettings('parity', keys));
    const seconds = (performance.now() - started) / 1000;
    const tally = tallyEvents(rows, result, events);
    metricDays = tally.metricDays;
    const nab = scoreWithLabels(rows, result, labels);
    const cell = (type: string): string => `${tally.tail[type]?.caught ?? 0}/${tally.tail[type]?.total ?? 0}`;
    lines.push([
      label,
      ...EVENT_TYPES.map(cell),
      sum(tally.tail),
      sum(tally.caught),
      String(tally.falseAlerts),
      ((10 * tally.falseAlerts) / tally.metricDays).toFixed(1),
      PROFILE_NAMES.map((p) => nab.alerts[p].normalised.toFixed(1)).join(' / '),
      seconds.toFixed(1),
    ]);
    if (tally.missedTail.length > 0) {
      lines[lines.length - 1]!.push(`missed: ${tally.missedTail.join(', ')}`);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pad = (cells: string[]): string => cells.map((c, i) => (i < widths.length ? (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)) : c)).join('  ');
  console.log(pad(header));
  lines.forEach((l) => console.log(pad(l)));
  console.log(
    `tail = events in a metric's last 25 points (in_score_window = 1); caught = an alert on one of the event's points; false = alerts outside every event; ${metricDays.toFixed(1)} metric-days (first scored point to last, per metric). Target: every tail event, <= 1.0 false alert per 10 metric-days.`,
  );
}
