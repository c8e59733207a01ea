import fs from 'node:fs';
import path from 'node:path';
import { JOB_NAMES, jobKind, type JobName } from '../jobs.js';
import { parseBoolean } from './env.js';
import type { IngestFnLanguage, MetricBatch } from './metric-batch.js';
import { ConfigReadError, DEFAULT_READ_LIMITS, includeBudget, isInside, parseYamlLimited, readConfigFile, spendInclude, type IncludeBudget, type ReadLimits } from './read-file.js';
import { templateProblem } from '../templates.js';
import { didYouMean, keyKind, KNOWN_KEYS, parseBatchConfig, show, type BatchConfig, type ConfigProblem } from './schema.js';

export interface LoadOptions {
  metricsDir: string;
  defaultsDir: string;
  ignoreExamples: boolean;
  env?: NodeJS.ProcessEnv;
  /** Size, alias and include caps (shared/config/read-file.ts); the defaults unless given. */
  limits?: Partial<ReadLimits>;
  /** Keys from the metrics folder's own defaults.yaml (an original Anomstack folder): set by loadBatches. */
  folderDefaults?: Record<string, unknown>;
  /** Where buildBatch reports a batch it skips as unsupported (set by loadBatches). */
  unsupported?: ConfigProblem[];
}

export interface LoadResult {
  /** Valid, enabled batches, sorted by file path. */
  batches: MetricBatch[];
  /** Valid batches with `disable_batch` set. */
  disabled: string[];
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  /**
   * Batches skipped because they need what anomstack-ts does not have (BigQuery, Snowflake,
   * ClickHouse, s3:// or gs:// models), one entry each with the reason. Not problems: the
   * original's folder holds such examples, and they must not fail validate for the others.
   */
  unsupported: ConfigProblem[];
}

const INCLUDE = /\{%-?\s*include\s+["']([^"']+)["']\s*-?%\}/g;
const SOLE_INCLUDE = /^\s*\{%-?\s*include\s+["']([^"']+)["']\s*-?%\}\s*$/;

/**
 * Loads every batch under the metrics directory merged over defaults.yaml, as the original's
 * `get_specs` does, but sorted, typed and validated: every problem of every file is collected.
 */
export function loadBatches(options: LoadOptions): LoadResult {
  const env = options.env ?? process.env;
  const limits: ReadLimits = { ...DEFAULT_READ_LIMITS, ...options.limits };
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const defaultsFile = path.join(options.defaultsDir, 'defaults.yaml');
  const defaults = readDefaults(defaultsFile, options.defaultsDir, limits, problems);
  if (!fs.existsSync(options.metricsDir)) {
    problems.push({ file: options.metricsDir, key: '-', reason: 'metrics directory does not exist' });
    return { batches: [], disabled: [], problems, warnings, unsupported: [] };
  }

  const batches: MetricBatch[] = [];
  const disabled: string[] = [];
  const seen = new Map<string, string>();
  const unsupported: ConfigProblem[] = [];
  const folderDefaults = readFolderDefaults(options, defaultsFile, limits, problems);
  for (const file of findBatchFiles(options.metricsDir, options.ignoreExamples)) {
    const fileProblems: ConfigProblem[] = [];
    const result = loadBatchFile(file, defaults, { ...options, limits, folderDefaults, unsupported }, env, fileProblems, warnings);
    if (result) {
      const earlier = seen.get(result.name);
      if (earlier) {
        fileProblems.push({
          file,
          key: 'metric_batch',
          reason: `"${result.name}" is already defined in ${earlier}; batch names must be unique`,
        });
      } else {
        seen.set(result.name, file);
      }
    }
    problems.push(...fileProblems);
    if (result && fileProblems.length === 0) {
      if (result.config.disable_batch === true) {
        disabled.push(result.name);
      } else {
        batches.push(result);
      }
    }
  }
  return { batches, disabled, problems, warnings, unsupported };
}

const CLOUD_DATABASES: Record<string, string> = { bigquery: 'BigQuery', snowflake: 'Snowflake', clickhouse: 'ClickHouse' };

/** What a batch needs that anomstack-ts does not have, or null (see LoadResult.unsupported). */
function unsupportedReason(merged: Record<string, unknown>): { key: string; reason: string } | null {
  const db = typeof merged.db === 'string' ? merged.db.toLowerCase() : '';
  const engine = CLOUD_DATABASES[db];
  if (engine) {
    return { key: 'db', reason: `unsupported: db "${db}" needs ${engine}, which anomstack-ts does not connect to (ingest_sql runs in postgres, duckdb or sqlite); batch skipped` };
  }
  const modelPath = typeof merged.model_path === 'string' ? merged.model_path : '';
  const cloud = /^(s3|gs):\/\//.exec(modelPath);
  if (cloud) {
    return { key: 'model_path', reason: `unsupported: ${cloud[0]} model stores are not available (use local://DIR or postgres://); batch skipped` };
  }
  return null;
}

