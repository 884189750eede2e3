/**
 * In-memory per-key token bucket, used for API rate limiting (SPEC §11:
 * `HAREPOST_RATE_LIMIT_PER_SECOND` / `HAREPOST_RATE_LIMIT_BURST`).
 */

/** Tolerance for floating-point refill arithmetic (0.1 s · 10/s must give a whole token). */
const EPSILON = 1e-9;

interface Bucket {
  tokens: number;
  /** Clock reading (ms) at which `tokens` was computed. */
  at: number;
}

/** Options of {@link TokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Tokens added per second (> 0). */
  ratePerSecond: number;
  /** Bucket capacity, and the tokens a new key starts with (≥ 1). */
  burst: number;
  /** Most keys tracked at once (default 100 000). */
  maxKeys?: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * Classic token bucket per key: each key starts full at `burst`, refills continuously at
 * `ratePerSecond` up to `burst`, and each {@link take} spends one token.
 *
 * Memory is bounded: when more than `maxKeys` keys are tracked, buckets that have refilled to
 * full are dropped (losslessly: a missing key starts full), then the least recently used ones,
 * down to 90 % of `maxKeys` so the sweep cost is amortised.
 */
export class TokenBucketLimiter {
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** Insertion order = least recently used first (entries are re-inserted on use). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    if (!(opts.burst >= 1)) throw new RangeError('burst must be >= 1');
    const maxKeys = opts.maxKeys ?? 100_000;
    if (!(maxKeys >= 1)) throw new RangeError('maxKeys must be >= 1');
    this.rate = opts.ratePerSecond;
    this.burst = opts.burst;
    this.maxKeys = Math.floor(maxKeys);
    this.now = opts.now ?? Date.now;
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Tokens of `bucket` at time `t` (never negative elapsed time: clock steps back are ignored). */
  private level(bucket: Bucket, t: number): number {
    const elapsed = Math.max(0, t - bucket.at);
    return Math.min(this.burst, bucket.tokens + (elapsed / 1000) * this.rate);
  }

  /**
   * Spends one token of `key`. Refused when less than one token is left; `retryAfterSeconds` is
   * the time until one token is available, rounded up, at least 1.
   */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const t = this.now();
    const existing = this.buckets.get(key);
    const tokens = existing ? this.level(existing, t) : this.burst;
    if (existing) this.buckets.delete(key);

    if (tokens >= 1 - EPSILON) {
      this.buckets.set(key, { tokens: Math.max(0, tokens - 1), at: t });
      if (!existing && this.buckets.size > this.maxKeys) this.evict(t, key);
      return { ok: true };
    }
    this.buckets.set(key, { tokens, at: t });
    const wait = Math.ceil((1 - tokens) / this.rate);
    return { ok: false, retryAfterSeconds: Math.max(1, wait) };
  }

  /** Frees room: full buckets first, then least recently used, never `keep`. */
  private evict(t: number, keep: string): void {
    const target = Math.max(1, Math.floor(this.maxKeys * 0.9));
    for (const [k, b] of this.buckets) {
      if (k !== keep && this.level(b, t) >= this.burst) this.buckets.delete(k);
    }
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      if (k !== keep) this.buckets.delete(k);
    }
  }
}
