/**
 * The Store: everything Harepost keeps, behind one interface. `api/` and `delivery/` know only
 * this file; each backend (sqlite/, postgres/) implements it. All SQL lives under store/.
 * Times are unix epoch milliseconds.
 *
 * `Store` is the sum of one interface per area, each in its own module under areas/ with the
 * records and requests that belong to it: accounts & keys, domains, signing secrets, destinations
 * & subscriptions, events, the delivery queue (accept, claim, record), delivery history (reads and
 * replays), the dashboard, and upkeep. A part that needs one area may take just that interface.
 * Everything is re-exported here, so `import … from 'store/store.js'` names any of it.
 */
import type { AccountsStore } from './areas/accounts.js';
import type { DashboardStore } from './areas/dashboard.js';
import type { DestinationsStore } from './areas/destinations.js';
import type { DomainsStore } from './areas/domains.js';
import type { EventsStore } from './areas/events.js';
import type { HistoryStore } from './areas/history.js';
import type { DeliveryQueueStore } from './areas/queue.js';
import type { SigningSecretsStore } from './areas/secrets.js';
import type { UpkeepStore } from './areas/upkeep.js';
import type { KeyMode } from '../core/api-keys.js';
import type { CountLimit, LimitDefaults } from '../core/limits.js';
import type { AttemptOutcome, DeliveryStatus } from '../core/outcome.js';
import type { DeliveryPolicy } from '../core/policy.js';
import type { SignatureScheme } from '../core/signature-scheme.js';

export type { KeyMode, AttemptOutcome, DeliveryStatus, DeliveryPolicy, SignatureScheme, CountLimit, LimitDefaults };
export type * from './areas/accounts.js';
export type * from './areas/dashboard.js';
export type * from './areas/destinations.js';
export type * from './areas/domains.js';
export type * from './areas/events.js';
export type * from './areas/history.js';
export type * from './areas/queue.js';
export type * from './areas/secrets.js';
export type * from './areas/upkeep.js';

/** Work waiting on the store: the load shedder (api/overload.ts) refuses new work past a bound. */
export interface StorePressure {
  /** Sends and events waiting for their commit, or in the one under way. */
  commitQueue: number;
  /** Callers waiting for a connection of the database pool (PostgreSQL; 0 on SQLite). */
  poolWaiting: number;
}

/** Every area, plus the store's own life: its kind, migrations, readiness, pressure and closing. */
export interface Store
  extends AccountsStore,
    DomainsStore,
    SigningSecretsStore,
    DestinationsStore,
    EventsStore,
    DeliveryQueueStore,
    HistoryStore,
    DashboardStore,
    UpkeepStore {
  readonly kind: 'sqlite' | 'postgres';

  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  /** Store reachable and every migration applied. */
  ready(): Promise<boolean>;
  /** How far callers are behind the store right now (cheap: read on every API request). */
  pressure?(): StorePressure;
  close(): Promise<void>;
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
