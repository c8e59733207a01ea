import path from 'node:path';
import {
  emailSettingsFromEnv,
  slackSettingsFromEnv,
  webhookSettingsFromEnv,
  type EmailSettings,
  type SlackSettings,
  type WebhookSettings,
} from '../alerts/settings.js';
import { JOB_NAMES, type JobName } from '../jobs.js';
import type { LogFormat } from '../logger.js';
import { maskValue, VARIABLES } from './variables.js';
import { DEFAULT_READ_LIMITS, type ReadLimits } from './read-limits.js';
import { llmSettingsFromEnv, type LlmSettings } from '../llm/settings.js';
import { EnvError } from './dotenv.js';

/**
 * Every process setting, read from the environment once at start-up (docs/contract.md,
 * "Environment") and handed down typed. Only two things read the environment at run time: the
 * allow-listed environment an ingest function gets, and the variable a batch's
 * `ingest_db_url_env` names.
 */
export interface AppEnv {
  databaseUrl: string;
  redisUrl: string;
  metricsDir: string;
  defaultsDir: string;
  ignoreExamples: boolean;
  /** `ANOMSTACK_PYTHON`, or null: the first of python3, /usr/bin/python3 that imports pandas. */
  python: string | null;
  adminToken: string | null;
  adminAuth: boolean;
  apiPort: number;
  /** The interface the admin API listens on (compose sets 0.0.0.0 inside the container). @defaultValue '127.0.0.1' */
  apiHost: string;
  /** Bull Board may add, retry, clean and empty jobs and edit schedulers. @defaultValue false (read-only) */
  bullBoardWrite: boolean;
  /** Where the plot job writes PNGs. */
  plotsDir: string;
  /** `anomstack start` creates or updates the schema first. @defaultValue true */
  migrateOnStart: boolean;
  /** Enqueue a slot's score and alert as soon as its ingest is done. @defaultValue true */
  chainJobs: boolean;
  /** A standby scheduler takes over this long after the leader dies. @defaultValue 15000 */
  schedulerLockMs: number;
  /** Redis key prefix of every queue, lock and set of this deployment. @defaultValue 'anomstack' */
  queuePrefix: string;
  /** pino level. @defaultValue 'info' */
  logLevel: string;
  /** `pretty` (human-readable) or `json` lines. @defaultValue 'pretty' when stderr is a terminal, else 'json' */
  logFormat: LogFormat;
  /** The least time between two progress lines of long work (train, ingest writes, migrate, score-csv); 0 logs every step. @defaultValue 5000 */
  progressEveryMs: number;
  /** Connections per Postgres pool. @defaultValue 10 */
  dbPoolMax: number;
  /**
   * Retries of every queue: transient failures are retried with exponential backoff (2, 4, 8,
   * 16 s by default); bad input fails at once.
   */
  jobAttempts: number;
  jobBackoffMs: number;
  /** A dead worker's jobs come back once its lock lapses. @defaultValue 30000 */
  workerLockMs: number;
  /**
   * Jobs run at once per queue in one process: `ANOMSTACK_WORKER_CONCURRENCY_<QUEUE>`, else
   * `ANOMSTACK_WORKER_CONCURRENCY`, else 1. Jobs are mostly I/O on Postgres, so more helps with
   * many batches; scale further with more worker processes.
   */
  workerConcurrency: Readonly<Record<JobName, number>>;
  /** Email alerts, or null when no `ANOMSTACK_ALERT_EMAIL_*` is set. */
  email: EmailSettings | null;
  /** Slack alerts, or null when neither token nor channel is set. */
  slack: SlackSettings | null;
  /** The webhook channel, or null when `ANOMSTACK_WEBHOOK_URL` is not set. */
  webhook: WebhookSettings | null;
  /** The llmalert job's OpenAI-compatible endpoint, or null when no `ANOMSTACK_LLM_*` is set (nothing is sent). */
  llm: LlmSettings | null;
  /** A job's final failure sends one message per batch, job and UTC day to every configured channel. @defaultValue true */
  failureNotify: boolean;
  /** Bull Board's public address, for the run link of a failure message. @defaultValue `http://<apiHost>:<apiPort>/admin/queues` */
  bullBoardUrl: string;
  /** Postgres cancels any statement of the jobs' own after this many seconds (ingest SQL has ingest_timeout_s). @defaultValue 300 */
  statementTimeoutS: number;
  /**
   * Caps of the config loader (shared/config/read-file.ts): `ANOMSTACK_CONFIG_MAX_FILE_BYTES`
   * (1 MiB), `_MAX_ALIASES` (100), `_MAX_NODES` (100,000), `_MAX_INCLUDES` (100 per file),
   * `_MAX_INCLUDED_BYTES` (4 MiB per file).
   */
  configLimits: ReadLimits;
}

