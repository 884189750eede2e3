/**
 * The Store: everything Harepost keeps, behind one interface. `api/` and `delivery/` know only
 * this file; each backend (sqlite/, later postgres/) implements it. All SQL lives under store/.
 * Times are unix epoch milliseconds.
 */
import type { KeyMode } from '../core/api-keys.js';
import type { CountLimit, LimitDefaults } from '../core/limits.js';
import type { AttemptOutcome, DeliveryStatus } from '../core/outcome.js';
import type { DeliveryPolicy } from '../core/policy.js';
import type { SignatureScheme } from '../core/signature-scheme.js';

export type { KeyMode, AttemptOutcome, DeliveryStatus, DeliveryPolicy, SignatureScheme, CountLimit, LimitDefaults };

export interface Account {
  id: string;
  name: string;
  created_at: number;
  /** Set while an operator has suspended the account; absent or null otherwise. */
  suspended_at?: number | null;
  /** The account's own limits, over the operator's defaults; absent or null: the defaults. */
  limits?: AccountLimits | null;
  /** Set once an operator asked to erase the account: what it owns is being deleted; absent or null otherwise. */
  erasing_since?: number | null;
}

/** What the operator may change on an account (PATCH /admin/v1/accounts/{id}); absent: unchanged. */
export interface AccountPatch {
  name?: string;
  /** Replaces the account's own limits; null: the operator's defaults for every one. */
  limits?: AccountLimits | null;
  suspended?: boolean;
}

/** What an account holds right now, live and test modes together. */
export interface AccountUsage {
  destinations: number;
  /** Keys not revoked. */
  keys: number;
  domains: number;
  /** Deliveries not final yet (queued or retrying). */
  pending_deliveries: number;
}

export interface AccountPage {
  rows: Account[];
  next_cursor: string | null;
}

/** One batch of an account's erasure. */
export interface ErasureStep {
  /** Rows deleted by this step. */
  deleted: number;
  /** Nothing of the account is left, the account itself included. */
  done: boolean;
}

/** Per-account overrides of the operator's limits (HAREPOST_MAX_* defaults); each one optional. */
export interface AccountLimits {
  max_destinations?: number;
  max_keys?: number;
  max_domains?: number;
  max_pending_deliveries?: number;
}

