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

/** A row that passed the checks: `metric_value` rounded, `raw` as given (duplicates average the raw values). */
export interface ValidRow extends MetricRow {
  raw: number;
}

/** What a validated stream of rows ends with. */
export interface ValidatedIngestEnd {
  warnings: string[];
  /** Rows that passed, duplicates included (they are averaged later). */
  valid: number;
  /** The (metric_name, metric_timestamp) keys given more than once: their rows are to be averaged (`averageDuplicates`). */
  duplicateKeys: { name: string; time: Date }[];
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
  const validator = new IngestRowValidator(batch, opts);
  const valid = validator.add(rows);
  const { warnings } = validator.finish();
  const averaged = averageDuplicates(batch, valid, opts.rounding);
  if (averaged.warning !== null) {
    warnings.push(averaged.warning);
  }
  return { rows: averaged.rows.map(({ raw: _raw, ...row }) => row), warnings };
}

/**
 * `validateIngestRows` for rows that arrive in chunks (a backfill's cursor): `add` checks one
 * chunk and returns its good rows (none once any row failed: nothing is to be written then),
 * numbering rows across chunks; `finish` throws the problems of all the chunks, as one error,
 * or returns the warnings and the duplicated keys. It keeps per metric only the timestamps
 * (8 bytes a row), not the rows.
 */
