import { parseArgs } from 'node:util';
import type { ScoreTask, TrainTask } from '../shared/models/model-tasks.js';
import { closeModelPool, scoreMany, trainMany } from '../shared/models/pool.js';
import { Random } from '../shared/models/random.js';
import { DEFAULT_PREPROCESS, type ModelConfig } from '../shared/models/types.js';

/**
 * `npm run bench -- models [--sizes 1000x500,100x2500] [--models PCA,KNN] [--score-n 25]`
 * Metrics per second for train and score, in-process and with the worker pool, plus peak RSS.
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
    },
  });
  const configs: ModelConfig[] = values.models.split(',').map((m) => ({ model_name: m, model_tag: '', model_params: {} }));
  const scoreN = Number(values['score-n']);
  const STEP_MS = 300_000;

  // Warm the JIT (and nothing else) so the figures describe a long-running worker, not start-up.
  await trainMany(makeTasks(50, 500, configs, 1), { mode: 'in-process' });

  for (const size of values.sizes.split(',')) {
    const [metrics = 0, points = 0] = size.split('x').map(Number);
    const tasks = makeTasks(metrics, points, configs, 7);
    for (const mode of ['in-process', 'pool'] as const) {
      if (mode === 'pool') {
        const started = performance.now();
        await trainMany(makeTasks(64, 50, configs, 3), { mode }); // start the threads outside the timing
        report(`${size} pool start-up`, metrics, performance.now() - started, false);
      }
      let started = performance.now();
      const trained = await trainMany(tasks, { mode });
      report(`${size} train ${mode}`, metrics, performance.now() - started);
      const scoreTasks: ScoreTask[] = tasks.map((task, i) => ({
        key: task.key,
        points: task.points,
        preprocess: task.preprocess,
        models: trained[i]!.models,
        since: (points - scoreN) * STEP_MS,
      }));
      started = performance.now();
      await scoreMany(scoreTasks, { mode });
      report(`${size} score ${mode}`, metrics, performance.now() - started);
    }
  }
  await closeModelPool();
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (whole process, threads included)`);

  function makeTasks(count: number, length: number, models: ModelConfig[], seed: number): TrainTask[] {
    const random = new Random(seed);
    return Array.from({ length: count }, (_, k) => {
      const level = 10 + random.next() * 1000;
      let walk = 0;
      const points = Array.from({ length }, (_, i) => {
        walk += random.next() - 0.5;
        const spike = random.next() < 0.005 ? level : 0;
        return { t: i * STEP_MS, v: level + walk + Math.sin(i / 12) * level * 0.1 + random.next() * 5 + spike };
      });
      return { key: `metric_${k}`, points, preprocess: DEFAULT_PREPROCESS, configs: models };
    });
  }
}

function report(label: string, metrics: number, ms: number, rate = true): void {
  const perSecond = rate ? `  ${((metrics / ms) * 1000).toFixed(0)} metrics/s` : '';
  console.log(`${label.padEnd(32)} ${(ms / 1000).toFixed(3)} s${perSecond}`);
}