// Defined beside loadDotEnv, which the CLI reads without loading this module (see dotenv.ts).
export { EnvError, loadDotEnv } from './dotenv.js';

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

/** A variable's value is wrong: the message says why (loadEnv prefixes the name). */
class BadValue extends Error {}

/** Parses one variable's raw value (undefined when unset or empty) to its setting, or throws BadValue. */
type Setting<T> = (raw: string | undefined) => T;

// Plain functions rather than a schema library: every command reads these at start-up, and the
// checks are this simple (zod cost about 0.15 s of each start).
const flag =
  (fallback: boolean): Setting<boolean> =>
  (raw) => {
    const parsed = raw === undefined ? fallback : parseBoolean(raw);
    if (parsed === null) {
      throw new BadValue(`"${raw}" is not yes/no, true/false, on/off or 1/0`);
    }
    return parsed;
  };

/** A whole number from `min` to `max`; unset gives undefined. */
const optionalInteger =
  (min: number, max = Number.MAX_SAFE_INTEGER): Setting<number | undefined> =>
  (raw) => {
    if (raw === undefined) {
      return undefined;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new BadValue(`"${raw}" is not a whole number from ${min} to ${max}`);
    }
    return value;
  };

const integer = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): Setting<number> => {
  const read = optionalInteger(min, max);
  return (raw) => read(raw) ?? fallback;
};

const text =
  (fallback: string): Setting<string> =>
  (raw) =>
    raw ?? fallback;
const optionalText: Setting<string | undefined> = (raw) => raw;
const directory =
  (fallback: string): Setting<string> =>
  (raw) =>
    path.resolve(raw ?? fallback);
const isUrl = (value: string): boolean => URL.canParse(value);
const optionalUrl: Setting<string | undefined> = (raw) => {
  if (raw !== undefined && !isUrl(raw)) {
    throw new BadValue(`"${raw}" is not a URL`);
  }
  return raw;
};
const optionalOneOf =
  <const T extends readonly string[]>(allowed: T, says: (raw: string) => string): Setting<T[number] | undefined> =>
  (raw) => {
    if (raw !== undefined && !allowed.includes(raw)) {
      throw new BadValue(says(raw));
    }
    return raw as T[number] | undefined;
  };
