/** Languages an ingest function can be written in. */
export type IngestFnLanguage = 'python' | 'typescript' | 'javascript';

/** One run of a batch's ingest function. */
export interface IngestFnSpec {
  batch: string;
  language: IngestFnLanguage;
  /** The function's code text. */
  source: string;
  /**
   * Absolute path of the file, when `ingest_fn` was one `{% include %}` of a file. TypeScript and
   * JavaScript run from the real file so that its relative imports work; Python uses it for tracebacks.
   */
  path?: string;
  /** Keyword arguments (Python) or the single argument (TypeScript/JavaScript): `ingest_fn_params`. */
  params: Record<string, unknown>;
  /** `ingest_timeout_s` in ms. */
  timeoutMs: number;
  /** `ingest_memory_mb`. */
  memoryMb: number;
}

export interface IngestFnRunOptions {
  /** Python interpreter: `ANOMSTACK_PYTHON`, default `python3`. */
  python: string;
  /** Receives the function's own output, line by line. */
  log: (stream: 'stdout' | 'stderr', line: string) => void;
  /**
   * The worker environment the function's is made from (an allow-list plus the
   * `ANOMSTACK_INGEST_ENV_<NAME>` variables as `<NAME>`: see childEnv). @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /**
   * Python only: `warm` forks each run from a long-lived interpreter that has already imported
   * pandas; `cold` starts an interpreter per run. @defaultValue `'warm'`
   */
  pythonMode?: 'warm' | 'cold';
}
