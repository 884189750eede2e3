/**
 * Retry scheduling: the delay before the next attempt of a delivery (SPEC §5).
 */
import type { DeliveryPolicy } from './policy.js';

/** Exponents above this are capped anyway (2^40 · 100 ms is far beyond 12 h); avoids overflow. */
const MAX_EXPONENT = 40;

/**
 * Delay in whole milliseconds before the next attempt, after `failedAttempts` failed attempts.
 *
 * - exponential: `base_delay_ms · 2^(n-1)`; fixed: `base_delay_ms`; then capped at `max_delay_ms`.
 * - jitter `full`: uniform integer draw in [0, delay] (`floor(random() · (delay + 1))`, so both
 *   ends are reachable); `none`: the delay itself.
 * - With `respect_retry_after` and a `retryAfterMs`, the result is at least `retryAfterMs`
 *   (rounded up), still capped at `max_delay_ms`. The jitter never undercuts Retry-After.
 *
 * `failedAttempts` below 1 (or not a number) is treated as 1; fractions are truncated.
 * A negative or NaN `retryAfterMs` is ignored.
 */
export function retryDelayMs(
  policy: DeliveryPolicy,
  failedAttempts: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const cap = Math.max(0, Math.floor(policy.max_delay_ms));
  const base = Math.max(0, Math.floor(policy.base_delay_ms));
  const n = Number.isFinite(failedAttempts) ? Math.max(1, Math.trunc(failedAttempts)) : failedAttempts > 0 ? Number.MAX_SAFE_INTEGER : 1;

  let delay = policy.backoff === 'fixed' ? base : base * 2 ** Math.min(n - 1, MAX_EXPONENT);
  delay = Math.min(delay, cap);

  if (policy.jitter === 'full') {
    const r = random();
    const draw = Math.floor((Number.isFinite(r) ? r : 0) * (delay + 1));
    delay = Math.min(Math.max(draw, 0), delay);
  }

  if (policy.respect_retry_after && retryAfterMs !== null && retryAfterMs >= 0) {
    delay = Math.min(Math.max(delay, Math.ceil(retryAfterMs)), cap);
  }
  return delay;
}
