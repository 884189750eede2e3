/**
 * Turning stored rows into the Store's records, for every backend: the same column names
 * everywhere; JSON kept as text; booleans as SQLite's 0/1 or PostgreSQL's true/false.
 */
import { signatureFromStored } from '../core/signature-scheme.js';
import type {
  Account,
  AccountLimits,
  ClaimedDelivery,
  DeliveryRecord,
  DestinationRecord,
  DomainRecord,
  EnqueueOptions,
  EventRecord,
  KeyMode,
  NewDelivery,
} from './store.js';

export type Row = Record<string, unknown>;

/** One caller's part of a grouped insert commit. */
export interface InsertCall {
  accountId: string;
  mode: KeyMode;
  deliveries: readonly NewDelivery[];
  options: EnqueueOptions;
}

/**
 * The body a delivery sends: its own, or — for a delivery of an event, stored without a copy of
 * its own — its event's payload (EnqueueOptions.eventPayload), read where it is needed. `d` is the
 * deliveries row (its name or alias).
 */
export function deliveryBodyColumn(d: string): string {
  return `COALESCE(${d}.body, (SELECT e.payload FROM events e WHERE e.id = ${d}.event_id)) AS body`;
}

/**
 * A delivery's columns, from `FROM deliveries` (no alias). `event_id` in the body's subquery is
 * left unqualified on purpose: events has no such column, so it is the delivery's, whatever the
 * deliveries row is called.
 */
export const DELIVERY_COLUMNS = `seq, id, account_id, mode, target, origin, method, headers,
  COALESCE(body, (SELECT e.payload FROM events e WHERE e.id = event_id)) AS body, policy,
  idempotency_key, metadata, sign, status, attempt_count, last_status, created_at, updated_at,
  next_attempt_at, error, event_id, event_type, destination_id`;

/** A claim's plain columns; its RETURNING adds deliveryBodyColumn, the signing secrets and the signature. */
export const CLAIMED_COLUMNS = `seq, id, account_id, mode, target, origin, method, headers, policy,
  idempotency_key, metadata, sign, created_at, attempt_count, attempt_base, lease_token, event_id, event_type,
  destination_id, gate`;

/** Destinations with flow control (a rate limit or an in-flight cap), as a condition on `x`. */
export const LIMITED = `(x.rate_per_second IS NOT NULL OR x.max_in_flight IS NOT NULL)`;

/**
 * The gate of a delivery to destination `dest` (an SQL expression): the destination's id when it
 * has flow control, else NULL. Computed in the writing statement, from the destination as it is then.
 */
export const gateOf = (dest: string) => `(SELECT x.id FROM destinations x WHERE x.id = ${dest} AND ${LIMITED})`;

const truthy = (v: unknown) => v === 1 || v === true;
const orNull = <T>(v: unknown) => (v ?? null) as T | null;

export function toNewDelivery(r: Row): NewDelivery & Pick<DeliveryRecord, 'event_id' | 'event_type' | 'destination_id'> {
  return {
    id: r.id as string,
    account_id: r.account_id as string,
    mode: r.mode as KeyMode,
    target: r.target as string,
    origin: r.origin as string,
    method: r.method as string,
    headers: JSON.parse(r.headers as string) as Record<string, string>,
    body: orNull<Buffer>(r.body),
    policy: JSON.parse(r.policy as string),
    idempotency_key: orNull<string>(r.idempotency_key),
    metadata: r.metadata == null ? null : JSON.parse(r.metadata as string),
    sign: truthy(r.sign),
    created_at: r.created_at as number,
    event_id: orNull<string>(r.event_id),
    event_type: orNull<string>(r.event_type),
    destination_id: orNull<string>(r.destination_id),
  };
}

export function toDelivery(r: Row): DeliveryRecord {
  return {
    ...toNewDelivery(r),
    error: orNull<string>(r.error),
    status: r.status as DeliveryRecord['status'],
    attempt_count: r.attempt_count as number,
    last_status: orNull<number>(r.last_status),
    updated_at: r.updated_at as number,
    next_attempt_at: orNull<number>(r.next_attempt_at),
  };
}

export function toClaimed(r: Row): ClaimedDelivery {
  // a claim whose RETURNING forgot the body would send nothing: fail loudly instead
  if (!('body' in r)) throw new Error('a claim must return deliveryBodyColumn(…) with CLAIMED_COLUMNS');
  const secrets = r.signing_secrets as string | null;
  return {
    ...toNewDelivery(r),
    attempt_count: r.attempt_count as number,
    attempt_base: r.attempt_base as number,
    lease_token: r.lease_token as string,
    signing_secrets: secrets ? secrets.split(' ') : [],
    signature: signatureFromStored(orNull<string>(r.signature)),
    gate: orNull<string>(r.gate),
  };
}

/**
 * The signing secrets of a claimed delivery, the current one first, then the retired ones newest
 * first, space-separated (secrets are base64: no spaces), in the claim's RETURNING. `d` is the
 * deliveries row; `after` the rotation cut-off (an SQL expression). `orderTie` breaks ties of
 * created_at (rowid in SQLite, id in PostgreSQL). The current one leads by its retired_at, not its
 * created_at: processes whose clocks disagree may have stamped a newer secret with an older time.
 */
