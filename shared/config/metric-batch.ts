import type { ModelConfig, PreprocessParams } from '../models/index.js';

export type { PreprocessParams };

/** The jobs a batch can run; each is a BullMQ queue of the same name. */
export const JOB_NAMES = ['ingest', 'train', 'score', 'alert', 'change', 'tholdalert', 'plot', 'summary', 'delete'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export const isJobName = (value: string): value is JobName => (JOB_NAMES as readonly string[]).includes(value);

export type IngestFnLanguage = 'python' | 'typescript' | 'javascript';

/**
 * One metric batch after the merge over defaults.yaml, include resolution, environment
 * overrides and validation. Keys keep the original Anomstack names so templates and users'
 * YAML read the same; `config` holds every key for template rendering.
 */
export interface MetricBatch {
  name: string;
  /** The batch's YAML file, for error messages. */
  file: string;
  tableKey: string;
  config: Readonly<Record<string, unknown>>;
  ingest:
    | { kind: 'sql'; sql: string; dbUrlEnv: string | null }
    | { kind: 'fn'; language: IngestFnLanguage; source: string; path: string | null; params: Record<string, unknown> };
  ingestTimeoutMs: number;
  ingestMemoryMb: number;
  modelPath: string;
  modelConfigs: ModelConfig[];
  modelCombinationMethod: 'mean' | 'max' | 'min';
  preprocess: PreprocessParams;
  disabled: Readonly<Record<JobName, boolean>>;
  /** Cron (UTC) and whether the schedule starts RUNNING, per scheduled job. */
  schedules: Readonly<Partial<Record<JobName, { cron: string; running: boolean }>>>;
  alertMethods: ('email' | 'slack')[];
  tholdalertMethods: ('email' | 'slack')[];
  metricTags: Readonly<Record<string, Record<string, string | number | boolean>>>;
  tholdalertThresholds: Readonly<Record<string, { upper?: number; lower?: number }>>;
}

/** Typed read of a validated numeric key. */
export function num(batch: MetricBatch, key: string): number {
  const value = batch.config[key];
  if (typeof value !== 'number') {
    throw new Error(`batch "${batch.name}": ${key} is not a number`);
  }
  return value;
}

export function bool(batch: MetricBatch, key: string): boolean {
  return batch.config[key] === true;
}

export function names(batch: MetricBatch, key: string): string[] {
  const value = batch.config[key];
  return Array.isArray(value) ? (value as string[]) : [];
}
