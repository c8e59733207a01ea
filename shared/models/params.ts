/**
 * Reads PyOD-style constructor parameters, collecting every problem instead of stopping at the first
 * (config validation reports them all at once).
 */
export class ParamReader {
  readonly problems: string[] = [];

  constructor(
    private readonly model: string,
    private readonly params: Record<string, unknown>,
  ) {}

  /** Flags parameters that are not in `known`. */
  checkKnown(known: readonly string[]): void {
    for (const key of Object.keys(this.params)) {
      if (!known.includes(key)) {
        this.problems.push(`${this.model}: unknown parameter '${key}' (known: ${known.join(', ')})`);
      }
    }
  }

  /** The raw value, for parameters with a type of their own (e.g. IForest's max_samples). */
  raw(name: string): unknown {
    return this.params[name];
  }

  integer(name: string, fallback: number, min: number): number {
    const value = this.params[name];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.problems.push(`${this.model}: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  /** An integer, or null when absent (PyOD's `None`). */
  optionalInteger(name: string, min: number): number | null {
    const value = this.params[name];
    return value === undefined || value === null ? null : this.integer(name, min, min);
  }

  number(name: string, fallback: number, check: (v: number) => boolean, expected: string): number {
    const value = this.params[name];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      this.problems.push(`${this.model}: ${name} must be ${expected}, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.params[name];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== 'boolean') {
      this.problems.push(`${this.model}: ${name} must be true or false, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value;
  }

  oneOf<T>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.params[name];
    if (value === undefined || value === null) {
      return fallback;
    }
    if (!allowed.includes(value as T)) {
      this.problems.push(
        `${this.model}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`,
      );
      return fallback;
    }
    return value as T;
  }

  /** PyOD's `contamination`: only sets the label threshold, which scoring does not use. */
  contamination(): void {
    this.number('contamination', 0.1, (v) => v > 0 && v <= 0.5, 'a number in (0, 0.5]');
  }

  /** Throws all problems at once (fit time); config validation reads `problems` instead. */
  assertValid(): void {
    if (this.problems.length > 0) {
      throw new Error(this.problems.join('; '));
    }
  }
}
