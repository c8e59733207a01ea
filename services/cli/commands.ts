import type { AppEnv } from '../../shared/config/env.js';
import type { LoadResult } from '../../shared/config/load-batches.js';
import { isJobName, JOB_NAMES } from '../../shared/jobs.js';
import { runProgram, type CliCommand } from './program.js';

// Every command imports its modules when it runs (zod, pg, js-yaml, pino cost about 0.3 s
// together): `--help` and `--version` load only the parser and the job names.

/** The process settings, read once; the logger (pino) takes its level from them unless `log` is false. */
async function settings({ log = true } = {}): Promise<AppEnv> {
  const { loadEnv } = await import('../../shared/config/env.js');
  const env = loadEnv();
  if (log) {
    const { configureLogger } = await import('../../shared/logger.js');
    configureLogger(env);
  }
  return env;
}

async function loadAll(env: AppEnv): Promise<LoadResult> {
  const { loadBatches } = await import('../../shared/config/load-batches.js');
  return loadBatches({ metricsDir: env.metricsDir, defaultsDir: env.defaultsDir, ignoreExamples: env.ignoreExamples, limits: env.configLimits });
}

function printProblems(result: LoadResult): void {
  for (const w of result.warnings) {
    process.stderr.write(`warning ${w.file}: ${w.key}: ${w.reason}\n`);
  }
  printUnsupported(result);
  for (const p of result.problems) {
    process.stdout.write(`error ${p.file}: ${p.key}: ${p.reason}\n`);
  }
}

/** Skipped batches (BigQuery, Snowflake, cloud model stores): listed, never an error. */
function printUnsupported(result: LoadResult): void {
  for (const u of result.unsupported) {
    process.stderr.write(`unsupported ${u.file}: ${u.key}: ${u.reason}\n`);
  }
}

async function validateCommand(json: boolean): Promise<number> {
  // validate logs nothing: it prints what it finds.
  const env = await settings({ log: false });
  const result = await loadAll(env);
  if (json) {
    printProblems({ ...result, problems: [] });
    for (const p of result.problems) {
      process.stderr.write(`error ${p.file}: ${p.key}: ${p.reason}\n`);
    }
    const configs = result.batches.map((b) => ({ ...b.vars, metric_batch: b.name, metrics_dir: env.metricsDir }));
    process.stdout.write(`${JSON.stringify(configs, null, 2)}\n`);
  } else {
    for (const batch of result.batches) {
      process.stdout.write(`ok ${batch.name}\n`);
    }
    for (const name of result.disabled) {
      process.stdout.write(`ok ${name} (disable_batch: true, not scheduled)\n`);
    }
    printProblems(result);
  }
  // Unsupported batches are skipped and listed, not errors: the original's folder has some.
  return result.problems.length > 0 ? 1 : 0;
}

/** CLI commands try the store three times, a second apart, then stop with what to do. */
const CLI_WAIT = { attempts: 3, delayMs: 1000 } as const;

async function migrateCommand(): Promise<number> {
  const env = await settings();
  const result = await loadAll(env);
  const [{ createDb }, { createDatabaseIfMissing, migrate }, { closePool, redactUrl }, { waitForPostgres }, { logger }, { logSink }] = await Promise.all([
    import('../../shared/db/db.js'),
    import('../../shared/db/migrate.js'),
    import('../../shared/db/pool.js'),
    import('../../shared/db/reachable.js'),
    import('../../shared/logger.js'),
    import('../../shared/progress.js'),
  ]);
  // A broken batch does not stop the good ones: their tables are made, its errors are listed.
  for (const w of result.warnings) {
    process.stderr.write(`warning ${w.file}: ${w.key}: ${w.reason}\n`);
  }
  printUnsupported(result);
  for (const p of result.problems) {
    process.stderr.write(`error ${p.file}: ${p.key}: ${p.reason}\n`);
  }
  await waitForPostgres(env.databaseUrl, { ...CLI_WAIT, log: logger, allowMissingDatabase: true });
  const created = await createDatabaseIfMissing(env.databaseUrl);
  const db = createDb(env.databaseUrl, { max: env.dbPoolMax, statementTimeoutMs: env.statementTimeoutS * 1000 });
  try {
    const { tables } = await migrate(db, result.batches, logSink(logger));
    const broken = [...new Set(result.problems.map((p) => p.file))];
    process.stdout.write(
      `${JSON.stringify({ database: redactUrl(env.databaseUrl), created, tables, ...(broken.length > 0 ? { broken } : {}) })}\n`,
    );
  } finally {
    await closePool();
  }
  return 0;
}

/** `10m`, `1h`, `1d`, `30s` as milliseconds; null for anything else. */
export function parseEvery(text: string): number | null {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!match) {
    return null;
  }
  const ms = Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return ms > 0 ? ms : null;
}

/** A backfill runs at most this many slots: a typo in --every should not queue a million runs. */
const MAX_BACKFILL_SLOTS = 100_000;

