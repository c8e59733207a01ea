import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { ScoreTask, TrainTask } from '../shared/models/model-tasks.js';
import { closeModelPool, scoreMany, trainMany } from '../shared/models/pool.js';
import { Random } from '../shared/models/random.js';
import { DEFAULT_PREPROCESS, type ModelConfig } from '../shared/models/types.js';

/**
 * `npm run bench -- models [--sizes 1000x500,100x2500] [--models PCA,KNN] [--score-n 25] [--modes in-process,pool]`
 * Metrics per second for train and score, in-process and with the worker pool, plus peak RSS.
 * CPU seconds (all threads) are printed next to wall time: on a shared machine they move less with load.
 * Train fits on every preprocessed row; score preprocesses the whole series and scores its newest rows.
 * Reference (the Python original, PyOD PCA+KNN, whole processes): 1,000x500 in ~10 s, 100x2,500 in
 * ~3.4 s, at 240-280 MiB peak.
 */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: 'string', default: '1000x500,100x2500' },
      models: { type: 'string', default: 'PCA,KNN' },
      'score-n': { type: 'string', default: '25' },
      modes: { type: 'string', default: 'in-process,pool' },
    },
  });
  const configs: ModelConfig[] = values.models.split(',').map((m) => ({ model_name: m, model_tag: '', model_params: {} }));
  const scoreN = Number(values['score-n']);
  const STEP_MS = 300_000;

  // Warm the JIT (and nothing else) so the figures describe a long-running worker, not start-up.
  await trainMany(makeTasks(50, 500, configs, 1), { mode: 'in-process' });
  console.log(`${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  for (const size of values.sizes.split(',')) {
    const [metrics = 0, points = 0] = size.split('x').map(Number);
    const tasks = makeTasks(metrics, points, configs, 7);
    for (const mode of values.modes.split(',') as ('in-process' | 'pool')[]) {
      if (mode === 'pool') {
        const started = startClock();
        // Start the threads and warm their JIT outside the timing, as the in-process run was warmed.
        await trainMany(makeTasks(64, points, configs, 3), { mode });
        report(`${size} pool start-up + warm-up`, metrics, started, false);
      }
      let started = startClock();
      const trained = await trainMany(tasks, { mode });
      report(`${size} train ${mode}`, metrics, started);
      const scoreTasks: ScoreTask[] = tasks.map((task, i) => ({
        key: task.key,
        points: task.points,
        preprocess: task.preprocess,
        models: trained[i]!.models,
        since: (points - scoreN) * STEP_MS,
      }));
      started = startClock();
      await scoreMany(scoreTasks, { mode });
      report(`${size} score ${mode}`, metrics, started);
    }
  }
  await closeModelPool();
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (whole process, threads included)`);

  /** Synthetic metrics (level + random walk + daily-ish wave + noise + rare spikes), as typed arrays. */
  function makeTasks(count: number, length: number, models: ModelConfig[], seed: number): TrainTask[] {
    const random = new Random(seed);
    return Array.from({ length: count }, (_, k) => {
      const level = 10 + random.next() * 1000;
      const t = new Float64Array(length);
      const v = new Float64Array(length);
      let walk = 0;
      for (let i = 0; i < length; i++) {
        walk += random.next() - 0.5;
        const spike = random.next() < 0.005 ? level : 0;
        t[i] = i * STEP_MS;
        v[i] = level + walk + Math.sin(i / 12) * level * 0.1 + random.next() * 5 + spike;
      }
      return { key: `metric_${k}`, points: { t, v }, preprocess: DEFAULT_PREPROCESS, configs: models };
    });
  }
}

interface Clock {
  wallMs: number;
  cpu: NodeJS.CpuUsage;
}

function startClock(): Clock {
  return { wallMs: performance.now(), cpu: process.cpuUsage() };
}

function report(label: string, metrics: number, started: Clock, rate = true): void {
  const ms = performance.now() - started.wallMs;
  const cpu = process.cpuUsage(started.cpu);
  const perSecond = rate ? `  ${((metrics / ms) * 1000).toFixed(0)} metrics/s` : '';
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`${label.padEnd(40)} ${(ms / 1000).toFixed(3)} s${perSecond}  (CPU ${cpuSeconds.toFixed(3)} s)`);
}
