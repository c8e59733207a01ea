import * as z from 'zod';
import { jobsScheduled, JOB_NAMES, type JobName } from '../jobs.js';
import { cronProblem } from './cron.js';
// The registry, not the models' index: validation needs no worker pool, codec or backtest.
import { defaultPreprocessFor, MODEL_NAMES, validateModelConfig } from '../models/registry.js';
import type { PreprocessParams } from '../models/types.js';

/**
 * The batch config schema, defined once: every key anomstack-ts knows, its type, range and
 * default-filling, with messages that say what a value must be and what it got. `BatchConfig`,
 * the typed config the job cores read, is inferred from it.
 */

/** Where a config problem was found: the file, and the key inside it. */
export interface ConfigProblem {
  file: string;
  key: string;
  reason: string;
}

export function show(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const MISSING = 'is missing (and has no default)';

/** One message for every issue a schema raises: what the value must be, and what it got. */
const says = (text: (input: unknown) => string) => ({
  error: (issue: { input?: unknown; path?: PropertyKey[] }) => (issue.input === undefined && !issue.path?.length ? MISSING : text(issue.input)),
});

/** YAML's hex, octal, binary, `.nan` and `.inf` load as strings (shared/config/read-file.ts): say why. */
const numberHint = (v: unknown): string =>
  typeof v === 'string' && /^\s*[-+]?(0[xob]|\.(nan|inf)\s*$)/i.test(v) ? ' (hex, octal, binary, .nan and .inf are not accepted: write a decimal number)' : '';
const integerAtLeast = (min: number) => {
  const m = says((v) => `must be an integer >= ${min}, got ${show(v)}${numberHint(v)}`);
  return z.number(m).int(m).min(min, m);
};
const numberAtLeast = (min: number) => {
  const m = says((v) => `must be a number >= ${min}, got ${show(v)}${numberHint(v)}`);
  return z.number(m).min(min, m);
};
const finiteNumber = z.number(says((v) => `must be a finite number, got ${show(v)}${numberHint(v)}`));
const boolean = z.boolean(says((v) => `must be true or false, got ${show(v)}`));
const string = z.string(says((v) => `must be a string, got ${show(v)}`));
const optionalString = string.nullish();
const oneOf = <const T extends readonly [string, ...string[]]>(allowed: T) =>
  z.enum(allowed, says((v) => `must be one of ${allowed.join(', ')}, got ${show(v)}`));

const cron = z.string(says((v) => `must be a cron expression string, got ${show(v)}`)).superRefine((v, ctx) => {
  const problem = cronProblem(v);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
  }
});
const scheduleStatus = z.enum(['RUNNING', 'STOPPED'], says((v) => `must be RUNNING or STOPPED, got ${show(v)}`));

export const ALERT_METHODS = ['email', 'slack', 'webhook'] as const;
export type AlertMethod = (typeof ALERT_METHODS)[number];

export function splitMethods(methods: string): string[] {
  return methods
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
}

/** `alert_methods`/`tholdalert_methods` as the channels they name (validated at load). */
export const alertMethods = (methods: string): AlertMethod[] => splitMethods(methods) as AlertMethod[];

/** What is wrong with a comma list of alert methods, or null. */
export function methodsProblem(v: string): string | null {
  const bad = splitMethods(v).filter((m) => !(ALERT_METHODS as readonly string[]).includes(m));
  return bad.length > 0 ? `unknown alert method ${bad.map((b) => `"${b}"`).join(', ')} (use ${ALERT_METHODS.join(', ')})` : null;
}

const methods = z.string(says((v) => `must be a comma list of ${ALERT_METHODS.join(', ')}; got ${show(v)}`)).superRefine((v, ctx) => {
  const problem = methodsProblem(v);
  if (problem !== null) {
    ctx.addIssue({ code: 'custom', message: problem });
  }
});

/** `"'metric_a'"` (the original's hand-quoted SQL literal) becomes `metric_a`. */
function unquoteSqlLiteral(value: string): string {
  const trimmed = value.trim();
  return /^'.*'$/.test(trimmed) ? trimmed.slice(1, -1).replace(/''/g, "'") : trimmed;
}

/** A list of metric names; the original wanted hand-quoted SQL literals there, accepted too. */
const nameList = z
  .array(z.string().trim().min(1), says((v) => `must be a list of metric names, got ${show(v)}`))
  .nullish()
  .transform((v) => (v ?? []).map(unquoteSqlLiteral));

const plainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `metric_tags`; a metric's `alert_methods` tag routes its alerts (every kind) to those channels
 * instead of the batch's `alert_methods`/`tholdalert_methods`, so it must be a valid list.
 */
const metricTags = z
  .record(z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), says((v) => `must map metric names to objects, got ${show(v)}`))
  .nullish()
  .transform((v) => v ?? {})
  .superRefine((tags, ctx) => {
    for (const [metric, metricTags] of Object.entries(tags)) {
      const route = metricTags.alert_methods;
      if (route === undefined) {
        continue;
      }
      const problem = typeof route === 'string' ? methodsProblem(route) : `must be a comma list of ${ALERT_METHODS.join(', ')}, got ${show(route)}`;
      if (problem !== null) {
        ctx.addIssue({ code: 'custom', path: [metric, 'alert_methods'], message: problem });
      }
    }
  });

/**
 * The channels for a metric's alerts: its `alert_methods` tag when it has one, else the batch's
 * methods for that kind of alert (`alert_methods`, or `tholdalert_methods` for threshold alerts).
 */
export function routeFor(tags: Readonly<Record<string, Record<string, string | number | boolean>>>, metric: string, batchMethods: string): AlertMethod[] {
  const route = tags[metric]?.alert_methods;
  return alertMethods(typeof route === 'string' ? route : batchMethods);
}

const bound = z.number(says((v) => `must be a finite number, got ${show(v)}${numberHint(v)}`)).optional();
const thresholds = z
  .record(
    z.string(),
    z.strictObject({ upper: bound, lower: bound }, says((v) => (plainObject(v) ? 'unknown bound (use upper, lower)' : `must be {upper, lower}, got ${show(v)}`))),
    says((v) => `must map metric names to {upper, lower}, got ${show(v)}`),
  )
  .nullish()
  .transform((v) => v ?? {});

const tableKey = z
  .string(says((v) => `must be a table name, got ${show(v)}`))
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, says((v) => `must be a table name, optionally schema-qualified (letters, digits, _), got ${show(v)}`));

/** Where ingest_sql runs; metrics are stored in Postgres whichever it is. */
const database = z.enum(
  ['postgres', 'duckdb', 'sqlite'],
  says((v) => `${show(v)} is not supported: ingest_sql runs in postgres, duckdb or sqlite (BigQuery, Snowflake and ClickHouse are not available)`),
);

const modelPath = z
  .string(says((v) => `must be local://DIR or postgres://, got ${show(v)}`))
  .regex(/^(local:\/\/.+|postgres:\/\/|postgres)$/, says((v) => `${show(v)} is not supported: use local://DIR or postgres:// (gs:// and s3:// are not available)`));

const modelConfig = z.object(
  {
    model_name: z.enum(MODEL_NAMES, says((v) => `${show(v)} is not a model we have (${MODEL_NAMES.join(', ')})`)),
    model_tag: z.string(says(() => 'must be a string')).default(''),
    model_params: z.record(z.string(), z.unknown(), says(() => 'must be an object')).default({}),
  },
  says(() => 'must be {model_name, model_tag, model_params}'),
);

const modelConfigs = z
  .array(modelConfig, says((v) => `must be a non-empty list of {model_name, model_tag, model_params}, got ${show(v)}`))
  .min(1, says((v) => `must be a non-empty list of {model_name, model_tag, model_params}, got ${show(v)}`))
  .superRefine((configs, ctx) => {
    const tags = new Set<string>();
    configs.forEach((config, i) => {
      if (tags.has(config.model_tag)) {
        ctx.addIssue({ code: 'custom', path: [i, 'model_tag'], message: `"${config.model_tag}" is used twice` });
      }
      tags.add(config.model_tag);
      for (const problem of validateModelConfig(config)) {
        ctx.addIssue({ code: 'custom', path: [i], message: problem });
      }
    });
  });

/**
 * Preprocess parameters; the keys a batch leaves out are filled in parseBatchConfig from its models'
 * defaults (defaultPreprocessFor), which is why none has a default here.
 */
const preprocessParams = z.strictObject(
  {
    diff_n: integerAtLeast(0).optional(),
    smooth_n: integerAtLeast(0).optional(),
    lags_n: integerAtLeast(0).optional(),
    freq: z.string(says((v) => `must be a pandas offset such as "10min" or null, got ${show(v)}`)).nullable().optional(),
    freq_agg: z.enum(['mean', 'sum'], says((v) => `must be mean or sum, got ${show(v)}`)).optional(),
  },
  says((v) => (plainObject(v) ? 'unknown keys (use diff_n, smooth_n, lags_n, freq, freq_agg)' : `must be {diff_n, smooth_n, lags_n, freq, freq_agg}, got ${show(v)}`)),
);

