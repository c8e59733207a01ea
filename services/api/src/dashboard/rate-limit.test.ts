import { describe, expect, it } from 'vitest';
import { createFailureLimiter } from './rate-limit.js';

describe('createFailureLimiter', () => {
  it('refuses after max failures in the window, per key, until the oldest ages out; success clears', () => {
    const limiter = createFailureLimiter({ max: 3, windowMs: 60_000 });
    for (const t of [0, 10_000, 20_000]) {
      expect(limiter.retryAfter('a', t)).toBeNull();
      limiter.fail('a', t);
    }
    expect(limiter.retryAfter('a', 20_001)).toBe(40);
    expect(limiter.retryAfter('b', 20_001)).toBeNull();
    expect(limiter.retryAfter('a', 60_000)).toBeNull();
    limiter.fail('a', 60_000);
    expect(limiter.retryAfter('a', 60_001)).toBe(10);
    limiter.succeed('a');
    expect(limiter.retryAfter('a', 60_001)).toBeNull();
  });

  it('keeps at most maxKeys addresses, dropping the stalest', () => {
    const limiter = createFailureLimiter({ max: 1, windowMs: 60_000, maxKeys: 2 });
    limiter.fail('a', 0);
    limiter.fail('b', 1);
    limiter.fail('c', 2);
    expect(limiter.retryAfter('a', 3)).toBeNull();
    expect(limiter.retryAfter('b', 3)).not.toBeNull();
    expect(limiter.retryAfter('c', 3)).not.toBeNull();
  });
});