export interface ApiKeyRecord {
  id: string;
  account_id: string;
  mode: KeyMode;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface NewApiKey {
  id: string;
  account_id: string;
  mode: KeyMode;
  key_hash: string;
  prefix: string;
  created_at: number;
}

/** Who is calling: the result of authenticating an API key. */
export interface AuthContext {
  key_id: string;
  account_id: string;
  mode: KeyMode;
}

/** An unrevoked key's caller, as the store finds it: also whether its account is suspended now. */
export interface AuthenticatedKey extends AuthContext {
  suspended: boolean;
}

export type DomainStatus = 'pending' | 'verified';

export interface DomainRecord {
  account_id: string;
  domain: string;
  token: string;
  status: DomainStatus;
  created_at: number;
  verified_at: number | null;
}

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

export interface DeliveryRecord extends NewDelivery {
  status: DeliveryStatus;
  /** Finished attempts. */
  attempt_count: number;
  last_status: number | null;
  updated_at: number;
  /** When the next attempt is scheduled; null once the delivery is final (or its destination is disabled). */
  next_attempt_at: number | null;
  /** Why a delivery ended without an attempt deciding it (e.g. its destination was deleted). */
  error: string | null;
  event_id: string | null;
  event_type: string | null;
  destination_id: string | null;
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

export interface DeliveryWithAttempts {
  delivery: DeliveryRecord;
  attempts: AttemptRecord[];
}

export interface ListDeliveriesQuery {
  status?: DeliveryStatus;
  destination_id?: string;
  event_id?: string;
  /** Exact match on the delivery's idempotency_key. */
  idempotency_key?: string;
  limit: number;
  /**
   * A previous page's next_cursor, or an RFC 3339 date-time: only deliveries created strictly
   * before it (see cursor.ts). Anything else throws InvalidCursorError.
   */
  cursor?: string;
}

export interface DeliveryPage {
  rows: DeliveryRecord[];
  next_cursor: string | null;
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

export interface SigningSecret {
  secret: string;
  created_at: number;
  /** When a rotation replaced it; null for the current secret. */
  retired_at: number | null;
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

export interface DestinationRecord {
  id: string;
  account_id: string;
  mode: KeyMode;
  url: string;
  origin: string;
  name: string | null;
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  headers: Record<string, string>;
  policy: DeliveryPolicy;
  /** At most this many deliveries start per second (on average; see core/flow-control). */
  rate_limit: { per_second: number } | null;
  /** At most this many deliveries in flight at once, all processes together. */
  max_in_flight: number | null;
  /** How its deliveries are signed (SPEC §7a), as resolved when it was created or last changed. */
  signature: SignatureScheme;
  /** The event types of its subscriptions, in the order they were added. */
  events: string[];
  created_at: number;
  updated_at: number;
}

/** Without `signature`, a destination is stored with Standard Webhooks. */
export type NewDestination = Omit<DestinationRecord, 'events' | 'rate_limit' | 'max_in_flight' | 'signature'> &
  Partial<Pick<DestinationRecord, 'rate_limit' | 'max_in_flight' | 'signature'>>;

export interface DestinationPatch {
  url?: string;
  origin?: string;
  name?: string | null;
  description?: string | null;
  enabled?: boolean;
  disabled_reason?: string | null;
  headers?: Record<string, string>;
  policy?: DeliveryPolicy;
  rate_limit?: { per_second: number } | null;
  max_in_flight?: number | null;
  signature?: SignatureScheme;
}

export interface NewSubscription {
  id: string;
  event_type: string;
}

export interface SubscriptionRecord {
  id: string;
  account_id: string;
  mode: KeyMode;
  destination_id: string;
  event_type: string;
  created_at: number;
}

export interface EventRecord {
  id: string;
  account_id: string;
  mode: KeyMode;
  type: string;
  /** The event's `body` as JSON text (null when none was given). */
  body: string | null;
  idempotency_key: string | null;
  metadata: Record<string, unknown> | null;
  created_at: number;
}

export interface EventPage {
  rows: EventRecord[];
  next_cursor: string | null;
}

/** An enabled destination and the patterns it subscribes with (to match an event against). */
export interface SubscribedDestination {
  destination: DestinationRecord;
  patterns: string[];
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

export interface RequeueFilter {
  /** dead_letter and/or rejected. */
  statuses: ReadonlyArray<'dead_letter' | 'rejected'>;
  destination_id?: string;
  event_id?: string;
  created_before?: number;
  created_after?: number;
  /** Only deliveries last changed before this: a bulk replay never picks up what it re-queued. */
  updated_before?: number;
}

/** How a replay is held to the account's max_pending_deliveries (requeueDeliveries). */
export interface RequeueCheck {
  /**
   * The operator's defaults: the replay is refused (BacklogFullError, nothing re-queued) when it
   * would take the account's pending deliveries past its max_pending_deliveries — its own, else
   * the default. Checked in the transaction that re-queues, against every process's pending
   * deliveries (on PostgreSQL after taking the account's lock, as a commit of new sends does).
   */
  limits: LimitDefaults;
  /**
   * Count every delivery the filter matches, not only this batch: the first batch of a bulk
   * replay, which admits the whole replay or none of it.
   */
  whole?: boolean;
}

/**
 * What is past its age. PostgreSQL reads each time as a distance back from the caller's now and
 * applies it to the database's clock (postgres/clock.ts), so a pruner whose clock is off prunes
 * what the others would.
 */
export interface PruneRequest {
  /** Final deliveries (delivered, rejected, dead_letter) last changed before this go, with their attempts. */
  deliveriesBefore: number;
  eventsBefore: number;
  idempotencyBefore: number;
  /** Most rows of each kind in this batch. */
  limit: number;
}

export interface PruneResult {
  deliveries: number;
  events: number;
  idempotency_keys: number;
}

/** One table the storage upkeep vacuumed or analyzed. */
export interface UpkeepAction {
  table: string;
  vacuumed: boolean;
  analyzed: boolean;
  /** Dead row versions the statistics counted before. */
  dead: number;
  ms: number;
}

/** Work waiting on the store: the load shedder (api/overload.ts) refuses new work past a bound. */
export interface StorePressure {
  /** Sends and events waiting for their commit, or in the one under way. */
  commitQueue: number;
  /** Callers waiting for a connection of the database pool (PostgreSQL; 0 on SQLite). */
  poolWaiting: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';

  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  /** Store reachable and every migration applied. */
  ready(): Promise<boolean>;
  /** How far callers are behind the store right now (cheap: read on every API request). */
  pressure?(): StorePressure;
  close(): Promise<void>;

