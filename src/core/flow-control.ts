/**
 * A destination's flow control, as pure arithmetic: how many of its due deliveries may start now.
 *
 * `rate_limit.per_second` N is a GCRA (generic cell rate algorithm) limit: one delivery every
 * 1000/N ms on average, in bursts of at most BURST(N) = ceil(N/10) (so a backlog drains in
 * batches about 100 ms apart, not one claim per delivery). The state is one number per
 * destination, its theoretical arrival time (`tat`, ms), kept in the store and updated in the
 * same transaction that claims: every process sharing the store draws on the same allowance.
 * `max_in_flight` caps the deliveries of a destination leased at once, across processes.
 */

export interface FlowLimits {
  rate_limit: { per_second: number } | null;
  max_in_flight: number | null;
}

export const MAX_RATE_PER_SECOND = 10_000;
export const MAX_IN_FLIGHT_LIMIT = 10_000;

/** Most deliveries started back to back before the rate spaces them out. */
export function rateBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond / 10));
}

export interface RateAdmission {
  /** How many of those wanted may start now. */
  admitted: number;
  /** The new theoretical arrival time to store. */
  tat: number;
  /** When at least one more may start. */
  nextAt: number;
}

/** Admits up to `wanted` deliveries at `now` under a rate of `perSecond`, from stored `tat`. */
export function admitByRate(perSecond: number, tat: number, now: number, wanted: number): RateAdmission {
  const interval = 1000 / perSecond;
  const tolerance = (rateBurst(perSecond) - 1) * interval;
  const start = Math.max(tat, now);
  const allowed = now + tolerance >= start ? Math.floor((now + tolerance - start) / interval + 1e-9) + 1 : 0;
  const admitted = Math.max(0, Math.min(wanted, allowed));
  const next = start + admitted * interval;
  return { admitted, tat: next, nextAt: Math.ceil(Math.max(now, next - tolerance)) };
}

/** Deliveries that may start under `max_in_flight` with `leased` already out (null: no cap). */
export function admitByInFlight(maxInFlight: number | null, leased: number): number {
  return maxInFlight === null ? Number.POSITIVE_INFINITY : Math.max(0, maxInFlight - leased);
}

export interface GateState {
  perSecond: number | null;
  tat: number;
  maxInFlight: number | null;
  /** Its deliveries leased right now (by any process). */
  leased: number;
}

export interface GateAllowance {
  /** How many to claim now. */
  take: number;
  /** Its in-flight cap is what holds it back. */
  inFlightBound: boolean;
  /** Its rate is what holds it back: when the next may start. */
  rateNextAt: number | null;
}

/** How many due deliveries of one gated destination to claim, given the caller's room. */
export function gateAllowance(g: GateState, room: number, now: number): GateAllowance {
  const byInFlight = admitByInFlight(g.maxInFlight, g.leased);
  const cap = Math.max(0, Math.min(room, byInFlight));
  const inFlightBound = byInFlight < room;
  if (g.perSecond === null) return { take: cap, inFlightBound, rateNextAt: null };
  const rate = admitByRate(g.perSecond, g.tat, now, cap);
  return { take: rate.admitted, inFlightBound, rateNextAt: rate.admitted < cap ? rate.nextAt : null };
}

/** The stored rate state after `claimed` deliveries started at `now`. */
export function tatAfter(perSecond: number | null, tat: number, now: number, claimed: number): number {
  if (perSecond === null || claimed === 0) return tat;
  return Math.max(tat, now) + (claimed * 1000) / perSecond;
}
