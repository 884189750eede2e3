/**
 * How each target origin is doing, as this process sees it: a circuit breaker and a throttle.
 *
 * - After `failureThreshold` consecutive failed attempts (5xx, timeout, network error…) the origin
 *   is **open**: its other due deliveries are held (not claimed, not attempted — holding costs no
 *   attempt budget) and one probe at a time is let through on a backoff schedule.
 * - A probe that gets an answer the target meant (2xx, or a deliberate 4xx) **closes** it, and the
 *   held work is released at a controlled pace: at most 1 attempt in flight, then 2, 4, 8 … as
 *   attempts succeed, up to the per-origin cap.
 * - A 429 or 503 with Retry-After **throttles** the whole origin until then, not only the one
 *   delivery that got it.
 */
export type AttemptVerdict = 'up' | 'down' | 'throttled';

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
  now?: () => number;
}

export class OriginHealth {
  private readonly origins = new Map<string, Health>();
  private readonly now: () => number;

  constructor(private readonly opts: OriginHealthOptions) {
    this.now = opts.now ?? Date.now;
  }

  private get(origin: string): Health | undefined {
    return this.origins.get(origin);
  }

  /** How many attempts to this origin may be in flight now (0: none may start). */
  allowance(origin: string, cap: number, inFlight: number): number {
    const h = this.get(origin);
    if (!h) return Math.max(0, cap - inFlight);
    const now = this.now();
    if (now < h.throttledUntil) return 0;
    if (h.open) return !h.probeInFlight && now >= h.nextProbeAt && inFlight === 0 ? 1 : 0;
    return Math.max(0, Math.min(cap, h.ramp) - inFlight);
  }

  /** An attempt to this origin starts (after allowance said yes). */
  started(origin: string): void {
    const h = this.get(origin);
    if (h?.open) h.probeInFlight = true;
  }

  /** Records an attempt's verdict; `retryAfterMs` with `throttled`. True when this closed an open origin. */
  finished(origin: string, verdict: AttemptVerdict, retryAfterMs: number | null = null): boolean {
    const now = this.now();
    let h = this.get(origin);
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
      if (!Number.isFinite(h.ramp) || h.ramp >= 1024) this.origins.delete(origin); // fully recovered
      return reopened;
    }
    if (!h) {
      h = { failures: 0, open: false, probeInFlight: false, probes: 0, nextProbeAt: 0, throttledUntil: 0, ramp: Infinity };
      this.origins.set(origin, h);
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

  /** True while this origin is held, probed or recovering (its in-flight limit is not the plain cap). */
  tracking(origin: string): boolean {
    return this.origins.has(origin);
  }

  /** True when this origin's due work must stay where it is (open breaker or throttle). */
  blocked(origin: string): boolean {
    const h = this.get(origin);
    if (!h) return false;
    const now = this.now();
    return now < h.throttledUntil || (h.open && (h.probeInFlight || now < h.nextProbeAt));
  }

  /** Origins whose circuit is open (failing, probed now and then): their backlog can step aside. */
  openOrigins(): string[] {
    return [...this.origins].filter(([, h]) => h.open).map(([o]) => o);
  }

  /** Origins held right now. */
  blockedOrigins(): string[] {
    return [...this.origins.keys()].filter((o) => this.blocked(o));
  }

  /** The earliest time a held origin may start again (a probe or the end of a throttle), or null. */
  nextChange(): number | null {
    let next: number | null = null;
    const now = this.now();
    for (const h of this.origins.values()) {
      const at = Math.max(h.throttledUntil, h.open && !h.probeInFlight ? h.nextProbeAt : 0);
      if (at > now && (next === null || at < next)) next = at;
    }
    return next;
  }

  /** Origins whose hold ends by `at` (to be refilled then). */
  releasedBy(at: number): string[] {
    const out: string[] = [];
    for (const [origin, h] of this.origins) {
      if (at >= h.throttledUntil && (!h.open || (!h.probeInFlight && at >= h.nextProbeAt))) out.push(origin);
    }
    return out;
  }
}
