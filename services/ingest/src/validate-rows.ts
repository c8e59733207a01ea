import { roundHalfEven, STORABLE, unstorableTime, type MetricRow } from '../../../shared/metric-row.js';
import { parseIsoTimestamp } from '../../../shared/timestamps.js';
import { IngestInputError } from './ingest-fn/errors.js';

export type { MetricRow } from '../../../shared/metric-row.js';

export interface ValidateIngestRowsOptions {
  /** `ingest_metric_rounding`: decimals kept in metric_value, rounded half to even. */
  rounding: number;
}

export interface ValidatedIngestRows {
  rows: MetricRow[];
  warnings: string[];
}

/** How many problems one error lists before it says "and N more". */
const MAX_PROBLEMS = 10;
const MAX_VALUE_CHARS = 60;
const KNOWN_COLUMNS = new Set(['metric_name', 'metric_value', 'metric_timestamp', 'metric_batch', 'metric_type', 'metadata']);
const REQUIRED_COLUMNS = ['metric_name', 'metric_value', 'metric_timestamp'] as const;

/**
 * Checks and normalises what an ingest function or query returned (docs/behaviour.md, "Ingest").
 * One bad row rejects the whole run: the error names the batch, the row (0-based, in the order
 * the function returned them), the column, the problem and the value, for up to 10 problems.
 * Duplicate (metric_name, metric_timestamp) rows are averaged; metric_value is rounded half to
 * even to `rounding` decimals, as numpy rounds.
 */
export function validateIngestRows(
  batch: string,
  rows: Record<string, unknown>[],
  opts: ValidateIngestRowsOptions,
): ValidatedIngestRows {
  const fail = (problems: string[]): never => {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more problems` : '';
    throw new IngestInputError(`batch "${batch}": ${shown.join('; ')}${more}`);
  };
  if (!Array.isArray(rows)) {
    fail(['ingest did not return a list of rows']);
  }
  if (rows.length === 0) {
    fail(['ingest returned no rows']);
  }

  const problems: string[] = [];
  const warnings: string[] = [];
  const extraColumns = new Set<string>();

  // A required column missing from every row is one problem, not one per row.
  const missingEverywhere = REQUIRED_COLUMNS.filter((column) =>
    rows.every((row) => !isPlainObject(row) || !(column in row)),
  );
  if (missingEverywhere.length > 0 && rows.some(isPlainObject)) {
    const present = new Set<string>();
    for (const row of rows.slice(0, 100)) {
      if (isPlainObject(row)) {
        Object.keys(row).forEach((key) => present.add(key));
      }
    }
    fail([
      `missing column${missingEverywhere.length > 1 ? 's' : ''} ${missingEverywhere.join(', ')} ` +
        `(columns returned: ${[...present].join(', ') || 'none'})`,
    ]);
  }

  let otherBatch: { value: unknown; count: number } | undefined;
  let otherType: { value: unknown; count: number } | undefined;
  let secondsLike = 0;
  const parsed: { name: string; time: number; value: number; metadata: Record<string, unknown> | null }[] = [];

  rows.forEach((row, index) => {
    const at = `row ${index}`;
    if (!isPlainObject(row)) {
      problems.push(`${at}: is ${describe(row)}, not an object`);
      return;
    }
    const before = problems.length;
    const name = checkName(row.metric_name, (problem) => problems.push(`${at}: metric_name: ${problem}`));
    const value = checkValue(row.metric_value, (problem) => problems.push(`${at}: metric_value: ${problem}`));
    const time = checkTimestamp(row.metric_timestamp, (problem) => problems.push(`${at}: metric_timestamp: ${problem}`));
    const metadata = checkMetadata(row.metadata, (problem) => problems.push(`${at}: metadata: ${problem}`));
    for (const key of Object.keys(row)) {
      if (!KNOWN_COLUMNS.has(key)) {
        extraColumns.add(key);
      }
    }
    if (!isBlank(row.metric_batch) && row.metric_batch !== batch) {
      otherBatch = { value: otherBatch?.value ?? row.metric_batch, count: (otherBatch?.count ?? 0) + 1 };
    }
    if (!isBlank(row.metric_type) && row.metric_type !== 'metric') {
      otherType = { value: otherType?.value ?? row.metric_type, count: (otherType?.count ?? 0) + 1 };
    }
    if (problems.length === before && name !== undefined && value !== undefined && time !== undefined) {
      if (typeof row.metric_timestamp === 'number' && Math.abs(time) < 1e11) {
        secondsLike += 1;
      }
      parsed.push({ name, time, value, metadata: metadata ?? null });
    }
  });
  if (problems.length > 0) {
    fail(problems);
  }

  if (extraColumns.size > 0) {
    warnings.push(`batch "${batch}": dropped extra columns: ${[...extraColumns].sort().join(', ')}`);
  }
  if (otherBatch !== undefined) {
    warnings.push(
      `batch "${batch}": ${otherBatch.count} rows had metric_batch ${truncate(otherBatch.value)}; set to "${batch}"`,
    );
  }
  if (otherType !== undefined) {
    warnings.push(`batch "${batch}": ${otherType.count} rows had metric_type ${truncate(otherType.value)}; set to "metric"`);
  }
  if (secondsLike > 0) {
    warnings.push(
      `batch "${batch}": ${secondsLike} numeric metric_timestamp values are before 1973 as epoch milliseconds; epoch seconds?`,
    );
  }

  // Duplicates of (name, timestamp) are averaged; the metadata of the last one wins.
  const groups = new Map<string, { name: string; time: number; sum: number; count: number; metadata: Record<string, unknown> | null }>();
  for (const row of parsed) {
    const key = `${row.time}\u0000${row.name}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { name: row.name, time: row.time, sum: row.value, count: 1, metadata: row.metadata });
    } else {
      group.sum += row.value;
      group.count += 1;
      group.metadata = row.metadata;
    }
  }
  const duplicates = parsed.length - groups.size;
  if (duplicates > 0) {
    const example = [...groups.values()].find((group) => group.count > 1);
    warnings.push(
      `batch "${batch}": ${duplicates} duplicate (metric_name, metric_timestamp) rows averaged` +
        (example ? `, e.g. "${example.name}" at ${new Date(example.time).toISOString()} (${example.count} rows)` : ''),
    );
  }

  const out: MetricRow[] = [];
  for (const group of groups.values()) {
    out.push({
      metric_timestamp: new Date(group.time),
      metric_batch: batch,
      metric_name: group.name,
      metric_type: 'metric',
      metric_value: roundHalfEven(group.sum / group.count, opts.rounding),
      metadata: group.metadata,
    });
  }
  return { rows: out, warnings };
}

