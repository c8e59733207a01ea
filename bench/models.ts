import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDefaultBatch } from '../shared/config/load-batches.js';
import type { ScoreTask, TrainTask } from '../shared/models/model-tasks.js';
import { closeModelPool, scoreMany, trainMany } from '../shared/models/pool.js';
import { Random } from '../shared/models/random.js';
import { DEFAULT_PREPROCESS, type ModelConfig, type PreprocessParams } from '../shared/models/types.js';

/**
 * `npm run bench -- models [--sizes 1000x500,100x2500] [--models default;PCA,KNN] [--score-n 25] [--modes in-process,pool]`
 * Metrics per second for train and score, in-process and with the worker pool, plus peak RSS, for
 * each model set (`;`-separated; `default` is defaults.yaml's model_configs and preprocess), and
 * the train+score cost per metric (wall and CPU time) of each set against the last one.
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
      models: { type: 'string', default: 'default;PCA,KNN' },
      'score-n': { type: 'string', default: '25' },
      modes: { type: 'string', default: 'in-process,pool' },
    },
  });
  const sets = values.models.split(';').map(modelSet);
  const scoreN = Number(values['score-n']);
  const STEP_MS = 300_000;

  // Warm the JIT (and nothing else) so the figures describe a long-running worker, not start-up.
  for (const set of sets) {
    await trainMany(makeTasks(50, 500, set, 1), { mode: 'in-process' });
  }
  console.log(`${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  for (const size of values.sizes.split(',')) {
    const [metrics = 0, points = 0] = size.split('x').map(Number);
    const costs: { label: string; ms: number; cpuMs: number }[] = [];
    for (const set of sets) {
      const tasks = makeTasks(metrics, points, set, 7);
      for (const mode of values.modes.split(',') as ('in-process' | 'pool')[]) {
        const label = `${size} ${set.label}`;
        if (mode === 'pool') {
          const started = startClock();
          // Start the threads and warm their JIT outside the timing, as the in-process run was warmed.
          await trainMany(makeTasks(64, points, set, 3), { mode });
          report(`${label} pool start-up + warm-up`, metrics, started, false);
        }
        let started = startClock();
        const trained = await trainMany(tasks, { mode });
        const train = report(`${label} train ${mode}`, metrics, started);
        const scoreTasks: ScoreTask[] = tasks.map((task, i) => ({
          key: task.key,
          points: task.points,
          preprocess: task.preprocess,
          models: trained[i]!.models,
          since: (points - scoreN) * STEP_MS,
        }));
        started = startClock();
        await scoreMany(scoreTasks, { mode });
        const score = report(`${label} score ${mode}`, metrics, started);
        if (mode === 'in-process') {
          costs.push({ label: set.label, ms: (train.ms + score.ms) / metrics, cpuMs: (train.cpuMs + score.cpuMs) / metrics });
        }
      }
    }
    const base = costs[costs.length - 1];
    for (const c of costs) {
      // CPU time too: under load the wall ratio moves with whatever else the cores run.
      const ratios = base ? `  ${(c.ms / base.ms).toFixed(2)}x ${base.label} (CPU ${c.cpuMs.toFixed(3)} ms, ${(c.cpuMs / base.cpuMs).toFixed(2)}x)` : '';
      console.log(`${size} train+score per metric (in-process) ${c.label.padEnd(12)} ${c.ms.toFixed(3)} ms${ratios}`);
    }
  }
  await closeModelPool();
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (whole process, threads included)`);

  /** Synthetic metrics (level + random walk + daily-ish wave + noise + rare spikes), as typed arrays. */
  function makeTasks(count: number, length: number, set: ModelSet, seed: number): TrainTask[] {
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
      return { key: `metric_${k}`, points: { t, v }, preprocess: set.preprocess, configs: set.configs };
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

interface ModelSet {
  label: string;
  configs: ModelConfig[];
  preprocess: PreprocessParams;
}

/** `default`: defaults.yaml's models and preprocess, as a batch that sets neither gets them; else PyOD names with the original's preprocess. */
function modelSet(spec: string): ModelSet {
  if (spec === 'default') {
    const defaultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'defaults');
    const { batch, problems } = loadDefaultBatch({ defaultsDir, env: {} });
    if (batch === null) {
      throw new Error(problems.map((p) => `${p.key}: ${p.reason}`).join('; '));
    }
    const label = `default (${batch.config.model_configs.map((c) => c.model_name).join('+')})`;
    return { label, configs: batch.config.model_configs, preprocess: batch.config.preprocess_params };
  }
  const names = spec.split(',');
  return { label: names.join('+'), configs: names.map((m) => ({ model_name: m, model_tag: m.toLowerCase(), model_params: {} })), preprocess: DEFAULT_PREPROCESS };
}

/** Prints a timing line and returns the wall and CPU milliseconds. */
function report(label: string, metrics: number, started: Clock, rate = true): { ms: number; cpuMs: number } {
  const ms = performance.now() - started.wallMs;
  const cpu = process.cpuUsage(started.cpu);
  const perSecond = rate ? `  ${((metrics / ms) * 1000).toFixed(0)} metrics/s` : '';
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(`${label.padEnd(56)} ${(ms / 1000).toFixed(3)} s${perSecond}  (CPU ${cpuSeconds.toFixed(3)} s)`);
  return { ms, cpuMs: cpuSeconds * 1000 };
}