  createAccount(account: Account): Promise<void>;
  getAccount(id: string): Promise<Account | null>;

  // The operator's view of accounts (store/sqlite/accounts.ts, store/postgres/accounts.ts)

  /** Accounts newest first (by created_at, then id); a cursor this did not return throws InvalidCursorError. */
  listAccounts(query: { limit: number; cursor?: string }): Promise<AccountPage>;
  /** What the account holds now, both modes together (indexed counts). */
  accountUsage(accountId: string): Promise<AccountUsage>;
  /**
   * Changes an account. Suspending sets suspended_at (a repeat keeps the first time) and, in the
   * same transaction, ends its dashboard sessions and unused login links; resuming clears it and
   * wakes dispatchers (its pending deliveries are claimable again). Null: no such account.
   */
  updateAccount(accountId: string, patch: AccountPatch, now: number): Promise<Account | null>;
  /**
   * Starts erasing an account, in one transaction: marks it (erasing_since; suspended too, so no
   * claim takes its deliveries) and deletes its API keys, dashboard sessions and login tokens, so
   * nobody can use it from this moment. A repeat keeps the first time. Null: no such account.
   */
  beginAccountErasure(accountId: string, now: number): Promise<Account | null>;
  /**
   * Deletes up to `limit` more rows the account owns (one table at a time, in one transaction);
   * once nothing else is left, the account row itself, and `done`. Rows of the account in a
   * table this store does not know (any table with an account_id column) go in the last step.
   */
  eraseAccountStep(accountId: string, limit: number): Promise<ErasureStep>;
  /** Ids of the accounts whose erasure was asked and has not finished. */
  listErasingAccounts(): Promise<string[]>;

  /**
   * With `limits` (the operator's defaults): throws LimitExceededError, and makes nothing, when the
   * account already has max_keys unrevoked keys (live and test together; counted in the same transaction).
   */
  createApiKey(key: NewApiKey, limits?: LimitDefaults): Promise<void>;
  listApiKeys(accountId: string): Promise<ApiKeyRecord[]>;
  /** Revokes one key; `accountId` null means any account (operator CLI). True if a live key was revoked. */
  revokeApiKey(keyId: string, accountId: string | null, now: number): Promise<boolean>;
  /** The caller behind an unrevoked key with this hash (and whether its account is suspended), or null. */
  authenticate(keyHash: string): Promise<AuthenticatedKey | null>;
  /** Records when keys were last used (batched by the caller). */
  touchApiKeys(uses: ReadonlyArray<{ key_id: string; at: number }>): Promise<void>;

  /**
   * Adds a domain, or returns the existing one unchanged (created=false). With `limits`: a new one
   * past the account's max_domains throws LimitExceededError (an existing one is still returned).
   */
  addDomain(domain: DomainRecord, limits?: LimitDefaults): Promise<{ record: DomainRecord; created: boolean }>;
  getDomain(accountId: string, domain: string): Promise<DomainRecord | null>;
  listDomains(accountId: string): Promise<DomainRecord[]>;
  markDomainVerified(accountId: string, domain: string, now: number): Promise<DomainRecord | null>;
  deleteDomain(accountId: string, domain: string): Promise<boolean>;
  /** True when any of `domains` is verified for the account. */
  hasVerifiedDomain(accountId: string, domains: readonly string[]): Promise<boolean>;

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
  getDelivery(accountId: string, mode: KeyMode, id: string): Promise<DeliveryWithAttempts | null>;
  /** Newest first; 400-worthy input is the caller's to reject (a bad cursor throws InvalidCursorError). */
  listDeliveries(accountId: string, mode: KeyMode, query: ListDeliveriesQuery): Promise<DeliveryPage>;

  /** The current secret and any retired after `retiredAfter`, newest first. */
  getSigningSecrets(accountId: string, mode: KeyMode, retiredAfter: number): Promise<SigningSecret[]>;
  /** Stores `candidate` as the current secret unless there is one; returns the current one. */
  ensureSigningSecret(accountId: string, mode: KeyMode, candidate: SigningSecret): Promise<SigningSecret>;
  /** Retires the current secret (at `next.created_at`) and makes `next` current, atomically. */
  rotateSigningSecret(accountId: string, mode: KeyMode, next: SigningSecret): Promise<void>;