/**
 * The original kept its defaults in `<metrics>/defaults/defaults.yaml`; pointed at such a folder,
 * its `db` (duckdb there) is the engine of every batch that does not set one, as in the original.
 * Nothing else is taken from it: anomstack-ts's own defaults (and SQL templates) apply.
 */
function readFolderDefaults(options: LoadOptions, defaultsFile: string, limits: ReadLimits, problems: ConfigProblem[]): Record<string, unknown> {
  const file = path.join(options.metricsDir, 'defaults', 'defaults.yaml');
  if (!fs.existsSync(file) || path.resolve(file) === path.resolve(defaultsFile)) {
    return {};
  }
  const parsed = parseYaml(file, options.metricsDir, limits, problems);
  return parsed && 'db' in parsed ? { db: parsed.db } : {};
}

function readDefaults(file: string, defaultsDir: string, limits: ReadLimits, problems: ConfigProblem[]): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    problems.push({ file, key: '-', reason: 'defaults.yaml is missing (set ANOMSTACK_DEFAULTS_DIR)' });
    return {};
  }
  const parsed = parseYaml(file, defaultsDir, limits, problems);
  if (!parsed) {
    return {};
  }
  const budget = includeBudget(limits);
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string') {
      parsed[key] = resolveIncludes(value, { file, key, roots: [defaultsDir], limits, budget }, problems);
    }
  }
  return parsed;
}

/** A YAML mapping from a regular file inside `root`, within the read limits (shared/config/read-file.ts). */
function parseYaml(file: string, root: string, limits: ReadLimits, problems: ConfigProblem[]): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = parseYamlLimited(readConfigFile(file, [root], limits.maxFileBytes), file, limits);
  } catch (error) {
    const reason = error instanceof ConfigReadError ? error.message : `not valid YAML: ${(error as Error).message.split('\n')[0]}`;
    problems.push({ file, key: '-', reason });
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push({ file, key: '-', reason: 'must be a YAML mapping of config keys' });
    return null;
  }
  return parsed as Record<string, unknown>;
}

/** Every `*.yaml`/`*.yml` but defaults.yaml, at any depth, sorted by path. */
export function findBatchFiles(metricsDir: string, ignoreExamples: boolean): string[] {
  const examples = path.join(metricsDir, 'examples');
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!(ignoreExamples && full === examples) && entry.name !== 'node_modules' && !entry.name.startsWith('.')) {
          walk(full);
        }
      } else if (/\.ya?ml$/.test(entry.name) && entry.name !== 'defaults.yaml') {
        files.push(full);
      }
    }
  };
  walk(metricsDir);
  return files.sort();
}

function loadBatchFile(
  file: string,
  defaults: Record<string, unknown>,
  options: LoadOptions & { limits: ReadLimits },
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
): MetricBatch | null {
  const own = parseYaml(file, options.metricsDir, options.limits, problems);
  return own ? buildBatch(file, own, defaults, options, env, problems, warnings) : null;
}

export interface DefaultBatchOptions {
  defaultsDir: string;
  env?: NodeJS.ProcessEnv;
  /** @defaultValue 'backtest' */
  name?: string;
  /** Keys set as a batch YAML would set them (before environment overrides). */
  overrides?: Record<string, unknown>;
}

/**
 * The batch a user gets from defaults.yaml alone: a synthetic batch that sets only its name (and
 * `overrides`), merged, overridden from the environment and validated exactly as a batch file is.
 * `anomstack backtest` replays it when no --batch is given.
 */
export function loadDefaultBatch(options: DefaultBatchOptions): { batch: MetricBatch | null; problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const env = options.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const defaults = readDefaults(path.join(options.defaultsDir, 'defaults.yaml'), options.defaultsDir, DEFAULT_READ_LIMITS, problems);
  const name = options.name ?? 'backtest';
  const own: Record<string, unknown> = {
    metric_batch: name,
    // Validation wants an ingest; a replay reads its points from elsewhere and never runs it.
    ingest_sql: 'select 1 where false',
    ...options.overrides,
  };
  const file = `<default batch ${name}>`;
  const load = { metricsDir: options.defaultsDir, defaultsDir: options.defaultsDir, ignoreExamples: true, env, limits: DEFAULT_READ_LIMITS };
  const batch = problems.length > 0 ? null : buildBatch(file, own, defaults, load, env, problems, warnings);
  return { batch, problems, warnings };
}