function checkName(value: unknown, problem: (text: string) => void): string | undefined {
  if (typeof value !== 'string') {
    problem(isBlank(value) ? 'is missing' : `${truncate(value)} is not text`);
    return undefined;
  }
  const name = value.trim();
  if (name === '') {
    problem('is empty');
    return undefined;
  }
  if (name.includes('\u0000')) {
    problem(`${truncate(name)} contains a NUL character`);
    return undefined;
  }
  if (name.length > STORABLE.maxNameChars) {
    problem(`is ${name.length} characters long (at most ${STORABLE.maxNameChars})`);
    return undefined;
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > STORABLE.maxNameBytes) {
    problem(`is ${bytes} bytes of UTF-8 (at most ${STORABLE.maxNameBytes})`);
    return undefined;
  }
  return name;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = new Set(['nan', 'inf', '+inf', '-inf', 'infinity', '+infinity', '-infinity']);

function checkValue(value: unknown, problem: (text: string) => void): number | undefined {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) {
      return value;
    }
    problem(`${String(value)} is not a finite number`);
    return undefined;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (DECIMAL.test(text)) {
      const number = Number(text);
      if (Number.isFinite(number)) {
        return number;
      }
    }
    problem(
      NON_FINITE.has(text.toLowerCase()) ? `${text} is not a finite number` : `${truncate(value)} is not a number`,
    );
    return undefined;
  }
  problem(value === null || value === undefined ? 'is missing (null)' : `${truncate(value)} is not a number`);
  return undefined;
}

const MAX_TIME = 8.64e15;

function checkTimestamp(value: unknown, problem: (text: string) => void): number | undefined {
  const time = parseTimestamp(value, problem);
  const unstorable = time === undefined ? null : unstorableTime(time);
  if (unstorable !== null) {
    problem(`${truncate(value)} ${unstorable}`);
    return undefined;
  }
  return time;
}

function parseTimestamp(value: unknown, problem: (text: string) => void): number | undefined {
  if (value instanceof Date) {
    const time = value.getTime();
    if (Number.isNaN(time)) {
      problem('is an invalid Date');
      return undefined;
    }
    return time;
  }
  if (typeof value === 'number') {
    if (Number.isFinite(value) && Math.abs(value) <= MAX_TIME) {
      return Math.trunc(value);
    }
    problem(`${String(value)} is not a valid epoch-milliseconds timestamp`);
    return undefined;
  }
  if (typeof value === 'string') {
    const time = parseIsoTimestamp(value.trim());
    if (time === undefined) {
      problem(`${truncate(value)} is not an ISO 8601 timestamp`);
    }
    return time;
  }
  problem(value === null || value === undefined ? 'is missing (null)' : `${truncate(value)} is not a timestamp`);
  return undefined;
}

function checkMetadata(value: unknown, problem: (text: string) => void): Record<string, unknown> | null | undefined {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  if (isPlainObject(value)) {
    return withoutNul(value, problem);
  }
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      problem(`${truncate(value)} is not JSON`);
      return undefined;
    }
    if (isPlainObject(parsed)) {
      return withoutNul(parsed, problem);
    }
    problem(`${truncate(value)} is not a JSON object`);
    return undefined;
  }
  problem(`${truncate(value)} is not an object or JSON text`);
  return undefined;
}

/** jsonb refuses \u0000 in any key or string (22P05). */
function withoutNul(value: Record<string, unknown>, problem: (text: string) => void): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    problem(`cannot be written as JSON: ${(error as Error).message}`);
    return undefined;
  }
  if (text.includes('\\u0000')) {
    problem('contains a NUL character');
    return undefined;
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function isBlank(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function truncate(value: unknown): string {
  let text: string;
  try {
    text = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}
