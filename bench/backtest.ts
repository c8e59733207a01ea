import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { backtestCommand } from '../services/cli/backtest.js';
import { Random } from '../shared/models/random.js';

/**
 * `npm run bench -- backtest [--series 58] [--rows 365000]`
 * `anomstack backtest` end to end (read, parse, replay, write) on a synthetic CSV the size of the
 * whole NAB corpus: 58 series, 365,000 rows, named like NAB's files, 5-minute points with a daily
 * wave, noise, a few spikes and a level shift, lengths uneven as NAB's are. The default batch
 * (defaults/defaults.yaml) replays it. Target: under 2 minutes on a 2-core machine.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { series: { type: 'string', default: '58' }, rows: { type: 'string', default: '365000' } } });
  const series = Number(values.series);
  const total = Number(values.rows);
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-backtest-'));
  try {
    const input = path.join(dir, 'in.csv');
    writeFileSync(input, syntheticCsv(series, total));
    const started = performance.now();
    const cpu = process.cpuUsage();
    const code = await backtestCommand([input, path.join(dir, 'out.csv')]);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    console.log(
      `backtest of ${total} rows in ${series} series: exit ${code}, ${seconds.toFixed(1)} s wall (CPU ${((used.user + used.system) / 1e6).toFixed(1)} s), ${Math.round(total / seconds)} rows/s; target < 120 s`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CATEGORIES = ['realAWSCloudwatch', 'realAdExchange', 'realKnownCause', 'realTraffic', 'realTweets', 'artificialWithAnomaly'];

function syntheticCsv(series: number, total: number): string {
  const random = new Random(11);
  // Uneven lengths (NAB's run from ~1,100 to ~22,700 rows), scaled to add up to `total`.
  const weights = Array.from({ length: series }, () => 0.2 + random.next() * 3);
  const sum = weights.reduce((a, b) => a + b, 0);
  const lengths = weights.map((w) => Math.floor((w / sum) * total));
  lengths[0]! += total - lengths.reduce((a, b) => a + b, 0);
  const lines = ['metric_name,metric_timestamp,metric_value'];
  const start = Date.UTC(2014, 1, 14);
  lengths.forEach((n, s) => {
    const name = `${CATEGORIES[s % CATEGORIES.length]}/synthetic_${String(s).padStart(2, '0')}.csv`;
    const level = 10 + random.next() * 100;
    for (let i = 0; i < n; i++) {
      const daily = Math.sin((2 * Math.PI * i) / 288) * level * 0.2;
      const spike = random.next() < 0.0005 ? level * 2 : 0;
      const shift = i > n * 0.8 ? level * 0.5 : 0;
      const value = level + daily + shift + spike + random.next() * level * 0.05;
      const ts = new Date(start + i * 300_000).toISOString().slice(0, 19).replace('T', ' ');
      lines.push(`${name},${ts},${value.toFixed(3)}`);
    }
  });
  return `${lines.join('\n')}\n`;
}