/** One batch from its own keys: includes, merge over the defaults, environment overrides, validation. */
function buildBatch(
  file: string,
  own: Record<string, unknown>,
  defaults: Record<string, unknown>,
  options: LoadOptions & { limits: ReadLimits },
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
): MetricBatch | null {
  if (typeof own.metric_batch !== 'string' || own.metric_batch.trim() === '') {
    problems.push({ file, key: 'metric_batch', reason: 'is required (the batch name)' });
    return null;
  }
  const name = own.metric_batch;
  const roots = [options.metricsDir];
  const budget = includeBudget(options.limits);
  let ingestFnFile: { path: string; language: IngestFnLanguage } | null = null;
  for (const [key, value] of Object.entries(own)) {
    if (typeof value !== 'string') {
      continue;
    }
    if (key === 'ingest_fn') {
      ingestFnFile = scriptInclude(value, options.metricsDir);
    }
    own[key] = resolveIncludes(value, { file, key, roots, defaultsDir: options.defaultsDir, limits: options.limits, budget }, problems);
  }

  // An original Anomstack folder's defaults.yaml picks the engine of the batches that name none
  // (its default is duckdb, which the original's examples are written for): only `db` is taken.
  const merged: Record<string, unknown> = { ...defaults, ...options.folderDefaults, ...own };
  const sources = applyEnvOverrides(merged, own, name, env, problems, file, warnings);
  const unsupported = unsupportedReason(merged);
  if (unsupported) {
    // Skipped whole: its other keys (BigQuery SQL, cloud paths) would only add noise.
    (options.unsupported ?? problems).push({ file, key: unsupported.key, reason: unsupported.reason });
    return null;
  }
  if (typeof merged.ingest_db_file === 'string' && merged.ingest_db_file !== '') {
    // Relative to the metrics directory, as includes are.
    merged.ingest_db_file = path.resolve(options.metricsDir, merged.ingest_db_file);
  }
  const where = (key: string): string => (sources.has(key) ? `${key} (from ${sources.get(key)})` : key);

  const parsed = parseBatchConfig(merged);
  if (!parsed.ok) {
    for (const { key, reason } of parsed.problems) {
      problems.push({ file, key: where(key), reason });
    }
  }
  for (const key of Object.keys(own)) {
    if (!KNOWN_KEYS.has(key)) {
      // A near miss of a known key is a typo whose setting would be lost: an error. A key far
      // from every known one is the user's own (template values) and only warned about.
      const guess = didYouMean(key);
      if (guess) {
        problems.push({ file, key, reason: `unknown key: did you mean ${guess}? (a key of your own must not be this close to a known one)` });
      } else {
        warnings.push({ file, key, reason: 'unknown key, ignored' });
      }
    }
  }
  if (merged.db !== 'postgres' && typeof merged.ingest_db_url_env === 'string' && merged.ingest_db_url_env !== '') {
    problems.push({ file, key: where('ingest_db_url_env'), reason: `applies to db: postgres only; this batch's ingest_sql runs in ${String(merged.db)}` });
  }
  if (merged.db === 'postgres' && typeof merged.ingest_db_file === 'string' && merged.ingest_db_file !== '') {
    problems.push({ file, key: where('ingest_db_file'), reason: 'applies to db: duckdb or sqlite only (db is postgres)' });
  }
  if (typeof own.preprocess_fn === 'string') {
    warnings.push({ file, key: 'preprocess_fn', reason: 'custom Python preprocess functions are not supported; preprocess_params apply' });
  }
  for (const [key, value] of Object.entries(merged)) {
    if (key.endsWith('_sql') && typeof value === 'string') {
      const problem = templateProblem(value);
      if (problem) {
        problems.push({ file, key: where(key), reason: problem });
      }
    }
  }

  const hasSql = typeof merged.ingest_sql === 'string' && merged.ingest_sql.trim() !== '';
  const hasFn = typeof merged.ingest_fn === 'string' && merged.ingest_fn.trim() !== '';
  if (!hasSql && !hasFn) {
    problems.push({ file, key: 'ingest_sql', reason: 'missing ingest: set ingest_sql or ingest_fn' });
  } else if (hasSql && hasFn) {
    problems.push({ file, key: 'ingest_fn', reason: 'set only one of ingest_sql and ingest_fn' });
  } else if (hasFn && !ingestFnFile && !/\bdef\s+ingest\s*\(/.test(String(merged.ingest_fn))) {
    problems.push({ file, key: where('ingest_fn'), reason: 'must define a Python function ingest() (or include a .ts/.js file exporting ingest)' });
  }
  if (problems.length > 0 || !parsed.ok) {
    return null;
  }
  return toMetricBatch(name, file, merged, parsed.config, parsed.jobKeys, ingestFnFile);
}

interface IncludeContext {
  file: string;
  key: string;
  /** Directories an include may read from; the first is where relative paths start. */
  roots: string[];
  /** The original kept defaults under metrics/defaults: `./defaults/...` falls back here. */
  defaultsDir?: string;
  /** Caps on what includes may bring in; the budget is shared by every key of one file. */
  limits?: ReadLimits;
  budget?: IncludeBudget;
}

/** Replaces `{% include "./path" %}` with the file's text, recursively, never leaving the roots. */
export function resolveIncludes(text: string, context: IncludeContext, problems: ConfigProblem[], depth = 0): string {
  if (depth > 10) {
    // Once per file: a cycle would otherwise report it at every branch.
    if (!context.budget?.spent) {
      problems.push({ file: context.file, key: context.key, reason: 'includes nest more than 10 deep (a cycle?)' });
    }
    (context.budget ??= includeBudget(context.limits ?? DEFAULT_READ_LIMITS)).spent = true;
    return '';
  }
  return text.replace(INCLUDE, (_match, includePath: string) => {
    const target = resolveIncludePath(includePath, context);
    if ('error' in target) {
      problems.push({ file: context.file, key: context.key, reason: target.error });
      return '';
    }
    const content = readInclude(target.path, includePath, context);
    if ('error' in content) {
      if (content.error !== null) {
        problems.push({ file: context.file, key: context.key, reason: content.error });
      }
      return '';
    }
    return resolveIncludes(content.text, context, problems, depth + 1);
  });
}

/** An included file's text, within the per-file caps (regular file, size, include count and bytes). */
function readInclude(file: string, includePath: string, context: IncludeContext): { text: string } | { error: string | null } {
  const limits = context.limits ?? DEFAULT_READ_LIMITS;
  const budget = (context.budget ??= includeBudget(limits));
  if (budget.spent) {
    return { error: null };
  }
  try {
    const text = readConfigFile(file, [...context.roots, ...(context.defaultsDir ? [context.defaultsDir] : [])], limits.maxFileBytes);
    const over = spendInclude(budget, Buffer.byteLength(text), limits);
    return over === null ? { text } : { error: `include "${includePath}": ${over}` };
  } catch (error) {
    return { error: `include "${includePath}": ${(error as Error).message}` };
  }
}

function resolveIncludePath(includePath: string, context: IncludeContext): { path: string } | { error: string } {
  const root = context.roots[0] ?? '.';
  const candidates = [path.resolve(root, includePath)];
  const allowed = [...context.roots];
  if (context.defaultsDir && /^\.?\/?defaults\//.test(includePath)) {
    candidates.push(path.resolve(context.defaultsDir, includePath.replace(/^\.?\/?defaults\//, '')));
    allowed.push(context.defaultsDir);
  }
  for (const candidate of candidates) {
    if (!allowed.some((dir) => isInside(candidate, dir))) {
      return { error: `include "${includePath}" points outside ${root}` };
    }
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      const real = fs.realpathSync(candidate);
      if (!allowed.some((dir) => isInside(real, fs.realpathSync(dir)))) {
        return { error: `include "${includePath}" links outside ${root}` };
      }
      return { path: candidate };
    }
  }
  return { error: `include "${includePath}" not found (looked for ${candidates.join(', ')})` };
}

/** An ingest_fn that is one include of a .ts/.js file runs from that file. */
function scriptInclude(value: string, metricsDir: string): { path: string; language: IngestFnLanguage } | null {
  const match = SOLE_INCLUDE.exec(value);
  const file = match?.[1];
  if (!file) {
    return null;
  }
  if (/\.(ts|mts)$/.test(file)) {
    return { path: path.resolve(metricsDir, file), language: 'typescript' };
  }
  if (/\.(js|mjs)$/.test(file)) {
    return { path: path.resolve(metricsDir, file), language: 'javascript' };
  }
  return null;
}

/**
 * `ANOMSTACK_<KEY>` for every batch, `ANOMSTACK__<BATCH>__<KEY>` for one (which wins), parsed to
 * the key's type. As in the original, a batch YAML that sets table_key keeps it over the global
 * variable. Returns which variable set each key, for error messages.
 */
function applyEnvOverrides(
  config: Record<string, unknown>,
  own: Record<string, unknown>,
  batch: string,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  file: string,
  warnings: ConfigProblem[] = [],
): Map<string, string> {
  const sources = new Map<string, string>();
  const set = (variable: string, key: string, raw: string): void => {
    const parsed = parseEnvValue(key, raw);
    if ('error' in parsed) {
      problems.push({ file, key: `${key} (from ${variable})`, reason: parsed.error });
      return;
    }
    config[key] = parsed.value;
    sources.set(key, variable);
  };
  for (const key of KNOWN_KEYS) {
    const variable = `ANOMSTACK_${key.toUpperCase()}`;
    const raw = env[variable];
    if (raw !== undefined && !(key === 'table_key' && 'table_key' in own) && key !== 'metric_batch') {
      set(variable, key, raw);
    }
  }
  const prefix = `ANOMSTACK__${batch.toUpperCase().replace(/-/g, '_')}__`;
  for (const [variable, raw] of Object.entries(env)) {
    if (variable.startsWith(prefix) && raw !== undefined) {
      const key = variable.slice(prefix.length).toLowerCase();
      warnings.push(...unknownEnvKey(variable, key, file));
      set(variable, key, raw);
    }
  }
  return sources;
}

/** A per-batch variable naming no known key warns as a YAML typo does, with "did you mean". */
function unknownEnvKey(variable: string, key: string, file: string): ConfigProblem[] {
  if (KNOWN_KEYS.has(key)) {
    return [];
  }
  const guess = didYouMean(key);
  return [{ file, key: `${key} (from ${variable})`, reason: guess ? `unknown key, ignored: did you mean ${guess}?` : 'unknown key, ignored' }];
}

/** Decimal numbers only, as in the YAML: Number() would take `0x10` and `1e` forms like `Infinity`. */
const DECIMAL = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

function parseEnvValue(key: string, raw: string): { value: unknown } | { error: string } {
  switch (keyKind(key)) {
    case 'string':
      return { value: raw };
    case 'boolean': {
      const value = parseBoolean(raw);
      return value === null ? { error: `"${raw}" is not true/false` } : { value };
    }
    case 'number': {
      const value = Number(raw);
      return !DECIMAL.test(raw) || !Number.isFinite(value) ? { error: `"${raw}" is not a number (decimal only)` } : { value };
    }
    case 'json':
      try {
        return { value: JSON.parse(raw) as unknown };
      } catch {
        return { error: `${show(raw)} is not JSON (lists and objects are given as JSON)` };
      }
  }
}

/**
 * The batch as the jobs see it: the typed config, the template view (the merged keys, the user's
 * own too, with the typed values over them), and what the registry derives per job.
 */
function toMetricBatch(
  name: string,
  file: string,
  merged: Record<string, unknown>,
  config: BatchConfig,
  jobKeys: Record<string, unknown>,
  ingestFnFile: { path: string; language: IngestFnLanguage } | null,
): MetricBatch {
  const disabled = Object.fromEntries(JOB_NAMES.map((job) => [job, jobKeys[`disable_${job}`] === true])) as Record<JobName, boolean>;
  // The original read only the misspelt `disable_alerts`; both switch alerts off here.
  disabled.alert ||= config.disable_alerts === true;
  const schedules: Partial<Record<JobName, { cron: string; running: boolean }>> = {};
  for (const job of JOB_NAMES) {
    const kind = jobKind(job).schedule;
    if (kind !== 'chained') {
      // A global job (the summary) always runs unless disabled, as in the original.
      const running = kind === 'global' || jobKeys[`${job}_default_schedule_status`] === 'RUNNING';
      schedules[job] = { cron: String(jobKeys[`${job}_cron_schedule`]), running };
    }
  }
  const ingest: MetricBatch['ingest'] =
    typeof config.ingest_sql === 'string' && config.ingest_sql.trim() !== ''
      ? { kind: 'sql', sql: config.ingest_sql, dbUrlEnv: config.ingest_db_url_env ?? null }
      : {
          kind: 'fn',
          language: ingestFnFile?.language ?? 'python',
          source: String(config.ingest_fn),
          path: ingestFnFile?.path ?? null,
          params: config.ingest_fn_params,
        };
  return { name, file, config, vars: { ...merged, ...config }, ingest, disabled, schedules };
}

/** The batch files that did not load, each with its errors (`/api/batches`, logs). */
export function brokenBatches(load: Pick<LoadResult, 'problems'>): { file: string; errors: { key: string; reason: string }[] }[] {
  const byFile = new Map<string, { key: string; reason: string }[]>();
  for (const { file, key, reason } of load.problems) {
    byFile.set(file, [...(byFile.get(file) ?? []), { key, reason }]);
  }
  return [...byFile].map(([file, errors]) => ({ file, errors }));
}
