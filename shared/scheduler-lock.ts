import { randomUUID } from 'node:crypto';

// Compare-and-act: only the holder of the token may extend or delete the lock, so a leader that
// paused past its TTL cannot renew or release the lock its successor now holds.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** The two Redis commands the lock needs (an ioredis client satisfies it). */
export interface LockRedis {
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<string | null>;
  eval(script: string, keys: number, ...args: string[]): Promise<unknown>;
}

export interface LeaderLockOptions {
  key: string;
  /** Lock lifetime; a dead leader is replaced within this time. */
  ttlMs: number;
  onAcquired: () => void;
  onLost: () => void;
  onError?: (error: Error) => void;
}

/**
 * Leader election with one Redis key (SET NX PX, renewed at a third of the TTL). Every instance
 * ticks at that rate: the leader renews, the others try to take the key. Redis being briefly
 * unreachable costs leadership only once the TTL has passed without a renewal.
 */
export class LeaderLock {
  readonly token = randomUUID();
  private timer: NodeJS.Timeout | null = null;
  private leader = false;
  private lastRenewed = 0;
  private ticking: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: LockRedis,
    private readonly options: LeaderLockOptions,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.timer) {
      return;
    }
    const interval = Math.max(50, Math.floor(this.options.ttlMs / 3));
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick());
    }, interval);
    this.ticking = this.tick();
  }

  /** Stops ticking and hands the lock over at once (a standby takes it on its next tick). */
  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    await this.ticking;
    if (this.leader) {
      // A hand-over, not a loss: no onLost.
      this.leader = false;
      await this.redis.eval(RELEASE, 1, this.options.key, this.token).catch(() => {});
    }
  }

  private async tick(): Promise<void> {
    try {
      if (this.leader) {
        const renewed = await this.redis.eval(RENEW, 1, this.options.key, this.token, String(this.options.ttlMs));
        if (renewed === 1) {
          this.lastRenewed = Date.now();
        } else {
          this.setLeader(false);
        }
      } else {
        const taken = await this.redis.set(this.options.key, this.token, 'PX', this.options.ttlMs, 'NX');
        if (taken === 'OK') {
          this.lastRenewed = Date.now();
          this.setLeader(true);
        }
      }
    } catch (error) {
      // Unreachable Redis: once the TTL has run out someone else may lead; stop acting.
      if (this.leader && Date.now() - this.lastRenewed >= this.options.ttlMs) {
        this.setLeader(false);
      }
      this.options.onError?.(error as Error);
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) {
      return;
    }
    this.leader = leader;
    if (leader) {
      this.options.onAcquired();
    } else {
      this.options.onLost();
    }
  }
}
