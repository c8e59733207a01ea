/**
 * Failed logins per client address (the socket's: the app does not trust proxy headers), in
 * memory: after `max` failures within `windowMs` the address is refused (429) until the oldest
 * failure leaves the window; a good login clears it. Behind a reverse proxy every client shares
 * the proxy's address, so one guesser there blocks the others' logins too (sessions and basic
 * auth already given keep working). Bounded: past `maxKeys` addresses the stalest is dropped.
 */
export interface FailureLimiter {
  /** Seconds until `key` may try again, or null when it may now. */
  retryAfter(key: string, now: number): number | null;
  fail(key: string, now: number): void;
  succeed(key: string): void;
}

export function createFailureLimiter(options: { max: number; windowMs: number; maxKeys?: number }): FailureLimiter {
  const failures = new Map<string, number[]>();
  const maxKeys = options.maxKeys ?? 10_000;
  const recent = (key: string, now: number): number[] => {
    const times = (failures.get(key) ?? []).filter((t) => now - t < options.windowMs);
    if (times.length === 0) {
      failures.delete(key);
    } else {
      failures.set(key, times);
    }
    return times;
  };
  return {
    retryAfter(key, now) {
      const times = recent(key, now);
      if (times.length < options.max) {
        return null;
      }
      return Math.max(1, Math.ceil((times[times.length - options.max]! + options.windowMs - now) / 1000));
    },
    fail(key, now) {
      const times = recent(key, now);
      times.push(now);
      // Re-inserted so Map order is staleness order; the stalest address goes first.
      failures.delete(key);
      failures.set(key, times);
      if (failures.size > maxKeys) {
        failures.delete(failures.keys().next().value!);
      }
    },
    succeed(key) {
      failures.delete(key);
    },
  };
}
