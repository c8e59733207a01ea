/**
 * Progress lines for long work (a first train over many metrics, a backfill's write, migrate,
 * score-csv): one line at the start, one at most every `everyMs` while it runs with the count
 * done, the total and the rate, and one at the end with the totals. Pure apart from the sink
 * and the clock, both given, so it serves the logger (services) and stderr (CLI) alike.
 */

export interface ProgressFields {
  task: string;
  unit: string;
  done: number;
  /** Null while unknown (a stream). */
  total: number | null;
  /** Per second since the start, rounded to 3 significant digits. */
  rate: number;
  elapsedS: number;
}

/** Where lines go: `phase` says which of the three kinds it is. */
export type ProgressSink = (phase: 'start' | 'progress' | 'end', message: string, fields: ProgressFields) => void;

export interface ProgressOptions {
  /** What is being done, e.g. `train example_simple`. */
  task: string;
  /** What is counted, plural, e.g. `metrics`. */
  unit: string;
  /** How many there are to do; unknown for a stream (the lines then give the count done). */
  total?: number;
  /** The least time between two progress lines. @defaultValue ANOMSTACK_PROGRESS_EVERY_MS (5000) */
  everyMs?: number;
  /** The clock, in ms; tests give their own. @defaultValue Date.now */
  now?: () => number;
}

export interface Progress {
  /** Counts `n` more done; writes a progress line when `everyMs` has passed since the last line. */
  add(n: number): void;
  /** Writes the end line (once) with the totals and `summary` appended; returns the fields. */
  end(summary?: string): ProgressFields;
}

let defaultEveryMs = 5000;

/** The process's interval between progress lines (ANOMSTACK_PROGRESS_EVERY_MS), set with the logger. */
export function setProgressEvery(ms: number): void {
  defaultEveryMs = ms;
}

export function startProgress(sink: ProgressSink, options: ProgressOptions): Progress {
  const now = options.now ?? Date.now;
  const everyMs = options.everyMs ?? defaultEveryMs;
  const started = now();
  let last = started;
  let done = 0;
  let ended = false;
  const fields = (): ProgressFields => {
    const elapsedMs = now() - started;
    return {
      task: options.task,
      unit: options.unit,
      done,
      total: options.total ?? null,
      rate: elapsedMs > 0 ? Number(((done * 1000) / elapsedMs).toPrecision(3)) : 0,
      elapsedS: Number((elapsedMs / 1000).toFixed(1)),
    };
  };
  sink('start', `${options.task}: started${options.total === undefined ? '' : `, ${options.total} ${options.unit}`}`, fields());
  return {
    add(n) {
      done += n;
      const at = now();
      if (at - last >= everyMs && (options.total === undefined || done < options.total)) {
        last = at;
        const f = fields();
        if (options.total === undefined) {
          sink('progress', `${options.task}: ${done} ${options.unit}, ${f.rate} ${options.unit}/s`, f);
        } else {
          const percent = options.total > 0 ? Math.floor((100 * done) / options.total) : 100;
          sink('progress', `${options.task}: ${done}/${options.total} ${options.unit} (${percent}%), ${f.rate} ${options.unit}/s`, f);
        }
      }
    },
    end(summary) {
      const f = fields();
      if (!ended) {
        ended = true;
        sink('end', `${options.task}: done, ${done} ${options.unit} in ${f.elapsedS} s (${f.rate} ${options.unit}/s)${summary ? `, ${summary}` : ''}`, f);
      }
      return f;
    },
  };
}

/** A sink onto a pino logger: the message, with the counts as fields. */
export const logSink =
  (log: { info: (fields: object, message: string) => void }): ProgressSink =>
  (_phase, message, fields) =>
    log.info({ progress: fields }, message);

/** A sink onto a stream (the CLI's stderr): one plain line each. */
export const streamSink =
  (stream: { write: (text: string) => unknown }): ProgressSink =>
  (_phase, message) =>
    stream.write(`${message}\n`);
