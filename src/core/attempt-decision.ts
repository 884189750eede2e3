/**
 * What one attempt's result decides, as a pure function: the delivery's outcome and next status,
 * when (if ever) it is tried again, what the attempt says about its lane's target (the circuit
 * breaker's verdict and the Retry-After throttle), and whether its destination is to be disabled
 * (410 Gone). The dispatcher calls {@link decideAfterAttempt} once per attempt and only acts on
 * the answer.
 */
import {
  classifyHttpStatus,
  parseRetryAfter,
  statusAfterAttempt,
  targetAvailability,
  type AttemptOutcome,
  type DeliveryStatus,
} from './outcome.js';
import type { DeliveryPolicy } from './policy.js';
import { retryDelayMs } from './retry.js';

/** The circuit breaker's verdict on one attempt (see delivery/origin-health.ts). */
export type AttemptVerdict = 'up' | 'down' | 'throttled' | 'neutral';

/**
 * The breaker's verdict on one attempt, from what it found (outcome.ts targetAvailability)
 * and the wait its Retry-After asked for (null: none, or the delivery does not honour it).
 */
export function verdictOf(availability: 'answered' | 'unavailable' | 'unknown', retryAfterMs: number | null): AttemptVerdict {
  if (availability === 'answered') return 'up';
  if (availability === 'unknown') return 'neutral';
  return retryAfterMs !== null ? 'throttled' : 'down';
}

/** What an attempt came back with (the shape of net/http-attempt.ts AttemptResult). */
export type AttemptFacts =
  | { kind: 'response'; status: number; retryAfter: string | null }
  | { kind: 'timeout' | 'network_error' | 'blocked' };

/** The delivery that was attempted: what the decision reads of it. */
export interface AttemptedDelivery {
  id: string;
  /** Attempts recorded before this one (this one is number attempt_count + 1). */
  attempt_count: number;
  /** Attempts that count against no budget (a replay starts its budget afresh from here). */
  attempt_base: number;
  policy: DeliveryPolicy;
  destination_id: string | null;
}

export interface AttemptDecision {
  outcome: AttemptOutcome;
  /** The response's status; null when there was none. */
  httpStatus: number | null;
  /** The delivery's status once this attempt is recorded. */
  status: DeliveryStatus;
  /** How long until the next attempt (ms), null when there is none. */
  retryInMs: number | null;
  /** When the next attempt is due (wall clock ms), null when there is none. */
  nextAttemptAt: number | null;
  /** What the attempt says about its lane's target (the circuit breaker's input). */
  verdict: AttemptVerdict;
  /** How long the lane is throttled by a Retry-After (ms), null when it is not. */
  throttleMs: number | null;
  /** Why its destination is to be disabled (it answered 410 Gone), null when it is not. */
  disableReason: string | null;
}

/**
 * Decides what follows an attempt of `d` that ended at `finishedAt` (wall clock ms) with `result`:
 *
 * - outcome: 2xx delivered; 408, 425, 429, 3xx, 5xx failed; other 4xx rejected; otherwise the
 *   result's kind (timeout, network_error, blocked) — see classifyHttpStatus;
 * - status and retry: statusAfterAttempt over the attempts counted since `attempt_base`, so a
 *   retryable failure at `max_attempts` is dead-lettered, and blocked always is;
 * - retry delay: retryDelayMs, at least a failed response's Retry-After when the policy honours it
 *   (a 500's Retry-After too: it is this delivery's own);
 * - the lane's verdict: up on an answer, down when the target was unavailable (no answer, 429,
 *   502, 503, 504), throttled when such an answer's Retry-After is honoured (for at most
 *   `max_delay_ms`), neutral when the attempt never reached the target (blocked);
 * - a 410 Gone to a destination's delivery disables the destination.
 *
 * `random` is the jitter's draw (called once, and only when there is a retry).
 */
export function decideAfterAttempt(
  result: AttemptFacts,
  d: AttemptedDelivery,
  finishedAt: number,
  random: () => number,
): AttemptDecision {
  let outcome: AttemptOutcome;
  let httpStatus: number | null = null;
  let retryAfterMs: number | null = null;
  if (result.kind === 'response') {
    httpStatus = result.status;
    outcome = classifyHttpStatus(result.status);
    if (outcome === 'failed') retryAfterMs = parseRetryAfter(result.retryAfter, finishedAt);
  } else {
    outcome = result.kind;
  }
  const counted = d.attempt_count + 1 - d.attempt_base;
  const next = statusAfterAttempt(outcome, counted, d.policy.max_attempts);
  // the lane is throttled by a Retry-After only as far as this delivery honours one, and only
  // when the target said it is unavailable (429, 503…): a 500's Retry-After is this delivery's alone
  const availability = targetAvailability(outcome, httpStatus);
  const throttleMs =
    availability === 'unavailable' && d.policy.respect_retry_after && retryAfterMs !== null
      ? Math.min(retryAfterMs, d.policy.max_delay_ms)
      : null;
  const retryInMs = next.retry ? retryDelayMs(d.policy, counted, retryAfterMs, random) : null;
  return {
    outcome,
    httpStatus,
    status: next.status,
    retryInMs,
    nextAttemptAt: retryInMs === null ? null : finishedAt + retryInMs,
    verdict: verdictOf(availability, throttleMs),
    throttleMs,
    disableReason:
      d.destination_id && httpStatus === 410
        ? `The destination answered 410 Gone to delivery ${d.id} at ${new Date(finishedAt).toISOString()}`
        : null,
  };
}
