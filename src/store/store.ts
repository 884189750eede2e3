/**
 * The Store: everything Harepost keeps, behind one interface. `api/` and `delivery/` know only
 * this file; each backend (sqlite/, postgres/) implements it. All SQL lives under store/.
 * Times are unix epoch milliseconds.
 *
 * `Store` is the sum of one interface per area, each in its area's folder (`<area>/types.ts`) with
 * the records and requests that belong to it, beside that area's two dialects (`<area>/sqlite.ts`,
 * `<area>/postgres.ts`): accounts & keys, domains, signing secrets, destinations
 * & subscriptions, events, the delivery queue (accept, claim, record), delivery history (reads and
 * replays), the dashboard, and upkeep. A part that needs one area may take just that interface.
 * Everything is re-exported here, so `import … from 'store/store.js'` names any of it.
 */
import type { AccountsStore } from './accounts/types.js';
import type { DashboardStore } from './dashboard/types.js';
import type { DestinationsStore } from './destinations/types.js';
import type { DomainsStore } from './domains/types.js';
import type { EventsStore } from './events/types.js';
import type { HistoryStore } from './history/types.js';
import type { DeliveryQueueStore } from './queue/types.js';
import type { SigningSecretsStore } from './secrets/types.js';
import type { UpkeepStore } from './upkeep/types.js';
import type { KeyMode } from '../core/api-keys.js';
import type { CountLimit, LimitDefaults } from '../core/limits.js';
import type { AttemptOutcome, DeliveryStatus } from '../core/outcome.js';
import type { DeliveryPolicy } from '../core/policy.js';
import type { SignatureScheme } from '../core/signature-scheme.js';

export type { KeyMode, AttemptOutcome, DeliveryStatus, DeliveryPolicy, SignatureScheme, CountLimit, LimitDefaults };
export type * from './accounts/types.js';
export type * from './dashboard/types.js';
export type * from './destinations/types.js';
export type * from './domains/types.js';
export type * from './events/types.js';
export type * from './history/types.js';
export type * from './queue/types.js';
export type * from './secrets/types.js';
export type * from './upkeep/types.js';

/** Work waiting on the store: the load shedder (api/overload.ts) refuses new work past a bound. */
export interface StorePressure {
  /** Sends and events waiting for their commit, or in the one under way. */
  commitQueue: number;
  /** Callers waiting for a connection of the database pool (PostgreSQL; 0 on SQLite). */
  poolWaiting: number;
}

/** Every area's operations: what a dialect's store is made of (see compose.ts). */
export interface AreaStores
  extends AccountsStore,
    DomainsStore,
    SigningSecretsStore,
    DestinationsStore,
    EventsStore,
    DeliveryQueueStore,
    HistoryStore,
    DashboardStore,
    UpkeepStore {}

/** Every area, plus the store's own life: its kind, migrations, readiness, pressure and closing. */
export interface Store extends AreaStores {
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
