import type { JobName } from '../jobs.js';
import type { BatchConfig } from './schema.js';

export type IngestFnLanguage = 'python' | 'typescript' | 'javascript';

/**
 * One metric batch after the merge over defaults.yaml, include resolution, environment
 * overrides and validation. Keys keep the original Anomstack names so templates and users'
 * YAML read the same.
 */
export interface MetricBatch {
  name: string;
  /** The batch's YAML file, for error messages. */
  file: string;
  /** Every known key, typed and complete (shared/config/schema.ts): what the job cores read. */
  config: BatchConfig;
  /** The view SQL templates render with: every merged key, the user's own too. Not for cores. */
  vars: Readonly<Record<string, unknown>>;
  ingest:
    | { kind: 'sql'; sql: string; dbUrlEnv: string | null }
    | { kind: 'fn'; language: IngestFnLanguage; source: string; path: string | null; params: Record<string, unknown> };
  /** `disable_<job>` per registered job (`disable_alerts` counts for alert). */
  disabled: Readonly<Record<JobName, boolean>>;
  /** Cron (UTC) and whether the schedule starts RUNNING, per scheduled job. */
  schedules: Readonly<Partial<Record<JobName, { cron: string; running: boolean }>>>;
}
