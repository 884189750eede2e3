/** Events as they were sent (their deliveries are made in the same commit: queue.ts EnqueueOptions). */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';

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

/** Reads of stored events. */
export interface EventsStore {
  getEvent(accountId: string, mode: KeyMode, id: string): Promise<EventRecord | null>;
  listEvents(accountId: string, mode: KeyMode, query: { limit: number; cursor?: string }): Promise<EventPage>;
}

/** EventsStore's methods, named once for both dialects' stores (see compose.ts). */
export const EVENTS_STORE_METHODS = areaMethods<EventsStore>()(['getEvent', 'listEvents']);
