import { CronExpressionParser } from 'cron-parser';
import { MODEL_NAMES, validateModelConfig } from '../models/index.js';

/** Where a config problem was found: the file, and the key inside it. */
export interface ConfigProblem {
  file: string;
  key: string;
  reason: string;
}

type Check = (value: unknown) => string | null;

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const integerAtLeast =
  (min: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min ? null : `must be an integer >= ${min}, got ${show(v)}`;

const finiteNumber: Check = (v) => (isFiniteNumber(v) ? null : `must be a finite number, got ${show(v)}`);

const numberAtLeast =
  (min: number): Check =>
  (v) =>
    isFiniteNumber(v) && v >= min ? null : `must be a number >= ${min}, got ${show(v)}`;

const boolean: Check = (v) => (typeof v === 'boolean' ? null : `must be true or false, got ${show(v)}`);

const string: Check = (v) => (typeof v === 'string' ? null : `must be a string, got ${show(v)}`);

const nullableString: Check = (v) => (v === null || typeof v === 'string' ? null : `must be a string or null, got ${show(v)}`);

const cron: Check = (v) => {
  if (typeof v !== 'string') {
    return `must be a cron expression string, got ${show(v)}`;
  }
  try {
    CronExpressionParser.parse(v, { tz: 'UTC' });
    return v.trim().split(/\s+/).length === 5 || v.trim().split(/\s+/).length === 6
      ? null
      : `"${v}" is not a 5-field cron expression`;
  } catch (error) {
    return `"${v}" is not a valid cron expression (${(error as Error).message})`;
  }
};

const scheduleStatus: Check = (v) =>
  v === 'RUNNING' || v === 'STOPPED' ? null : `must be RUNNING or STOPPED, got ${show(v)}`;

const oneOf =
  (...allowed: string[]): Check =>
  (v) =>
    typeof v === 'string' && allowed.includes(v) ? null : `must be one of ${allowed.join(', ')}, got ${show(v)}`;

const alertMethods: Check = (v) => {
  if (typeof v !== 'string') {
    return `must be a comma list of email, slack; got ${show(v)}`;
  }
  const bad = splitMethods(v).filter((m) => m !== 'email' && m !== 'slack');
  return bad.length === 0 ? null : `unknown alert method ${bad.map((b) => `"${b}"`).join(', ')} (use email, slack)`;
};

const nameList: Check = (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string' && x.trim() !== '')
    ? null
    : `must be a list of metric names, got ${show(v)}`;

const plainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const objectOfObjects: Check = (v) =>
  plainObject(v) && Object.values(v).every(plainObject) ? null : `must map metric names to objects, got ${show(v)}`;

const thresholds: Check = (v) => {
  if (!plainObject(v)) {
    return `must map metric names to {upper, lower}, got ${show(v)}`;
  }
  for (const [metric, bounds] of Object.entries(v)) {
    if (!plainObject(bounds)) {
      return `${metric}: must be {upper, lower}, got ${show(bounds)}`;
    }
    for (const [bound, value] of Object.entries(bounds)) {
      if (bound !== 'upper' && bound !== 'lower') {
        return `${metric}: unknown bound "${bound}" (use upper, lower)`;
      }
      if (!isFiniteNumber(value)) {
        return `${metric}.${bound}: must be a finite number, got ${show(value)}`;
      }
    }
  }
  return null;
};

const tableKey: Check = (v) =>
  typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(v)
    ? null
    : `must be a table name, optionally schema-qualified (letters, digits, _), got ${show(v)}`;

const database: Check = (v) =>
  v === 'postgres' || v === 'duckdb' || v === 'sqlite'
    ? null
    : `${show(v)} is not supported: anomstack-ts stores metrics in Postgres (use db: postgres)`;

const modelPath: Check = (v) =>
  typeof v === 'string' && (/^local:\/\/.+/.test(v) || v === 'postgres://' || v === 'postgres')
    ? null
    : `${show(v)} is not supported: use local://DIR or postgres:// (gs:// and s3:// are not available)`;

const modelConfigs: Check = (v) => {
  if (!Array.isArray(v) || v.length === 0) {
    return `must be a non-empty list of {model_name, model_tag, model_params}, got ${show(v)}`;
  }
  const problems: string[] = [];
  const tags = new Set<string>();
  v.forEach((entry, i) => {
    if (!plainObject(entry)) {
      problems.push(`[${i}]: must be {model_name, model_tag, model_params}`);
      return;
    }
    const { model_name: name, model_tag: tag = '', model_params: params = {} } = entry;
    if (typeof name !== 'string' || !(MODEL_NAMES as readonly string[]).includes(name)) {
      problems.push(`[${i}].model_name: ${show(name)} is not a model we have (${MODEL_NAMES.join(', ')})`);
      return;
    }
    if (typeof tag !== 'string') {
      problems.push(`[${i}].model_tag: must be a string`);
    } else if (tags.has(tag)) {
      problems.push(`[${i}].model_tag: "${tag}" is used twice`);
    } else {
      tags.add(tag);
    }
    if (!plainObject(params)) {
      problems.push(`[${i}].model_params: must be an object`);
      return;
    }
    for (const p of validateModelConfig({ model_name: name, model_tag: String(tag), model_params: params })) {
      problems.push(`[${i}]: ${p}`);
    }
  });
  return problems.length === 0 ? null : problems.join('; ');
};

const preprocessParams: Check = (v) => {
  if (!plainObject(v)) {
    return `must be {diff_n, smooth_n, lags_n, freq, freq_agg}, got ${show(v)}`;
  }
  const problems: string[] = [];
  for (const key of ['diff_n', 'smooth_n', 'lags_n'] as const) {
    const problem = integerAtLeast(0)(v[key]);
    if (problem) {
      problems.push(`${key}: ${problem}`);
    }
  }
  if (v.freq !== null && v.freq !== undefined && typeof v.freq !== 'string') {
    problems.push(`freq: must be a pandas offset such as "10min" or null, got ${show(v.freq)}`);
  }
  if (v.freq_agg !== undefined && v.freq_agg !== 'mean' && v.freq_agg !== 'sum') {
    problems.push(`freq_agg: must be mean or sum, got ${show(v.freq_agg)}`);
  }
  const unknown = Object.keys(v).filter((k) => !['diff_n', 'smooth_n', 'lags_n', 'freq', 'freq_agg'].includes(k));
  if (unknown.length > 0) {
    problems.push(`unknown keys ${unknown.join(', ')}`);
  }
  return problems.length === 0 ? null : problems.join('; ');
};

/** The kind of value a key holds, which decides how an environment override is parsed. */
export type KeyKind = 'string' | 'number' | 'boolean' | 'json';

interface KeySpec {
  kind: KeyKind;
  check: Check;
  /** Keys that may be absent from a batch even after the merge. */
  optional?: boolean;
}

const spec = (kind: KeyKind, check: Check, optional = false): KeySpec => ({ kind, check, optional });

const JOBS_WITH_SCHEDULE = ['ingest', 'train', 'score', 'alert', 'change', 'llmalert', 'plot', 'delete'] as const;

/** Every config key anomstack-ts knows, with its type and its check. */
export const KEY_SPECS: Readonly<Record<string, KeySpec>> = {
  metric_batch: spec('string', (v) =>
    typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v)
      ? null
      : `must be a name of letters, digits, _, . or -, got ${show(v)}`,
  ),
  db: spec('string', database),
  table_key: spec('string', tableKey),
  ingest_db_url_env: spec('string', nullableString, true),
  model_path: spec('string', modelPath),
  model_configs: spec('json', modelConfigs),
  model_combination_method: spec('string', oneOf('mean', 'max', 'min')),
  train_max_n: spec('number', integerAtLeast(1)),
  train_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  train_min_n: spec('number', integerAtLeast(0)),
  train_exclude_metrics: spec('json', nameList, true),
  score_max_n: spec('number', integerAtLeast(1)),
  score_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  score_exclude_metrics: spec('json', nameList, true),
  preprocess_params: spec('json', preprocessParams),
  alert_methods: spec('string', alertMethods),
  alert_always: spec('boolean', boolean),
  alert_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  alert_recent_n: spec('number', integerAtLeast(1)),
  alert_max_n: spec('number', integerAtLeast(1)),
  alert_smooth_n: spec('number', integerAtLeast(0)),
  alert_snooze_n: spec('number', integerAtLeast(0)),
  alert_threshold: spec('number', finiteNumber),
  alert_exclude_metrics: spec('json', nameList, true),
  disable_tholdalert: spec('boolean', boolean),
  tholdalert_methods: spec('string', alertMethods),
  tholdalert_recent_n: spec('number', integerAtLeast(1)),
  tholdalert_snooze_n: spec('number', integerAtLeast(0)),
  tholdalert_thresholds: spec('json', thresholds, true),
  tholdalert_exclude_metrics: spec('json', nameList, true),
  change_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  change_max_n: spec('number', integerAtLeast(2)),
  change_smooth_n: spec('number', integerAtLeast(0)),
  change_snooze_n: spec('number', integerAtLeast(0)),
  change_threshold: spec('number', finiteNumber),
  change_detect_last_n: spec('number', integerAtLeast(1)),
  change_include_metrics: spec('json', nameList, true),
  change_exclude_metrics: spec('json', nameList, true),
  llmalert_model: spec('string', string),
  llmalert_recent_n: spec('number', integerAtLeast(1)),
  llmalert_smooth_n: spec('number', integerAtLeast(0)),
  llmalert_metric_rounding: spec('number', integerAtLeast(-1)),
  llmalert_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  llmalert_prompt_max_n: spec('number', integerAtLeast(1)),
  llmalert_include_plot: spec('boolean', boolean),
  llmalert_anomaly_agent_detection_prompt: spec('string', string, true),
  llmalert_anomaly_agent_verification_prompt: spec('string', string, true),
  llmalert_anomaly_agent_system_prompt: spec('string', string, true),
  ...Object.fromEntries(
    JOBS_WITH_SCHEDULE.flatMap((job) => [
      [`${job}_cron_schedule`, spec('string', cron)],
      [`${job}_default_schedule_status`, spec('string', scheduleStatus)],
    ]),
  ),
  summary_cron_schedule: spec('string', cron),
  ingest_sql: spec('string', string, true),
  ingest_fn: spec('string', string, true),
  ingest_fn_params: spec('json', (v) => (plainObject(v) ? null : `must be an object of keyword arguments, got ${show(v)}`)),
  ingest_timeout_s: spec('number', numberAtLeast(1)),
  ingest_memory_mb: spec('number', integerAtLeast(64)),
  train_sql: spec('string', string),
  score_sql: spec('string', string),
  alert_sql: spec('string', string),
  change_sql: spec('string', string),
  plot_sql: spec('string', string),
  dashboard_sql: spec('string', string),
  delete_sql: spec('string', string),
  summary_sql: spec('string', string),
  llmalert_sql: spec('string', string, true),
  preprocess_fn: spec('string', string, true),
  prompt_fn: spec('string', string, true),
  disable_batch: spec('boolean', boolean),
  disable_dashboard: spec('boolean', boolean),
  dashboard_stale_metric_max_days_ago: spec('number', numberAtLeast(0)),
  disable_ingest: spec('boolean', boolean),
  disable_train: spec('boolean', boolean),
  disable_score: spec('boolean', boolean),
  disable_alert: spec('boolean', boolean),
  disable_alerts: spec('boolean', boolean, true),
  disable_change: spec('boolean', boolean),
  disable_llmalert: spec('boolean', boolean),
  disable_plot: spec('boolean', boolean),
  disable_summary: spec('boolean', boolean),
  disable_delete: spec('boolean', boolean),
  ingest_metric_rounding: spec('number', integerAtLeast(0)),
  score_metric_rounding: spec('number', integerAtLeast(0)),
  summary_metric_timestamp_max_days_ago: spec('number', numberAtLeast(0)),
  delete_after_n_days: spec('number', numberAtLeast(0)),
  delete_chunk_n: spec('number', integerAtLeast(1), true),
  metric_tags: spec('json', objectOfObjects, true),
  gcp_project_id: spec('string', string, true),
};

export function splitMethods(methods: string): string[] {
  return methods
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
}

export function show(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Type, range and syntax checks of every known key of a merged batch config. */
export function checkKeys(config: Record<string, unknown>): { key: string; reason: string }[] {
  const problems: { key: string; reason: string }[] = [];
  for (const [key, keySpec] of Object.entries(KEY_SPECS)) {
    const value = config[key];
    if (value === undefined || (value === null && keySpec.optional)) {
      if (!keySpec.optional) {
        problems.push({ key, reason: 'is missing (and has no default)' });
      }
      continue;
    }
    const reason = keySpec.check(value);
    if (reason) {
      problems.push({ key, reason });
    }
  }
  return problems;
}
