/**
 * How each lane's target is doing, as this process sees it: a circuit breaker and a throttle.
 * A lane is one account's deliveries to one target origin (see lanes.ts), so one account's
 * failing deliveries never hold another account's deliveries to the same origin.
 *
 * - After `failureThreshold` consecutive attempts that found the target unavailable (connection,
 *   DNS or TLS errors, timeouts, 429, 502, 503, 504 — see targetAvailability in core/outcome.ts)
 *   the lane is **open**: its other due deliveries are held (not claimed, not attempted — holding
 *   costs no attempt budget) and one probe at a time is let through on a backoff schedule.
 *   Any other answer (2xx, 3xx, 4xx, 500…) shows the target is there: it resets the count, and
 *   that delivery follows its own retry policy.
 * - A probe that gets an answer **closes** it, and the held work is released at a controlled
 *   pace: at most 1 attempt in flight, then 2, 4, 8 … as attempts are answered, up to the cap.
 * - A 429 or 503 (or 502, 504) with Retry-After **throttles** the whole lane until then, not only
 *   the one delivery that got it.
 */
import { performance } from 'node:perf_hooks';
import type { AttemptVerdict } from '../core/attempt-decision.js';

interface Health {
  failures: number;
  open: boolean;
  probeInFlight: boolean;
  probes: number;
  nextProbeAt: number;
  throttledUntil: number;
  /** In-flight limit while recovering; Infinity once fully open to traffic. */
  ramp: number;
}

export interface OriginHealthOptions {
  failureThreshold: number;
  probeBaseMs: number;
  probeMaxMs: number;
  /**
   * The clock its backoffs and throttles are timed on: monotonic (default performance.now), so a
   * jump of the wall clock neither ends a hold early nor stretches it.
   */
  now?: () => number;
}

/** Breaker and throttle state per key (the dispatcher's keys are lanes). */
export class OriginHealth {
  private readonly keys = new Map<string, Health>();
  private readonly now: () => number;

  constructor(private readonly opts: OriginHealthOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** How many attempts of this key may be in flight now (0: none may start). */
  allowance(key: string, cap: number, inFlight: number): number {
    const h = this.keys.get(key);
    if (!h) return Math.max(0, cap - inFlight);
    const now = this.now();
    if (now < h.throttledUntil) return 0;
    if (h.open) return !h.probeInFlight && now >= h.nextProbeAt && inFlight === 0 ? 1 : 0;
    return Math.max(0, Math.min(cap, h.ramp) - inFlight);
  }

  /** An attempt of this key starts (after allowance said yes). */
  started(key: string): void {
    const h = this.keys.get(key);
    if (h?.open) h.probeInFlight = true;
  }

  /** Records an attempt's verdict; `retryAfterMs` with `throttled`. True when this closed an open key. */
  finished(key: string, verdict: AttemptVerdict, retryAfterMs: number | null = null): boolean {
    const now = this.now();
    let h = this.keys.get(key);
    if (verdict === 'neutral') {
      // the attempt never reached the target: it says nothing, but a probe's turn is over
      if (h?.open && h.probeInFlight) {
        h.probeInFlight = false;
        h.nextProbeAt = now + this.backoff(h.probes);
      }
      return false;
    }
    if (verdict === 'up') {
      if (!h) return false;
      const reopened = h.open;
      if (h.open) {
        h.open = false;
        h.ramp = 1;
      } else if (Number.isFinite(h.ramp)) {
        h.ramp *= 2;
      }
      h.failures = 0;
      h.probes = 0;
      h.probeInFlight = false;
      if ((!Number.isFinite(h.ramp) || h.ramp >= 1024) && now >= h.throttledUntil) this.keys.delete(key); // fully recovered
      return reopened;
    }
    if (!h) {
      h = { failures: 0, open: false, probeInFlight: false, probes: 0, nextProbeAt: 0, throttledUntil: 0, ramp: Infinity };
      this.keys.set(key, h);
    }
    if (verdict === 'throttled' && retryAfterMs !== null) h.throttledUntil = Math.max(h.throttledUntil, now + retryAfterMs);
    h.failures++;
    if (h.open) {
      // the probe failed: wait longer before the next one
      h.probeInFlight = false;
      h.probes++;
      h.nextProbeAt = now + this.backoff(h.probes);
    } else if (h.failures >= this.opts.failureThreshold) {
      h.open = true;
      h.probes = 0;
      h.nextProbeAt = now + this.backoff(0);
    }
    return false;
  }

  private backoff(probes: number): number {
    return Math.min(this.opts.probeMaxMs, this.opts.probeBaseMs * 2 ** Math.min(probes, 30));
  }

  /** True while this key is held, probed or recovering (its in-flight limit is not the plain cap). */
  tracking(key: string): boolean {
    return this.keys.has(key);
  }

  /** True when this key's due work must stay where it is right now (open breaker between probes, or throttle). */
  blocked(key: string): boolean {
    const h = this.keys.get(key);
    if (!h) return false;
    const now = this.now();
    return now < h.throttledUntil || (h.open && (h.probeInFlight || now < h.nextProbeAt));
  }

  /** True while this key's work is held: its circuit is open (probes aside) or it is throttled. */
  held(key: string): boolean {
    const h = this.keys.get(key);
    return h !== undefined && (h.open || this.now() < h.throttledUntil);
  }

  /** Keys held right now (open or throttled). */
  heldKeys(): string[] {
    return [...this.keys.keys()].filter((k) => this.held(k));
  }

  /** Keys blocked right now. */
  blockedKeys(): string[] {
    return [...this.keys.keys()].filter((k) => this.blocked(k));
  }

  /** The earliest time a blocked key may start again (a probe or the end of a throttle), or null. */
  nextChange(): number | null {
    let next: number | null = null;
    const now = this.now();
    for (const h of this.keys.values()) {
      const at = Math.max(h.throttledUntil, h.open && !h.probeInFlight ? h.nextProbeAt : 0);
      if (at > now && (next === null || at < next)) next = at;
    }
    return next;
  }
}

