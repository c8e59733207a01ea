import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { closeIngestRunners, runIngestFn, type IngestFnSpec } from '../services/ingest/src/ingest-fn/index.js';
import { warmUpPython } from '../services/ingest/src/ingest-fn/python-runner.js';
import { validateIngestRows } from '../services/ingest/src/validate-rows.js';

/**
 * `npm run bench -- ingest-fn [--calls 30] [--python /usr/bin/python3]`
 * Overhead per call of the ingest-function runners: wall time of `runIngestFn` minus the time the
 * function itself reports (it prints it), for a function returning 10 rows and one returning
 * 10,000 rows (a pandas DataFrame), Python cold (interpreter per run) and warm (fork server),
 * plus JavaScript (node per run) for reference. Target: warm overhead under 30 ms.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      calls: { type: 'string', default: '30' },
      python: { type: 'string', default: process.env.ANOMSTACK_PYTHON ?? 'python3' },
    },
  });
  const calls = Number(values.calls);
  const python = values.python;

  const pythonSource = `
import time
def ingest(n=10):
    t0 = time.perf_counter()
    import pandas as pd
    df = pd.DataFrame({
        "metric_name": [f"metric_{i % 100}" for i in range(n)],
        "metric_value": [i * 0.5 for i in range(n)],
        "metric_timestamp": pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC"),
    })
    print("fn_ms", (time.perf_counter() - t0) * 1000)
    return df
`;
  const jsSource = `
export function ingest({ n }) {
  const t0 = performance.now();
  const rows = Array.from({ length: n }, (_, i) => ({ metric_name: 'metric_' + (i % 100), metric_value: i * 0.5, metric_timestamp: new Date(Date.UTC(2024, 0, 1) + i * 60000) }));
  console.log('fn_ms', performance.now() - t0);
  return rows;
}
`;
  const cases: { label: string; language: IngestFnSpec['language']; mode: 'warm' | 'cold'; n: number }[] = [];
  for (const n of [10, 10_000]) {
    cases.push({ label: `python cold, ${n} rows`, language: 'python', mode: 'cold', n });
    cases.push({ label: `python warm, ${n} rows`, language: 'python', mode: 'warm', n });
    cases.push({ label: `javascript, ${n} rows`, language: 'javascript', mode: 'cold', n });
  }

  const startWarm = performance.now();
  await warmUpPython(python);
  process.stdout.write(`python ${python}: warm runner started in ${(performance.now() - startWarm).toFixed(0)} ms (once per worker)\n`);

  const medians = new Map<string, number>();
  process.stdout.write(`${calls} calls each; overhead = wall time - the function's own time\n`);
  process.stdout.write(`${'case'.padEnd(28)} ${'overhead median'.padStart(16)} ${'p95'.padStart(9)} ${'wall median'.padStart(12)} ${'validate'.padStart(9)}\n`);
  for (const c of cases) {
    const overheads: number[] = [];
    const walls: number[] = [];
    const validates: number[] = [];
    for (let i = 0; i < calls + 1; i++) {
      let fnMs = 0;
      const t0 = performance.now();
      const raw = await runIngestFn(
        {
          batch: 'bench',
          language: c.language,
          source: c.language === 'python' ? pythonSource : jsSource,
          params: { n: c.n },
          timeoutMs: 60_000,
          memoryMb: 1024,
        },
        {
          python,
          pythonMode: c.mode,
          log: (_stream, line) => {
            if (line.startsWith('fn_ms ')) {
              fnMs = Number(line.slice(6));
            }
          },
        },
      );
      const wall = performance.now() - t0;
      const v0 = performance.now();
      validateIngestRows('bench', raw, { rounding: 4 });
      const validateMs = performance.now() - v0;
      if (i === 0) {
        continue; // first call of each case warms the JIT and the page cache
      }
      overheads.push(wall - fnMs);
      walls.push(wall);
      validates.push(validateMs);
    }
    medians.set(c.label, quantile(overheads, 0.5));
    process.stdout.write(
      `${c.label.padEnd(28)} ${ms(quantile(overheads, 0.5)).padStart(16)} ${ms(quantile(overheads, 0.95)).padStart(9)} ${ms(quantile(walls, 0.5)).padStart(12)} ${ms(quantile(validates, 0.5)).padStart(9)}\n`,
    );
  }
  for (const n of [10, 10_000]) {
    const warm = medians.get(`python warm, ${n} rows`) ?? Number.NaN;
    const cold = medians.get(`python cold, ${n} rows`) ?? Number.NaN;
    process.stdout.write(`python ${n} rows: warm/cold overhead ratio ${(warm / cold).toFixed(3)} (warm ${ms(warm)} ${warm < 30 ? '<' : '>='} 30 ms target)\n`);
  }
  await closeIngestRunners();
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}