const queuePrefix: Setting<string> = (raw) => {
  const value = raw ?? 'anomstack';
  if (!/^[\w.-]+$/.test(value)) {
    throw new BadValue('must be letters, digits, _ . - only');
  }
  return value;
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The variables, by name; each parses to its setting or says what is wrong with it. */
const SETTINGS = {
  ANOMSTACK_METRICS_DIR: directory('./metrics'),
  ANOMSTACK_DEFAULTS_DIR: directory('./defaults'),
  ANOMSTACK_IGNORE_EXAMPLES: flag(false),
  ANOMSTACK_PYTHON: optionalText,
  ANOMSTACK_ADMIN_TOKEN: optionalText,
  ANOMSTACK_ADMIN_AUTH: flag(true),
  ANOMSTACK_API_PORT: integer(3000, 0, 65535),
  ANOMSTACK_API_HOST: text('127.0.0.1'),
  ANOMSTACK_BULLBOARD_WRITE: flag(false),
  ANOMSTACK_FAILURE_NOTIFY: flag(true),
  ANOMSTACK_BULLBOARD_URL: optionalUrl,
  ANOMSTACK_STATEMENT_TIMEOUT_S: integer(300, 1, 86_400),
  ANOMSTACK_CONFIG_MAX_FILE_BYTES: integer(DEFAULT_READ_LIMITS.maxFileBytes, 1),
  ANOMSTACK_CONFIG_MAX_ALIASES: integer(DEFAULT_READ_LIMITS.maxAliases, 0),
  ANOMSTACK_CONFIG_MAX_NODES: integer(DEFAULT_READ_LIMITS.maxNodes, 1),
  ANOMSTACK_CONFIG_MAX_INCLUDES: integer(DEFAULT_READ_LIMITS.maxIncludes, 0),
  ANOMSTACK_CONFIG_MAX_INCLUDED_BYTES: integer(DEFAULT_READ_LIMITS.maxIncludedBytes, 0),
  ANOMSTACK_PLOTS_DIR: directory('./plots'),
  ANOMSTACK_MIGRATE_ON_START: flag(true),
  ANOMSTACK_CHAIN_JOBS: flag(true),
  ANOMSTACK_SCHEDULER_LOCK_MS: integer(15_000, 1000),
  ANOMSTACK_QUEUE_PREFIX: queuePrefix,
  ANOMSTACK_LOG_LEVEL: optionalOneOf(LOG_LEVELS, (raw) => `"${raw}" is not one of ${LOG_LEVELS.join(', ')}`),
  ANOMSTACK_LOG_FORMAT: optionalOneOf(['pretty', 'json'], (raw) => `"${raw}" is not pretty or json`),
  ANOMSTACK_PROGRESS_EVERY_MS: integer(5000, 0),
  ANOMSTACK_DB_POOL_MAX: integer(10, 2, 1000),
  ANOMSTACK_JOB_ATTEMPTS: integer(5, 1),
  ANOMSTACK_JOB_BACKOFF_MS: integer(2000, 1),
  ANOMSTACK_WORKER_LOCK_MS: integer(30_000, 1000),
  ANOMSTACK_WORKER_CONCURRENCY: integer(1, 1),
};
type SettingName = keyof typeof SETTINGS;
type Settings = { [K in SettingName]: ReturnType<(typeof SETTINGS)[K]> };

const CONCURRENCY: Readonly<Record<string, Setting<number | undefined>>> = Object.fromEntries(
  JOB_NAMES.map((job) => [`ANOMSTACK_WORKER_CONCURRENCY_${job.toUpperCase()}`, optionalInteger(1)]),
);
const ALL_SETTINGS: Readonly<Record<string, Setting<unknown>>> = { ...SETTINGS, ...CONCURRENCY };

/** Parses `name` from `env` (empty is unset); the problem, if any, goes to `problems` by name. */
function readOne(name: string, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  const raw = env[name];
  try {
    return ALL_SETTINGS[name]!(raw === '' ? undefined : raw);
  } catch (error) {
    if (!(error instanceof BadValue)) {
      throw error;
    }
    problems.push(`${name}: ${error.message}`);
    return undefined;
  }
}

/**
 * One setting, for a command that needs just it (`score-csv` reads only the progress interval):
 * the same parsing and message as loadEnv, without the channel settings.
 */
export function readSetting<K extends SettingName>(name: K, env: NodeJS.ProcessEnv = process.env): Settings[K] {
  const problems: string[] = [];
  const value = readOne(name, env, problems);
  if (problems.length > 0) {
    throw new EnvError(`Invalid environment: ${problems.join('; ')}`);
  }
  return value as Settings[K];
}

/** The variables the schema reads itself (the rest are read by the channel settings). */
export const SCHEMA_VARIABLES: readonly string[] = Object.keys(ALL_SETTINGS);

/**
 * The settings as this process resolves them, one `NAME=value` line per documented variable,
 * secrets masked; unset ones show their default (`anomstack start --check`).
 */
export function describeSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  return VARIABLES.flatMap((variable) =>
    variable.names.map((name) => {
      const raw = env[name] || (variable.alias ? env[variable.alias] : undefined) || undefined;
      return raw === undefined ? `${name}= (default: ${variable.default})` : `${name}=${maskValue(variable, raw)}`;
    }),
  );
}