const batchName = z
  .string(says((v) => `must be a name of letters, digits, _, . or -, got ${show(v)}`))
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, says((v) => `must be a name of letters, digits, _, . or -, got ${show(v)}`));

/** Every config key but the per-job ones (`disable_<job>`, schedules: see JOB_KEYS). */
export const BATCH_SCHEMA = z.object({
  metric_batch: batchName,
  db: database,
  table_key: tableKey,
  ingest_db_url_env: optionalString,
  /** A DuckDB/SQLite database file that `db: duckdb|sqlite` ingest_sql reads (read-only); relative to the metrics directory. */
  ingest_db_file: optionalString,
  model_path: modelPath,
  model_configs: modelConfigs,
  model_combination_method: oneOf(['mean', 'max', 'min']),
  train_max_n: integerAtLeast(1),
  train_metric_timestamp_max_days_ago: numberAtLeast(0),
  train_min_n: integerAtLeast(0),
  /** While a metric's models were fitted on fewer rows, a score run that finds its history grown by half chains a train (shared/models/early-retrain.ts); 0: off. */
  train_early_retrain_n: integerAtLeast(0),
  train_exclude_metrics: nameList,
  score_max_n: integerAtLeast(1),
  score_metric_timestamp_max_days_ago: numberAtLeast(0),
  score_exclude_metrics: nameList,
  score_metric_rounding: integerAtLeast(0),
  preprocess_params: preprocessParams.nullish(),
  preprocess_fn: optionalString,
  alert_methods: methods,
  alert_always: boolean,
  alert_metric_timestamp_max_days_ago: numberAtLeast(0),
  alert_recent_n: integerAtLeast(1),
  alert_max_n: integerAtLeast(1),
  alert_smooth_n: integerAtLeast(0),
  alert_snooze_n: integerAtLeast(0),
  alert_snooze_mode: oneOf(['incident', 'alert']),
  alert_threshold: finiteNumber,
  alert_exclude_metrics: nameList,
  /** How long a thumbs-down suppresses alerts no more unusual than it (shared/feedback); 0: off. */
  alert_feedback_horizon_days: numberAtLeast(0),
  /** The original's misspelt switch; either turns alerts off. */
  disable_alerts: boolean.optional(),
  tholdalert_methods: methods,
  tholdalert_recent_n: integerAtLeast(1),
  tholdalert_snooze_n: integerAtLeast(0),
  tholdalert_thresholds: thresholds,
  tholdalert_exclude_metrics: nameList,
  change_metric_timestamp_max_days_ago: numberAtLeast(0),
  change_max_n: integerAtLeast(2),
  change_smooth_n: integerAtLeast(0),
  change_snooze_n: integerAtLeast(0),
  change_threshold: finiteNumber,
  change_detect_last_n: integerAtLeast(1),
  change_include_metrics: nameList,
  change_exclude_metrics: nameList,
  // The llmalert job's keys (services/alert/src/llmalert.ts); disable_llmalert and its schedule
  // keys come from the registry (JOB_KEYS). llmalert_include_plot is accepted, but only text is sent.
  llmalert_model: string,
  llmalert_recent_n: integerAtLeast(1),
  llmalert_smooth_n: integerAtLeast(0),
  llmalert_metric_rounding: integerAtLeast(-1),
  llmalert_metric_timestamp_max_days_ago: numberAtLeast(0),
  llmalert_prompt_max_n: integerAtLeast(1),
  llmalert_include_plot: boolean,
  llmalert_anomaly_agent_detection_prompt: optionalString,
  llmalert_anomaly_agent_verification_prompt: optionalString,
  llmalert_anomaly_agent_system_prompt: optionalString,
  llmalert_sql: string,
  prompt_fn: optionalString,
  ingest_sql: optionalString,
  ingest_fn: optionalString,
  ingest_fn_params: z.record(z.string(), z.unknown(), says((v) => `must be an object of keyword arguments, got ${show(v)}`)),
  ingest_timeout_s: numberAtLeast(1),
  ingest_memory_mb: integerAtLeast(64),
  ingest_metric_rounding: integerAtLeast(0),
  train_sql: string,
  score_sql: string,
  alert_sql: string,
  change_sql: string,
  plot_sql: string,
  dashboard_sql: string,
  delete_sql: string,
  summary_sql: string,
  disable_batch: boolean,
  disable_dashboard: boolean,
  dashboard_stale_metric_max_days_ago: numberAtLeast(0),
  summary_metric_timestamp_max_days_ago: numberAtLeast(0),
  delete_after_n_days: numberAtLeast(0),
  delete_chunk_n: integerAtLeast(1).optional(),
  metric_tags: metricTags,
  gcp_project_id: optionalString,
});