  /** With `limits`: throws LimitExceededError, and makes nothing, past the account's max_destinations (both modes together). */
  createDestination(
    destination: NewDestination,
    subscriptions: readonly NewSubscription[],
    secret: SigningSecret,
    limits?: LimitDefaults,
  ): Promise<DestinationRecord>;
  getDestination(accountId: string, mode: KeyMode, id: string): Promise<DestinationRecord | null>;
  listDestinations(accountId: string, mode: KeyMode): Promise<DestinationRecord[]>;
  /**
   * Changes a destination. `subscriptions`, when given, replaces its set. Disabling parks its
   * pending deliveries (they wait); enabling makes them due again; a new url or headers apply to
   * its pending deliveries too. Null when there is no such destination.
   */
  updateDestination(
    accountId: string,
    mode: KeyMode,
    id: string,
    patch: DestinationPatch,
    subscriptions: readonly NewSubscription[] | null,
    now: number,
  ): Promise<DestinationRecord | null>;
  /** Disables a destination by id alone (the dispatcher, after a 410 Gone). */
  disableDestination(id: string, reason: string, now: number): Promise<void>;
  /** Deletes it and its subscriptions; its pending deliveries end dead_letter with `reason`. */
  deleteDestination(accountId: string, mode: KeyMode, id: string, reason: string, now: number): Promise<boolean>;
  getDestinationSecrets(destinationId: string, retiredAfter: number): Promise<SigningSecret[]>;
  rotateDestinationSecret(accountId: string, mode: KeyMode, id: string, next: SigningSecret): Promise<boolean>;

  /** Subscribes a destination; a repeat returns the existing subscription (created=false). Null: no such destination. */
  createSubscription(
    accountId: string,
    mode: KeyMode,
    destinationId: string,
    subscription: NewSubscription,
    now: number,
  ): Promise<{ record: SubscriptionRecord; created: boolean } | null>;
  listSubscriptions(accountId: string, mode: KeyMode, destinationId?: string): Promise<SubscriptionRecord[]>;
  deleteSubscription(accountId: string, mode: KeyMode, id: string, now: number): Promise<boolean>;
  /** Enabled destinations of (account, mode) that subscribe to anything, with their patterns. */
  subscribedDestinations(accountId: string, mode: KeyMode): Promise<SubscribedDestination[]>;

  getEvent(accountId: string, mode: KeyMode, id: string): Promise<EventRecord | null>;
  listEvents(accountId: string, mode: KeyMode, query: { limit: number; cursor?: string }): Promise<EventPage>;

  /**
   * Re-queues one dead_letter or rejected delivery with a fresh attempt budget (its history
   * stays; numbering goes on). `conflict`: it is queued, retrying or delivered, or its
   * destination is gone. With `limits`: rejects with BacklogFullError, re-queueing nothing, when
   * one more pending delivery would pass the account's max_pending_deliveries (checked in the
   * transaction that re-queues; `not_found` and `conflict` are answered first).
   */
  requeueDelivery(
    accountId: string,
    mode: KeyMode,
    id: string,
    now: number,
    limits?: LimitDefaults,
  ): Promise<'requeued' | 'conflict' | 'not_found'>;
  /**
   * Re-queues up to `limit` dead_letter/rejected deliveries matching `filter`; returns how many.
   * With `check`: rejects with BacklogFullError, re-queueing nothing of this call, when this batch
   * (or, with `whole`, every match of the filter) would pass the account's max_pending_deliveries.
   */
  requeueDeliveries(
    accountId: string,
    mode: KeyMode,
    filter: RequeueFilter,
    limit: number,
    now: number,
    check?: RequeueCheck,
  ): Promise<number>;
  /** Deletes one batch of what retention no longer keeps; returns what it deleted. */
  prune(request: PruneRequest): Promise<PruneResult>;
  /**
   * Reclaims what updates and deletes left behind, where the database needs it done: on
   * PostgreSQL, VACUUM (and ANALYZE) of Harepost's tables whose dead row versions passed the
   * thresholds of vacuum-policy.ts, skipping a table another process is vacuuming. SQLite reuses
   * freed pages itself: nothing to do. Returns what it did.
   */
  upkeep(): Promise<UpkeepAction[]>;

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

  // The dashboard (store/sqlite/dashboard.ts, store/postgres/dashboard.ts)