/** Reads the environment once; every problem is reported in one error, each by variable name. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env, terminal: boolean = process.stderr.isTTY === true): AppEnv {
  const problems: string[] = [];
  const vars = Object.fromEntries(Object.keys(ALL_SETTINGS).map((name) => [name, readOne(name, env, problems)])) as Settings &
    Record<string, number | undefined>;
  const databaseUrl = env.ANOMSTACK_DATABASE_URL || env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/anomstack';
  const redisUrl = env.ANOMSTACK_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379';
  for (const [name, value] of [
    ['ANOMSTACK_DATABASE_URL', databaseUrl],
    ['ANOMSTACK_REDIS_URL', redisUrl],
  ] as const) {
    if (!isUrl(value)) {
      problems.push(`${name}: "${value}" is not a URL`);
    }
  }
  const channel = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch (error) {
      problems.push((error as Error).message);
      return null;
    }
  };
  const email = channel(() => emailSettingsFromEnv(env));
  const slack = channel(() => slackSettingsFromEnv(env));
  const webhook = channel(() => webhookSettingsFromEnv(env));
  const llm = channel(() => llmSettingsFromEnv(env));
  const ingestConcurrency = vars.ANOMSTACK_WORKER_CONCURRENCY_INGEST ?? vars.ANOMSTACK_WORKER_CONCURRENCY;
  // Each ingest holds its write transaction while its cursor reads on a second connection: with as
  // many ingests as connections, every one would hold one and wait for another for ever.
  if (ingestConcurrency >= vars.ANOMSTACK_DB_POOL_MAX) {
    problems.push(
      `ANOMSTACK_DB_POOL_MAX (${vars.ANOMSTACK_DB_POOL_MAX}) must be greater than the ingest worker's concurrency (${ingestConcurrency}): each ingest holds two connections while it streams`,
    );
  }
  if (problems.length > 0) {
    throw new EnvError(`Invalid environment: ${problems.join('; ')}`);
  }
  return {
    databaseUrl,
    redisUrl,
    metricsDir: vars.ANOMSTACK_METRICS_DIR,
    defaultsDir: vars.ANOMSTACK_DEFAULTS_DIR,
    ignoreExamples: vars.ANOMSTACK_IGNORE_EXAMPLES,
    python: vars.ANOMSTACK_PYTHON ?? null,
    adminToken: vars.ANOMSTACK_ADMIN_TOKEN ?? null,
    adminAuth: vars.ANOMSTACK_ADMIN_AUTH,
    apiPort: vars.ANOMSTACK_API_PORT,
    apiHost: vars.ANOMSTACK_API_HOST,
    bullBoardWrite: vars.ANOMSTACK_BULLBOARD_WRITE,
    statementTimeoutS: vars.ANOMSTACK_STATEMENT_TIMEOUT_S,
    configLimits: {
      maxFileBytes: vars.ANOMSTACK_CONFIG_MAX_FILE_BYTES,
      maxAliases: vars.ANOMSTACK_CONFIG_MAX_ALIASES,
      maxNodes: vars.ANOMSTACK_CONFIG_MAX_NODES,
      maxIncludes: vars.ANOMSTACK_CONFIG_MAX_INCLUDES,
      maxIncludedBytes: vars.ANOMSTACK_CONFIG_MAX_INCLUDED_BYTES,
    },
    failureNotify: vars.ANOMSTACK_FAILURE_NOTIFY,
    bullBoardUrl: (vars.ANOMSTACK_BULLBOARD_URL ?? `http://${vars.ANOMSTACK_API_HOST}:${vars.ANOMSTACK_API_PORT}/admin/queues`).replace(/\/+$/, ''),
    plotsDir: vars.ANOMSTACK_PLOTS_DIR,
    migrateOnStart: vars.ANOMSTACK_MIGRATE_ON_START,
    chainJobs: vars.ANOMSTACK_CHAIN_JOBS,
    schedulerLockMs: vars.ANOMSTACK_SCHEDULER_LOCK_MS,
    queuePrefix: vars.ANOMSTACK_QUEUE_PREFIX,
    logLevel: vars.ANOMSTACK_LOG_LEVEL ?? 'info',
    logFormat: vars.ANOMSTACK_LOG_FORMAT ?? (terminal ? 'pretty' : 'json'),
    progressEveryMs: vars.ANOMSTACK_PROGRESS_EVERY_MS,
    dbPoolMax: vars.ANOMSTACK_DB_POOL_MAX,
    jobAttempts: vars.ANOMSTACK_JOB_ATTEMPTS,
    jobBackoffMs: vars.ANOMSTACK_JOB_BACKOFF_MS,
    workerLockMs: vars.ANOMSTACK_WORKER_LOCK_MS,
    workerConcurrency: Object.fromEntries(
      JOB_NAMES.map((job) => [job, vars[`ANOMSTACK_WORKER_CONCURRENCY_${job.toUpperCase()}`] ?? vars.ANOMSTACK_WORKER_CONCURRENCY]),
    ) as Record<JobName, number>,
    email,
    slack,
    webhook,
    llm,
  };
}