async function runCommand(batchName: string, jobs: string[], options: { dryRun?: boolean; now?: string; from?: string; every?: string }): Promise<number> {
  const unknown = jobs.filter((j) => !isJobName(j));
  if (unknown.length > 0) {
    process.stderr.write(`unknown job ${unknown.join(', ')} (jobs: ${JOB_NAMES.join(', ')})\n`);
    return 2;
  }
  const now = options.now === undefined ? new Date() : new Date(options.now);
  if (Number.isNaN(now.getTime())) {
    process.stderr.write(`--now: "${options.now}" is not a timestamp\n`);
    return 2;
  }
  const slots = backfillSlots(options.from, options.every, now);
  if (typeof slots === 'string') {
    process.stderr.write(`${slots}\n`);
    return 2;
  }
  const env = await settings();
  const result = await loadAll(env);
  const { runJobsOnce } = await import('../run-once.js');
  return runJobsOnce({ env, load: result, batchName, jobs: jobs.filter(isJobName), slots, dryRun: options.dryRun === true });
}

/** The slots of `--from T --every D` up to `--now` (inclusive), or just `--now`; a message for bad input. */
function backfillSlots(from: string | undefined, every: string | undefined, to: Date): Date[] | string {
  if (from === undefined && every === undefined) {
    return [to];
  }
  if (from === undefined || every === undefined) {
    return '--from and --every go together (a backfill: every slot from --from to --now, --every apart)';
  }
  const start = new Date(from);
  if (Number.isNaN(start.getTime())) {
    return `--from: "${from}" is not a timestamp`;
  }
  const step = parseEvery(every);
  if (step === null) {
    return `--every: "${every}" is not a duration like 30s, 10m, 1h or 1d`;
  }
  if (start.getTime() > to.getTime()) {
    return `--from ${start.toISOString()} is after --now ${to.toISOString()}`;
  }
  const count = Math.floor((to.getTime() - start.getTime()) / step) + 1;
  if (count > MAX_BACKFILL_SLOTS) {
    return `--from ${start.toISOString()} to ${to.toISOString()} every ${every} is ${count} slots; at most ${MAX_BACKFILL_SLOTS} at once`;
  }
  return Array.from({ length: count }, (_, i) => new Date(start.getTime() + i * step));
}

/**
 * Every command, in the order `--help` lists them. A new command is one entry here; its code
 * lives in its own file and is imported when it runs, so `--help` loads none of it.
 */
export const COMMANDS: readonly CliCommand[] = [
  {
    name: 'validate',
    summary: 'load and check every batch (defaults merged, includes resolved, environment applied)',
    example: 'anomstack validate --json | jq ".[].metric_batch"',
    options: (c) => c.option('--json', 'print the resolved configs as JSON on stdout (problems go to stderr)'),
    run: ({ options }) => validateCommand(options.json === true),
  },
  {
    name: 'migrate',
    summary: 'create the database and the tables (safe to repeat)',
    example: 'ANOMSTACK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/anomstack anomstack migrate',
    run: () => migrateCommand(),
  },
  {
    name: 'run',
    args: '<batch> <jobs...>',
    summary: 'run jobs of one batch once, in order, in this process (no Redis needed)',
    details: `jobs: ${JOB_NAMES.join(', ')}`,
    example: 'anomstack run example_simple ingest train score alert --now 2026-02-03T04:05:00Z',
    options: (c) =>
      c
        .option('--dry-run', 'write no rows and send nothing; report what would be written')
        .option('--now <ISO>', 'the slot the run stands for (default: now); with --from, the last slot')
        .option('--from <ISO>', 'backfill: run the jobs for every slot from this one to --now, --every apart, with progress on stderr')
        .option('--every <duration>', 'backfill step: 30s, 10m, 1h, 1d'),
    run: ({ args: [batch = '', ...jobs], options }) => runCommand(batch, jobs, options),
  },
  {
    name: 'start',
    args: '[services...]',
    summary: 'start services in this process until SIGTERM/SIGINT',
    details: 'services: scheduler, ingest, train, score, alert, api, all (default: all)',
    example: 'anomstack start scheduler ingest --check',
    options: (c) => c.option('--check', 'check the arguments and settings, print them (secrets masked) and exit'),
    run: async ({ argv }) => {
      const { startServices } = await import('../start.js');
      return startServices(argv);
    },
  },
  {
    name: 'score-csv',
    args: '<in.csv> <out.csv>',
    summary: 'offline backtest of the default pipeline over a metric_name,metric_timestamp,metric_value CSV',
    example: 'anomstack score-csv history.csv scores.csv --models PCA,KNN --score-n 25',
    options: (c) =>
      c
        .option('--models <list>', 'comma list of models', 'PCA,KNN')
        .option('--score-n <n>', 'rows scored per metric (at most 2500)', '25'),
    run: async ({ argv }) => {
      const { scoreCsvCommand } = await import('./score-csv.js');
      return scoreCsvCommand(argv);
    },
  },
  {
    name: 'backtest',
    args: '<in.csv> <out.csv>',
    summary: "replay a history causally through a batch's train cadence, scores and alert rules",
    details: 'with --labels (metric name -> list of [start, end]) prints NAB standard, low-FP and low-FN scores and per-metric catches',
    example: 'anomstack backtest history.csv replay.csv --batch example_simple --labels windows.json',
    options: (c) =>
      c
        .option('--batch <name>', "use this batch's settings (default: the defaults)")
        .option('--labels <windows.json>', 'labelled anomaly windows: print NAB scores'),
    run: async ({ argv }) => {
      const { backtestCommand } = await import('./backtest.js');
      return backtestCommand(argv);
    },
  },
];

const INTRO = 'anomstack: self-hosted anomaly detection for metric batches';

/** Runs one command line; resolves with the exit code (usage errors 2, help and version 0). */
export function main(argv: string[]): Promise<number> {
  return runProgram(COMMANDS, argv, INTRO);
}
