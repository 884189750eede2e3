/**
 * JSON shapes the API answers with (harepost-deliveries-reference, harepost-quickstart). Each
 * function returns the type of its response schema (src/api/schemas/), so a field one has and the
 * other lacks fails to compile.
 */
import { customerAttemptError } from '../net/customer-error-text.js';
import type {
  AttemptRecord,
  DeliveryRecord,
  DestinationRecord,
  DomainRecord,
  EventRecord,
  SubscriptionRecord,
} from '../store/store.js';
import type { ResponseOf } from './schemas/provider.js';
import type * as delivery from './schemas/delivery.js';
import type * as destination from './schemas/destination.js';
import type * as domain from './schemas/domain.js';
import type * as event from './schemas/event.js';
import type * as subscription from './schemas/subscription.js';

/** An instant as the API answers it (RFC 3339, UTC); null stays null. */
export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function deliverySummary(d: DeliveryRecord): ResponseOf<typeof delivery.deliverySummary> {
  return {
    queue_id: d.id,
    target: d.target,
    method: d.method,
    status: d.status,
    attempts: d.attempt_count,
    last_status: d.last_status,
    /** The harbor quickstart's name for last_status: the same value. */
    response_code: d.last_status,
    idempotency_key: d.idempotency_key,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
    next_attempt_at: iso(d.next_attempt_at),
    event_id: d.event_id,
    event_type: d.event_type,
    destination_id: d.destination_id,
  };
}

export function attemptJson(a: AttemptRecord): ResponseOf<typeof delivery.attempt> {
  return {
    attempt: a.attempt,
    outcome: a.outcome,
    http_status: a.http_status,
    latency_ms: a.latency_ms,
    error: customerAttemptError(a.error),
    created_at: iso(a.created_at),
    response_excerpt: a.response_excerpt,
  };
}

/**
 * A delivery with its attempts and the request as it is sent: the stored headers (the caller's,
 * or the destination's, with Content-Type) and body. Signing and X-Harepost-* headers are added
 * per attempt and never stored, so no secret is shown here.
 */
export function deliveryDetail(d: DeliveryRecord, attempts: AttemptRecord[]): ResponseOf<typeof delivery.deliveryDetail> {
  return {
    queue_id: d.id,
    target: d.target,
    method: d.method,
    status: d.status,
    last_status: d.last_status,
    response_code: d.last_status,
    idempotency_key: d.idempotency_key,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
    next_attempt_at: iso(d.next_attempt_at),
    delivery: d.policy,
    metadata: d.metadata,
    event_id: d.event_id,
    event_type: d.event_type,
    destination_id: d.destination_id,
    error: d.error,
    attempts: attempts.map(attemptJson),
    request: { headers: d.headers, body: d.body === null ? null : d.body.toString('utf8') },
  };
}

export const CHALLENGE_PREFIX = '_harepost-challenge.';
export const VERIFY_PREFIX = 'harepost-verify=';

export function domainJson(d: DomainRecord): ResponseOf<typeof domain.domain> {
  return {
    domain: d.domain,
    status: d.status,
    record: { type: 'TXT', name: `${CHALLENGE_PREFIX}${d.domain}`, value: `${VERIFY_PREFIX}${d.token}` },
    created_at: iso(d.created_at),
    verified_at: iso(d.verified_at),
  };
}

export function destinationJson(d: DestinationRecord): ResponseOf<typeof destination.destination> {
  return {
    id: d.id,
    url: d.url,
    name: d.name,
    description: d.description,
    events: d.events,
    enabled: d.enabled,
    disabled_reason: d.disabled_reason,
    headers: d.headers,
    delivery: d.policy,
    rate_limit: d.rate_limit,
    max_in_flight: d.max_in_flight,
    signature: d.signature,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}

/** The same destination in the posthawk webhooks reference's shape. */
export function webhookJson(d: DestinationRecord, secret: string | null): ResponseOf<typeof destination.webhook> {
  return {
    id: d.id,
    url: d.url,
    secret,
    events: d.events,
    enabled: d.enabled,
    description: d.description,
    signature: d.signature,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}

export function subscriptionJson(s: SubscriptionRecord): ResponseOf<typeof subscription.subscription> {
  return { id: s.id, destination_id: s.destination_id, event_type: s.event_type, created_at: iso(s.created_at) };
}

export function eventJson(e: EventRecord): ResponseOf<typeof event.event> {
  return {
    id: e.id,
    type: e.type,
    body: e.body === null ? null : (JSON.parse(e.body) as unknown),
    idempotency_key: e.idempotency_key,
    metadata: e.metadata,
    created_at: iso(e.created_at),
  };
}
