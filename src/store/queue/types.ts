/**
 * The delivery queue, the hot path: new deliveries accepted (with their event and Idempotency-Key
 * response, in one grouped commit), due ones claimed under a lease by lane or by gate, and each
 * attempt's result recorded; plus the wake-ups that tell dispatchers work is due.
 */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';
import type { LimitDefaults } from '../../core/limits.js';
import type { AttemptOutcome, DeliveryStatus } from '../../core/outcome.js';
import type { DeliveryPolicy } from '../../core/policy.js';
import type { SignatureScheme } from '../../core/signature-scheme.js';
import type { EventRecord } from '../events/types.js';

export interface NewDelivery {
  id: string;
  account_id: string;
  mode: KeyMode;
  target: string;
  /** scheme://host:port of the target: the unit of per-target concurrency. */
  origin: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  policy: DeliveryPolicy;
  idempotency_key: string | null;
  metadata: Record<string, unknown> | null;
  sign: boolean;
  created_at: number;
  /** Set for deliveries of an event: which event, and to which destination. */
  event_id?: string | null;
  event_type?: string | null;
  destination_id?: string | null;
}

export interface AttemptRecord {
  attempt: number;
  outcome: AttemptOutcome;
  http_status: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
  created_at: number;
}

/** The response of an API request executed under an Idempotency-Key, kept to be replayed. */
export interface IdempotentResponse {
  key: string;
  /** Hash of what was asked, to tell a repeat from a different request under the same key. */
  request_hash: string;
  status_code: number;
  /** The JSON body as sent. */
  response: string;
  created_at: number;
}

export interface EnqueueOptions {
  /** Store this event in the same commit as its deliveries. */
  event?: EventRecord;
  /**
   * The bytes every delivery of `event` sends (its encoded body), kept once with the event: those
   * deliveries' own `body` (the same bytes) is then not stored again, and they read it from the
   * event when claimed or shown. Absent: each delivery keeps its own copy.
   */
  eventPayload?: Buffer | null;
  /**
   * The operator's defaults: with them, the commit refuses (BacklogFullError, nothing stored) what
   * would take the account's pending deliveries past its max_pending_deliveries — its own, else
   * the default. Checked in the commit, against every process's pending deliveries: exact.
   */
  limits?: LimitDefaults;
  /** Record this response under the key in the same commit — unless the key is already used. */
  idempotency?: IdempotentResponse;
  /** Records older than this do not count as used (24 h window). */
  idempotencyNotBefore?: number;
}

/** A delivery handed to one dispatcher under a lease. */
export interface ClaimedDelivery extends NewDelivery {
  event_id: string | null;
  event_type: string | null;
  destination_id: string | null;
  attempt_count: number;
  /** Attempts made before the current budget: max_attempts counts from here (a replay moves it). */
  attempt_base: number;
  /** Proves the lease when the result is recorded; a stale token's result is discarded. */
  lease_token: string;
  /**
   * For a signed delivery: the secrets to sign with, newest first — its destination's, or the
   * account's for a send — the current one and those retired after `secretsRetiredAfter`.
   */
  signing_secrets: string[];
  /** How a signed delivery is signed: its destination's scheme as it is at the claim (Standard Webhooks for a send). */
  signature: SignatureScheme;
  /** Set when its destination has flow control: the destination whose limits it counts against. */
  gate: string | null;
}

/**
 * A lane: one account's deliveries to one target origin. The unit of fair claims, of the circuit
 * breaker and the Retry-After throttle, and of holds: one account's failing or flooded target
 * never holds or delays another account's deliveries, even to the same origin.
 */
export interface Lane {
  account_id: string;
  origin: string;
}

/**
 * A plain claim, oldest due first across every lane (tools and tests). The dispatcher claims by
 * lane (claimLanes). Neither ever takes the deliveries of a suspended account.
 */
export interface ClaimRequest {
  now: number;
  limit: number;
  /** Identifies the claiming process in lease tokens. */
  owner: string;
  /** Added to each delivery's timeout_ms to make its lease. */
  leaseMarginMs: number;
  /** Origins whose due work stays where it is. */
  excludeOrigins: readonly string[];
  /** Claim only this origin's due work. */
  origin?: string;
  /** Secrets retired after this still sign (the rotation overlap). */
  secretsRetiredAfter: number;
}

/** The dispatcher's claim: up to `limit` due deliveries (oldest due first) of each lane named. */
export interface LaneClaimRequest {
  now: number;
  owner: string;
  leaseMarginMs: number;
  secretsRetiredAfter: number;
  lanes: ReadonlyArray<Lane & { limit: number }>;
}

/** A lane with deliveries waiting (not final, not gated): when the first of them is due (or its lease ends). */
export interface PendingLane extends Lane {
  next_at: number;
}

/** Held deliveries of a lane past the hold bound: they end dead_letter with `error`. */
export interface HeldExpiry extends Lane {
  /** Deliveries due at or before this (and not in flight) are past the bound. */
  dueBefore: number;
  now: number;
  /** Why, as the customer reads it. */
  error: string;
  /** Most deliveries ended by one call. */
  limit: number;
}

/** Room for one lane's deliveries, as the caller counts it: its own, its origin's and its account's. */
export interface LaneRoom {
  /** This lane (its breaker or throttle may allow less than its origin). */
  lane: number;
  /** Its origin, shared by every lane to it. */
  origin: number;
  /** Its account, shared by every lane of it. */
  account: number;
}