  /** Keeps a one-time login token (by hash); expired tokens and sessions are deleted on the way. */
  createLoginToken(token: LoginToken): Promise<void>;
  /**
   * Uses up a login token and opens `session` for its account and mode, in one transaction.
   * Null, and no session, when the token is unknown, already used or expired at `now`, or its
   * account is suspended.
   */
  redeemLoginToken(tokenHash: string, session: NewDashboardSession, now: number): Promise<DashboardSession | null>;
  /** The session with this id hash, unless it has expired at `now` or its account is suspended. */
  getDashboardSession(idHash: string, now: number): Promise<DashboardSession | null>;
  deleteDashboardSession(idHash: string): Promise<void>;
  /**
   * Moves a session to `mode` of its own account under a new id and CSRF token (`next`), in one
   * transaction: the old id stops working; account, sign-in time and expiry stay. Null, and
   * nothing changed, when no such session is open at `now`.
   */
  switchDashboardSessionMode(idHash: string, mode: KeyMode, next: SessionRenewal, now: number): Promise<DashboardSession | null>;
  /** The home page's counts for (account, mode) over [since, until) — see DashboardOverviewCounts. */
  dashboardOverview(accountId: string, mode: KeyMode, window: OverviewWindow): Promise<DashboardOverviewCounts>;
}

/** The database cannot be reached right now: the API answers 503, the dispatcher waits and retries. */
export class StoreUnavailableError extends Error {
  constructor(detail: string) {
    super(`the database is unreachable (${detail})`);
  }
}

/** Input the database cannot store or compare (e.g. a NUL character in text): the caller's 400. */
export class UnstorableInputError extends Error {
  constructor() {
    super('The request holds characters that cannot be stored (such as NUL)');
  }
}

/** An account is at one of its count limits: nothing was made (the API's 403 limit_exceeded). */
export class LimitExceededError extends Error {
  constructor(
    readonly limit: CountLimit,
    readonly max: number,
  ) {
    super(`${limit} (${max}) reached`);
  }
}

/**
 * Accepting these deliveries would take the account past its max_pending_deliveries: nothing of
 * the call was stored (the API's 429 backlog_full).
 */
export class BacklogFullError extends Error {
  /**
   * Set by a replay (requeueDelivery, requeueDeliveries; the route sets how many of a bulk
   * replay's earlier batches were re-queued before this one was refused): the refused deliveries
   * were being replayed, not accepted.
   */
  replayed: number | null = null;

  constructor(
    readonly pending: number,
    readonly adding: number,
    readonly max: number,
  ) {
    super(`${pending} pending + ${adding} would pass max_pending_deliveries (${max})`);
  }

  /** The same refusal, of a replay that had re-queued `done` deliveries in earlier batches. */
  static ofReplay(pending: number, adding: number, max: number, done = 0): BacklogFullError {
    const err = new BacklogFullError(pending, adding, max);
    err.replayed = done;
    return err;
  }
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
  }
}

/**
 * A one-time dashboard login token. The token itself is only ever in the link handed to the
 * user; the store keeps its SHA-256 hash, like API keys.
 */
export interface LoginToken {
  token_hash: string;
  account_id: string;
  mode: KeyMode;
  created_at: number;
  expires_at: number;
}

/** A session about to be opened by redeeming a login token (its owner comes from the token). */
export interface NewDashboardSession {
  /** SHA-256 of the session id; the id itself lives only in the browser's cookie. */
  id_hash: string;
  /**
   * Sent back in X-CSRF-Token on every unsafe request. Kept as is (the session endpoint shows
   * it to the page): without the session cookie it is worth nothing.
   */
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

/** The new id (as its hash) and CSRF token a session gets when it changes mode. */
export type SessionRenewal = Pick<NewDashboardSession, 'id_hash' | 'csrf_token'>;

export interface DashboardSession extends NewDashboardSession {
  account_id: string;
  mode: KeyMode;
}

/** The span the dashboard's home page covers, cut into buckets of `bucket_ms` from `since`. */
export interface OverviewWindow {
  since: number;
  until: number;
  bucket_ms: number;
  /** How many buckets the window holds. */
  buckets: number;
}

export interface DashboardOverviewCounts {
  /** What happened in the window: deliveries accepted, and the statuses attempts left deliveries in. */
  totals: { accepted: number; delivered: number; retrying: number; rejected: number; dead_letter: number };
  /** Every dead_letter delivery of the account and mode, whatever its age. */
  dead_letter: number;
  /** Attempts and failed attempts made in the window, per bucket of `bucket_ms` from `since` (all, oldest first). */
  attempt_buckets: Array<{ attempts: number; failures: number }>;
}
