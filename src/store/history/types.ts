/** Deliveries after the fact: each one with its attempts, pages of them, and replays of the failed ones. */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';
import type { LimitDefaults } from '../../core/limits.js';
import type { DeliveryStatus } from '../../core/outcome.js';
import type { AttemptRecord, NewDelivery } from '../queue/types.js';

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

/** Reads of deliveries and their attempts, and replays (requeue). */
export interface HistoryStore {
  getDelivery(accountId: string, mode: KeyMode, id: string): Promise<DeliveryWithAttempts | null>;
  /** Newest first; 400-worthy input is the caller's to reject (a bad cursor throws InvalidCursorError). */
  listDeliveries(accountId: string, mode: KeyMode, query: ListDeliveriesQuery): Promise<DeliveryPage>;

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
}

/** HistoryStore's methods, named once for both dialects' stores (see compose.ts). */
export const HISTORY_STORE_METHODS = areaMethods<HistoryStore>()(['getDelivery', 'listDeliveries', 'requeueDelivery', 'requeueDeliveries']);
