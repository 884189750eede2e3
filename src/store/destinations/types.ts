/** Destinations (where an account's events go, how they are signed and paced) and their subscriptions to event types. */
import { areaMethods } from '../compose.js';
import type { KeyMode } from '../../core/api-keys.js';
import type { LimitDefaults } from '../../core/limits.js';
import type { DeliveryPolicy } from '../../core/policy.js';
import type { SignatureScheme } from '../../core/signature-scheme.js';
import type { SigningSecret } from '../secrets/types.js';

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

/** An enabled destination and the patterns it subscribes with (to match an event against). */
export interface SubscribedDestination {
  destination: DestinationRecord;
  patterns: string[];
}

/** Destinations and subscriptions (sqlite.ts, postgres.ts beside this file). */
export interface DestinationsStore {
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
}

/** DestinationsStore's methods, named once for both dialects' stores (see compose.ts). */
export const DESTINATIONS_STORE_METHODS = areaMethods<DestinationsStore>()(['createDestination', 'getDestination', 'listDestinations', 'updateDestination', 'disableDestination', 'deleteDestination', 'getDestinationSecrets', 'rotateDestinationSecret', 'createSubscription', 'listSubscriptions', 'deleteSubscription', 'subscribedDestinations']);