export function signingSecretsColumn(d: string, after: string, orderTie: string, aggregate: 'group_concat' | 'string_agg'): string {
  const agg = (table: string, owner: string) =>
    `(SELECT ${aggregate}(s.secret, ' ' ORDER BY (s.retired_at IS NULL) DESC, s.created_at DESC, s.${orderTie} DESC) FROM ${table} s
      WHERE ${owner} AND (s.retired_at IS NULL OR s.retired_at > ${after}))`;
  return `CASE WHEN NOT ${d}.sign THEN NULL
    WHEN ${d}.destination_id IS NOT NULL THEN ${agg('destination_secrets', `s.destination_id = ${d}.destination_id`)}
    ELSE ${agg('signing_secrets', `s.account_id = ${d}.account_id AND s.mode = ${d}.mode`)} END AS signing_secrets`;
}

/**
 * The signature scheme of a claimed delivery's destination as it is now (NULL for a send, or a
 * destination gone), in the claim's RETURNING. `d` is the deliveries row.
 */
export function signatureColumn(d: string): string {
  return `CASE WHEN ${d}.destination_id IS NULL THEN NULL
    ELSE (SELECT x.signature FROM destinations x WHERE x.id = ${d}.destination_id) END AS signature`;
}

export function toDomain(r: Row): DomainRecord {
  return {
    account_id: r.account_id as string,
    domain: r.domain as string,
    token: r.token as string,
    status: r.status as DomainRecord['status'],
    created_at: r.created_at as number,
    verified_at: orNull<number>(r.verified_at),
  };
}

export function toDestination(r: Row, events: string[]): DestinationRecord {
  return {
    id: r.id as string,
    account_id: r.account_id as string,
    mode: r.mode as KeyMode,
    url: r.url as string,
    origin: r.origin as string,
    name: orNull<string>(r.name),
    description: orNull<string>(r.description),
    enabled: truthy(r.enabled),
    disabled_reason: orNull<string>(r.disabled_reason),
    headers: JSON.parse(r.headers as string),
    policy: JSON.parse(r.policy as string),
    rate_limit: r.rate_per_second == null ? null : { per_second: Number(r.rate_per_second) },
    max_in_flight: r.max_in_flight == null ? null : Number(r.max_in_flight),
    signature: signatureFromStored(orNull<string>(r.signature)),
    events,
    created_at: r.created_at as number,
    updated_at: r.updated_at as number,
  };
}

/** An events row (its columns, payload included) as an EventRecord. */
export function toEvent(r: Row): EventRecord {
  return {
    id: r.id as string,
    account_id: r.account_id as string,
    mode: r.mode as KeyMode,
    type: r.type as string,
    // kept only as its payload when that is the body's JSON text (see eventBodyColumns)
    body: r.body != null ? (r.body as string) : r.payload != null ? (r.payload as Buffer).toString('utf8') : null,
    idempotency_key: orNull<string>(r.idempotency_key),
    metadata: r.metadata == null ? null : JSON.parse(r.metadata as string),
    created_at: r.created_at as number,
  };
}

/**
 * How an event's body is stored, once for the event and all its deliveries: `payload` holds the
 * bytes each delivery sends; `body` the event's JSON text, unless those bytes are that very text
 * (a JSON object or array: then only the bytes are kept, and toEvent reads the text back from
 * them). A string body is sent as its raw text, so both are kept. Without a payload (absent, or
 * no body at all): as before, the body text alone.
 */
export function eventBodyColumns(e: EventRecord, payload: Buffer | null | undefined): { body: string | null; payload: Buffer | null } {
  if (payload == null) return { body: e.body, payload: null };
  const sameText = e.body !== null && Buffer.byteLength(e.body, 'utf8') === payload.length && payload.equals(Buffer.from(e.body, 'utf8'));
  return { body: sameText ? null : e.body, payload };
}

/**
 * Whether a delivery of a call is stored without a body of its own, reading its event's payload
 * instead: it belongs to the call's event, and that event comes with its payload.
 */
export function bodyOnEvent(d: NewDelivery, options: EnqueueOptions): boolean {
  return options.eventPayload != null && options.event !== undefined && d.event_id === options.event.id;
}

/** Delivery columns as stored (JSON as text), from a new delivery. */
export function deliveryParams(d: NewDelivery) {
  return {
    id: d.id,
    account_id: d.account_id,
    mode: d.mode,
    target: d.target,
    origin: d.origin,
    method: d.method,
    headers: JSON.stringify(d.headers),
    body: d.body,
    policy: JSON.stringify(d.policy),
    timeout_ms: d.policy.timeout_ms,
    idempotency_key: d.idempotency_key,
    metadata: d.metadata === null ? null : JSON.stringify(d.metadata),
    created_at: d.created_at,
    event_id: d.event_id ?? null,
    event_type: d.event_type ?? null,
    destination_id: d.destination_id ?? null,
  };
}

/** The columns toAccount reads. */
export const ACCOUNT_COLUMNS = 'id, name, created_at, suspended_at, limits, erasing_since';

/** An accounts row (id, name, created_at, suspended_at, limits, erasing_since) as an Account. */
export function toAccount(r: Row): Account {
  const limits = orNull<string>(r.limits);
  return {
    id: r.id as string,
    name: r.name as string,
    created_at: Number(r.created_at),
    suspended_at: r.suspended_at == null ? null : Number(r.suspended_at),
    limits: limits === null ? null : (JSON.parse(limits) as AccountLimits),
    erasing_since: r.erasing_since == null ? null : Number(r.erasing_since),
  };
}

/** An account's limits as stored (JSON text; null for none). */
export function accountLimitsColumn(limits: AccountLimits | null | undefined): string | null {
  return limits ? JSON.stringify(limits) : null;
}