/** A batch's config as the job cores read it: every key typed, defaults filled in. */
export type BatchConfig = Omit<z.output<typeof BATCH_SCHEMA>, 'preprocess_params'> & { preprocess_params: PreprocessParams };

/**
 * The keys each registered job kind brings (shared/jobs.ts): `disable_<job>` for all,
 * `<job>_cron_schedule` for scheduled ones, `<job>_default_schedule_status` for per-batch ones.
 */
export const JOB_KEYS: Readonly<Record<string, z.ZodType>> = Object.fromEntries(
  JOB_NAMES.flatMap((job: JobName) => [
    [`disable_${job}`, boolean],
    ...(jobsScheduled('chained').includes(job) ? [] : [[`${job}_cron_schedule`, cron]]),
    ...(jobsScheduled('batch').includes(job) ? [[`${job}_default_schedule_status`, scheduleStatus]] : []),
  ]),
);
const JOB_KEYS_SCHEMA = z.object(JOB_KEYS);

/** Every key a batch may set. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([...Object.keys(BATCH_SCHEMA.shape), ...Object.keys(JOB_KEYS)]);

/** The kind of value a key holds, which decides how an environment override is parsed. */
export type KeyKind = 'string' | 'number' | 'boolean' | 'json';

/** What an environment override of `key` is parsed as, read off the key's schema. */
export function keyKind(key: string): KeyKind {
  let schema = (BATCH_SCHEMA.shape as Record<string, z.ZodType>)[key] ?? JOB_KEYS[key];
  // Look through optional/default/nullable wrappers and the input side of transforms.
  for (;;) {
    const def = schema?._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType } | undefined;
    if (!def) {
      return 'string';
    }
    if (def.innerType) {
      schema = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      schema = def.in;
    } else {
      return def.type === 'number' || def.type === 'boolean' ? def.type : def.type === 'string' || def.type === 'enum' ? 'string' : 'json';
    }
  }
}

/** `model_configs[0].model_name`-style paths below the key, for messages. */
const subPath = (path: readonly PropertyKey[]): string =>
  path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');

export type ParsedConfig =
  | { ok: true; config: BatchConfig; jobKeys: Record<string, unknown> }
  | { ok: false; problems: { key: string; reason: string }[] };

/** Types, ranges and syntax of every key of a merged batch config; every problem at once. */
export function parseBatchConfig(merged: Record<string, unknown>): ParsedConfig {
  const main = BATCH_SCHEMA.safeParse(merged);
  const jobs = JOB_KEYS_SCHEMA.safeParse(merged);
  const issues = [...(main.success ? [] : main.error.issues), ...(jobs.success ? [] : jobs.error.issues)];
  if (main.success && jobs.success) {
    const { preprocess_params: own, ...rest } = main.data;
    // undefined means "not set": JSON-ish spreading would otherwise put undefined over a default.
    const set = Object.fromEntries(Object.entries(own ?? {}).filter(([, v]) => v !== undefined)) as Partial<PreprocessParams>;
    const config: BatchConfig = { ...rest, preprocess_params: { ...defaultPreprocessFor(rest.model_configs), ...set } };
    return { ok: true, config, jobKeys: jobs.data };
  }
  return {
    ok: false,
    problems: issues.map((issue) => {
      const [key, ...below] = issue.path;
      const where = subPath(below);
      return { key: String(key ?? '-'), reason: where ? `${where}: ${issue.message}` : issue.message };
    }),
  };
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known key nearest to an unknown one, when it is close enough to be a typo. */
export function didYouMean(key: string): string | null {
  let best: { key: string; distance: number } | null = null;
  for (const known of KNOWN_KEYS) {
    const distance = editDistance(key, known);
    if (!best || distance < best.distance) {
      best = { key: known, distance };
    }
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 6)) ? best.key : null;
}
