import { parseArgs } from 'node:util';
import { loadEnv, type AppEnv } from '../../shared/config/env.js';
import { loadBatches, type LoadResult } from '../../shared/config/load-batches.js';
import { isJobName, JOB_NAMES } from '../../shared/jobs.js';
import { createDb } from '../../shared/db/db.js';
import { createDatabaseIfMissing, migrate } from '../../shared/db/migrate.js';
import { closePool, redactUrl } from '../../shared/db/pool.js';
import { logger } from '../../shared/logger.js';

const USAGE = `anomstack: self-hosted anomaly detection for metric batches

usage:
  anomstack validate [--json]              load and check every batch
  anomstack migrate                        create the database and tables (safe to repeat)
  anomstack run <batch> <job>... [--dry-run] [--now ISO]
                                           run jobs once, in order, in this process
                                           (jobs: ${JOB_NAMES.join(', ')})
  anomstack start [scheduler|ingest|train|score|alert|api|all ...]
                                           start services until SIGTERM/SIGINT
  anomstack score-csv IN.csv OUT.csv [--models PCA,KNN] [--score-n 25]
                                           offline backtest of the default pipeline
`;

/** The process settings, read once; the logger takes its level from them. */
function settings(): AppEnv {
  const env = loadEnv();
  logger.level = env.logLevel;
  return env;
}

function loadAll(env: AppEnv): LoadResult {
  return loadBatches({ metricsDir: env.metricsDir, defaultsDir: env.defaultsDir, ignoreExamples: env.ignoreExamples, limits: env.configLimits });
}

function printProblems(result: LoadResult): void {
  for (const w of result.warnings) {
    process.stderr.write(`warning ${w.file}: ${w.key}: ${w.reason}\n`);
  }
  for (const p of result.problems) {
    process.stdout.write(`error ${p.file}: ${p.key}: ${p.reason}\n`);
  }
}

async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } } });
  const env = settings();
  const result = loadAll(env);
  if (values.json) {
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
  return result.problems.length > 0 ? 1 : 0;
}

async function migrateCommand(): Promise<number> {
  const env = settings();
  const result = loadAll(env);
  printProblems(result);
  if (result.problems.length > 0) {
    process.stderr.write('migrate: fix the config errors above first\n');
    return 1;
  }
  const created = await createDatabaseIfMissing(env.databaseUrl);
  const db = createDb(env.databaseUrl, { max: env.dbPoolMax, statementTimeoutMs: env.statementTimeoutS * 1000 });
  try {
    const { tables } = await migrate(db, result.batches);
    process.stdout.write(
      `${JSON.stringify({ database: redactUrl(env.databaseUrl), created, tables })}\n`,
    );
  } finally {
    await closePool();
  }
  return 0;
}

async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'dry-run': { type: 'boolean', default: false }, now: { type: 'string' } },
  });
  const [batchName, ...jobs] = positionals;
  if (!batchName || jobs.length === 0) {
    process.stderr.write(`usage: anomstack run <batch> <job>... [--dry-run]\n`);
    return 2;
  }
  const unknown = jobs.filter((j) => !isJobName(j));
  if (unknown.length > 0) {
    process.stderr.write(`unknown job ${unknown.join(', ')} (jobs: ${JOB_NAMES.join(', ')})\n`);
    return 2;
  }
  const now = values.now ? new Date(values.now) : new Date();
  if (Number.isNaN(now.getTime())) {
    process.stderr.write(`--now: "${values.now}" is not a timestamp\n`);
    return 2;
  }
  const env = settings();
  const result = loadAll(env);
  const { runJobsOnce } = await import('../run-once.js');
  return runJobsOnce({ env, load: result, batchName, jobs: jobs.filter(isJobName), now, dryRun: values['dry-run'] });
}

async function startCommand(argv: string[]): Promise<number> {
  const { startServices } = await import('../start.js');
  return startServices(argv.length === 0 ? ['all'] : argv);
}

async function scoreCsv(argv: string[]): Promise<number> {
  const { scoreCsvCommand } = await import('./score-csv.js');
  return scoreCsvCommand(argv);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return validateCommand(rest);
    case 'migrate':
      return migrateCommand();
    case 'run':
      return runCommand(rest);
    case 'start':
      return startCommand(rest);
    case 'score-csv':
      return scoreCsv(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

