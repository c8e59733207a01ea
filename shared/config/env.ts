import path from 'node:path';

/** Process-level settings from the environment (CONTRACT.md, "Environment"). */
export interface AppEnv {
  databaseUrl: string;
  redisUrl: string;
  metricsDir: string;
  defaultsDir: string;
  ignoreExamples: boolean;
  python: string;
  adminToken: string | null;
  adminAuth: boolean;
  apiPort: number;
  /** The interface the admin API listens on (compose sets 0.0.0.0 inside the container). @defaultValue '127.0.0.1' */
  apiHost: string;
  /** Bull Board may add, retry, clean and empty jobs and edit schedulers. @defaultValue false (read-only) */
  bullBoardWrite: boolean;
  /** Where the plot job writes PNGs for the dashboard. */
  plotsDir: string;
  /** `anomstack start` creates or updates the schema first. @defaultValue true */
  migrateOnStart: boolean;
  /** Enqueue a slot's score and alert as soon as its ingest is done. @defaultValue true */
  chainJobs: boolean;
  /** A standby scheduler takes over this long after the leader dies. @defaultValue 15000 */
  schedulerLockMs: number;
  /** Postgres cancels any statement of the jobs' own after this many seconds (ingest SQL has ingest_timeout_s). @defaultValue 300 */
  statementTimeoutS: number;
}

export class EnvError extends Error {
  override name = 'EnvError';
}

/** Reads the environment once; every problem is reported in one error. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): AppEnv {
  const problems: string[] = [];
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const parsed = parseBoolean(raw);
    if (parsed === null) {
      problems.push(`${name}: "${raw}" is not yes/no, true/false, on/off or 1/0`);
      return fallback;
    }
    return parsed;
  };
  const integer = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const port = integer('ANOMSTACK_API_PORT', 3000, 0, 65535);
  const result: AppEnv = {
    databaseUrl: env.ANOMSTACK_DATABASE_URL || env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/anomstack',
    redisUrl: env.ANOMSTACK_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379',
    metricsDir: path.resolve(env.ANOMSTACK_METRICS_DIR || './metrics'),
    defaultsDir: path.resolve(env.ANOMSTACK_DEFAULTS_DIR || './defaults'),
    ignoreExamples: flag('ANOMSTACK_IGNORE_EXAMPLES', false),
    python: env.ANOMSTACK_PYTHON || 'python3',
    adminToken: env.ANOMSTACK_ADMIN_TOKEN || null,
    adminAuth: flag('ANOMSTACK_ADMIN_AUTH', true),
    apiPort: port,
    apiHost: env.ANOMSTACK_API_HOST || '127.0.0.1',
    bullBoardWrite: flag('ANOMSTACK_BULLBOARD_WRITE', false),
    plotsDir: path.resolve(env.ANOMSTACK_PLOTS_DIR || './plots'),
    migrateOnStart: flag('ANOMSTACK_MIGRATE_ON_START', true),
    chainJobs: flag('ANOMSTACK_CHAIN_JOBS', true),
    schedulerLockMs: integer('ANOMSTACK_SCHEDULER_LOCK_MS', 15_000, 1000),
    statementTimeoutS: integer('ANOMSTACK_STATEMENT_TIMEOUT_S', 300, 1, 86_400),
  };
  for (const [name, value] of [
    ['ANOMSTACK_DATABASE_URL', result.databaseUrl],
    ['ANOMSTACK_REDIS_URL', result.redisUrl],
  ] as const) {
    if (!URL.canParse(value)) {
      problems.push(`${name}: "${value}" is not a URL`);
    }
  }
  if (problems.length > 0) {
    throw new EnvError(`Invalid environment: ${problems.join('; ')}`);
  }
  return result;
}

/** `yes/true/on/1` and `no/false/off/0` in any case; anything else is null. */
export function parseBoolean(raw: string): boolean | null {
  const value = raw.trim().toLowerCase();
  if (['yes', 'true', 'on', '1', 'y'].includes(value)) {
    return true;
  }
  if (['no', 'false', 'off', '0', 'n', ''].includes(value)) {
    return false;
  }
  return null;
}