export class IngestRowValidator {
  private readonly problems: string[] = [];
  private problemCount = 0;
  private readonly extraColumns = new Set<string>();
  private readonly seenColumns = new Set<string>();
  private readonly firstColumns = new Set<string>();
  private anyObject = false;
  private otherBatch: { value: unknown; count: number } | undefined;
  private otherType: { value: unknown; count: number } | undefined;
  private secondsLike = 0;
  private total = 0;
  private valid = 0;
  /** Per metric, the timestamps of its good rows, for the duplicate check. */
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly batch: string,
    private readonly opts: ValidateIngestRowsOptions,
  ) {}

  /** Whether a problem was found so far. */
  get failed(): boolean {
    return this.problemCount > 0;
  }

  add(rows: Record<string, unknown>[]): ValidRow[] {
    if (!Array.isArray(rows)) {
      this.fail(['ingest did not return a list of rows']);
    }
    const out: ValidRow[] = [];
    const problem = (text: string): void => {
      this.problemCount += 1;
      if (this.problems.length < MAX_PROBLEMS) {
        this.problems.push(text);
      }
    };
    for (const [offset, row] of rows.entries()) {
      const index = this.total + offset;
      const at = `row ${index}`;
      if (!isPlainObject(row)) {
        problem(`${at}: is ${describe(row)}, not an object`);
        continue;
      }
      this.anyObject = true;
      const before = this.problemCount;
      const name = checkName(row.metric_name, (text) => problem(`${at}: metric_name: ${text}`));
      const value = checkValue(row.metric_value, (text) => problem(`${at}: metric_value: ${text}`));
      const time = checkTimestamp(row.metric_timestamp, (text) => problem(`${at}: metric_timestamp: ${text}`));
      const metadata = checkMetadata(row.metadata, (text) => problem(`${at}: metadata: ${text}`));
      for (const key of Object.keys(row)) {
        if (!KNOWN_COLUMNS.has(key)) {
          this.extraColumns.add(key);
        }
        if (index < 100) {
          this.firstColumns.add(key);
        }
      }
      for (const column of REQUIRED_COLUMNS) {
        if (column in row) {
          this.seenColumns.add(column);
        }
      }
      if (!isBlank(row.metric_batch) && row.metric_batch !== this.batch) {
        this.otherBatch = { value: this.otherBatch?.value ?? row.metric_batch, count: (this.otherBatch?.count ?? 0) + 1 };
      }
      if (!isBlank(row.metric_type) && row.metric_type !== 'metric') {
        this.otherType = { value: this.otherType?.value ?? row.metric_type, count: (this.otherType?.count ?? 0) + 1 };
      }
      if (this.problemCount === before && name !== undefined && value !== undefined && time !== undefined) {
        if (typeof row.metric_timestamp === 'number' && Math.abs(time) < 1e11) {
          this.secondsLike += 1;
        }
        this.valid += 1;
        let times = this.times.get(name);
        if (times === undefined) {
          times = [];
          this.times.set(name, times);
        }
        times.push(time);
        if (this.problemCount === 0) {
          out.push({
            metric_timestamp: new Date(time),
            metric_batch: this.batch,
            metric_name: name,
            metric_type: 'metric',
            metric_value: roundHalfEven(value, this.opts.rounding),
            metadata: metadata ?? null,
            raw: value,
          });
        }
      }
    }
    this.total += rows.length;
    return this.problemCount === 0 ? out : [];
  }

  /** Throws the problems found, or returns the warnings and the keys given more than once. */
  finish(): ValidatedIngestEnd {
    if (this.total === 0) {
      this.fail(['ingest returned no rows']);
    }
    // A required column missing from every row is one problem, not one per row.
    const missingEverywhere = REQUIRED_COLUMNS.filter((column) => !this.seenColumns.has(column));
    if (missingEverywhere.length > 0 && this.anyObject) {
      this.fail([
        `missing column${missingEverywhere.length > 1 ? 's' : ''} ${missingEverywhere.join(', ')} ` +
          `(columns returned: ${[...this.firstColumns].join(', ') || 'none'})`,
      ]);
    }
    if (this.problemCount > 0) {
      const more = this.problemCount - this.problems.length;
      throw new IngestInputError(`batch "${this.batch}": ${this.problems.join('; ')}${more > 0 ? `; and ${more} more problems` : ''}`);
    }
    const warnings: string[] = [];
    if (this.extraColumns.size > 0) {
      warnings.push(`batch "${this.batch}": dropped extra columns: ${[...this.extraColumns].sort().join(', ')}`);
    }
    if (this.otherBatch !== undefined) {
      warnings.push(
        `batch "${this.batch}": ${this.otherBatch.count} rows had metric_batch ${truncate(this.otherBatch.value)}; set to "${this.batch}"`,
      );
    }
    if (this.otherType !== undefined) {
      warnings.push(`batch "${this.batch}": ${this.otherType.count} rows had metric_type ${truncate(this.otherType.value)}; set to "metric"`);
    }
    if (this.secondsLike > 0) {
      warnings.push(
        `batch "${this.batch}": ${this.secondsLike} numeric metric_timestamp values are before 1973 as epoch milliseconds; epoch seconds?`,
      );
    }
    const duplicateKeys: { name: string; time: Date }[] = [];
    for (const [name, list] of this.times) {
      if (list.length < 2) {
        continue;
      }
      const sorted = Float64Array.from(list).sort();
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i] === sorted[i - 1] && sorted[i] !== sorted[i - 2]) {
          duplicateKeys.push({ name, time: new Date(sorted[i]!) });
        }
      }
    }
    return { warnings, valid: this.valid, duplicateKeys };
  }

  private fail(problems: string[]): never {
    const shown = problems.slice(0, MAX_PROBLEMS);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more problems` : '';
    throw new IngestInputError(`batch "${this.batch}": ${shown.join('; ')}${more}`);
  }
}

/**
 * Duplicates of (name, timestamp) averaged (their raw values, in the order given, then rounded);
 * the metadata of the last one wins, and each key keeps the place of its first row. `warning`
 * says how many rows were merged, with the first key as an example; null when there were none.
 */
export function averageDuplicates(batch: string, rows: readonly ValidRow[], rounding: number): { rows: ValidRow[]; warning: string | null } {
  const groups = new Map<string, { first: ValidRow; sum: number; count: number; metadata: Record<string, unknown> | null }>();
  for (const row of rows) {
    const key = `${row.metric_timestamp.getTime()}\u0000${row.metric_name}`;
    const group = groups.get(key);
    if (group === undefined) {
      groups.set(key, { first: row, sum: row.raw, count: 1, metadata: row.metadata });
    } else {
      group.sum += row.raw;
      group.count += 1;
      group.metadata = row.metadata;
    }
  }
  const duplicates = rows.length - groups.size;
  if (duplicates === 0) {
    return { rows: [...rows], warning: null };
  }
  const out: ValidRow[] = [];
  let example: { first: ValidRow; count: number } | undefined;
  for (const group of groups.values()) {
    if (group.count === 1) {
      out.push(group.first);
      continue;
    }
    example ??= group;
    const raw = group.sum / group.count;
    out.push({ ...group.first, metric_value: roundHalfEven(raw, rounding), raw, metadata: group.metadata });
  }
  const at = example ? `, e.g. "${example.first.metric_name}" at ${example.first.metric_timestamp.toISOString()} (${example.count} rows)` : '';
  return { rows: out, warning: `batch "${batch}": ${duplicates} duplicate (metric_name, metric_timestamp) rows averaged${at}` };
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