/** A claim of the due deliveries of destinations with flow control, each under its limits. */
export interface GatedClaimRequest {
  now: number;
  /** Most deliveries in all. */
  limit: number;
  owner: string;
  leaseMarginMs: number;
  secretsRetiredAfter: number;
  /**
   * How many deliveries of this lane the caller can start right now, before this claim; the store
   * subtracts what it claims for one gate from the room left for the same lane, origin and
   * account in its other gates.
   */
  room: (lane: Lane) => LaneRoom;
}

export interface GatedClaim {
  claimed: ClaimedDelivery[];
  /** When a destination held back by its rate limit may start its next delivery (null: none is). */
  nextAt: number | null;
  /** Whether any destination has flow control at all (when none does, the caller may look less often). */
  anyGates: boolean;
  /** A destination with due work is at its max_in_flight (it frees when one of its attempts ends). */
  inFlightBound: boolean;
}

export interface AttemptOutcomeRecord {
  delivery_id: string;
  lease_token: string;
  attempt: AttemptRecord;
  status: DeliveryStatus;
  /** Next attempt time for `retrying`; null when final. */
  next_attempt_at: number | null;
}

export interface ReleasedClaim {
  delivery_id: string;
  lease_token: string;
}

/** Accepting, claiming and recording deliveries. */
export interface DeliveryQueueStore {
  /**
   * Stores new deliveries, due now. Resolves only once they are committed durably;
   * concurrent calls are grouped into one commit. Wakes dispatchers.
   * With `idempotency`: when the key is already used (and not older than
   * `idempotencyNotBefore`), nothing is stored and the earlier response is returned;
   * otherwise the response is recorded in the same transaction and null returned.
   * With `limits`: rejects with BacklogFullError, storing nothing of this call (its idempotency
   * key stays unused), when it would pass the account's max_pending_deliveries; the other calls of
   * the same commit are not affected.
   */
  enqueueDeliveries(
    accountId: string,
    mode: KeyMode,
    deliveries: readonly NewDelivery[],
    options?: EnqueueOptions,
  ): Promise<IdempotentResponse | null>;
  /**
   * The recorded response for a key, if used since `notBefore`. PostgreSQL reads `notBefore` (and
   * `idempotencyNotBefore`) as a distance back from the caller's now and applies it to the
   * database's clock, on which it also records the key (postgres/clock.ts).
   */
  findIdempotentResponse(
    accountId: string,
    mode: KeyMode,
    key: string,
    notBefore: number,
  ): Promise<IdempotentResponse | null>;

  /**
   * A lane's target answers again: its deliveries waiting on their own retry schedule become due
   * now (the dispatcher paces them). Returns how many.
   */
  expediteLane(lane: Lane, now: number): Promise<number>;

  /** How many deliveries are in each non-final status, all accounts together (for metrics). */
  countPendingDeliveries(): Promise<{ queued: number; retrying: number; dead_letter: number }>;

  /**
   * Leases up to `limit` due deliveries, oldest due first — only those without flow control
   * (see claimGated), never those of a suspended account. For tools and tests: the dispatcher
   * claims by lane.
   */
  claimDue(request: ClaimRequest): Promise<ClaimedDelivery[]>;
  /**
   * Leases up to each lane's `limit` of its due deliveries without flow control, oldest due first,
   * in one statement or transaction (an index range per lane: a lane's backlog, however deep,
   * costs other lanes nothing). A suspended account's lanes get nothing.
   */
  claimLanes(request: LaneClaimRequest): Promise<ClaimedDelivery[]>;
  /**
   * Every lane with deliveries waiting (ungated, not final), with when its first one is due —
   * one index probe per lane, whatever its backlog — except the lanes of suspended accounts.
   */
  pendingLanes(): Promise<PendingLane[]>;
  /**
   * Leases due deliveries of destinations with a rate_limit or max_in_flight, as many as their
   * limits allow now, counted with every process sharing the store (one transaction per
   * destination). Destinations of suspended accounts are left alone.
   */
  claimGated(request: GatedClaimRequest): Promise<GatedClaim>;
  /**
   * Ends up to `limit` of a held lane's deliveries that were due at or before `dueBefore` and are
   * not in flight (gated or not): dead_letter, with `error`. Counted as dead-lettered in the
   * dashboard's figures. Returns how many.
   */
  expireHeld(request: HeldExpiry): Promise<number>;
  /**
   * Gives claimed deliveries back unattempted: due again at once. Wakes dispatchers unless
   * `quiet` (the caller will claim them itself when it has room).
   */
  releaseClaims(claims: readonly ReleasedClaim[], options?: { quiet?: boolean }): Promise<void>;
  /** Records finished attempts and the resulting status; grouped into one commit. */
  recordAttempts(results: readonly AttemptOutcomeRecord[]): Promise<void>;
  /**
   * Called whenever new work may be due now, with the lanes it is for when known (null: could be
   * any — look with pendingLanes). Returns an unsubscribe.
   */
  onWork(listener: (lanes: readonly Lane[] | null) => void): () => void;
}

/** DeliveryQueueStore's methods, named once for both dialects' stores (see compose.ts). */
export const DELIVERY_QUEUE_STORE_METHODS = areaMethods<DeliveryQueueStore>()(['enqueueDeliveries', 'findIdempotentResponse', 'expediteLane', 'countPendingDeliveries', 'claimDue', 'claimLanes', 'pendingLanes', 'claimGated', 'expireHeld', 'releaseClaims', 'recordAttempts', 'onWork']);
