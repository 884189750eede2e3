/** JSON shapes the API answers with (harepost-deliveries-reference, harepost-quickstart). */
import { customerAttemptError } from '../net/customer-error-text.js';
import type {
  AttemptRecord,
  DeliveryRecord,
  DestinationRecord,
  DomainRecord,
  EventRecord,
  SubscriptionRecord,
} from '../store/store.js';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function deliverySummary(d: DeliveryRecord) {
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

export function attemptJson(a: AttemptRecord) {
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

export function deliveryDetail(d: DeliveryRecord, attempts: AttemptRecord[]) {
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
  };
}

export const CHALLENGE_PREFIX = '_harepost-challenge.';
export const VERIFY_PREFIX = 'harepost-verify=';

export function domainJson(d: DomainRecord) {
  return {
    domain: d.domain,
    status: d.status,
    record: { type: 'TXT', name: `${CHALLENGE_PREFIX}${d.domain}`, value: `${VERIFY_PREFIX}${d.token}` },
    created_at: iso(d.created_at),
    verified_at: iso(d.verified_at),
  };
}

export function destinationJson(d: DestinationRecord) {
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
export function webhookJson(d: DestinationRecord, secret: string | null) {
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

export function subscriptionJson(s: SubscriptionRecord) {
  return { id: s.id, destination_id: s.destination_id, event_type: s.event_type, created_at: iso(s.created_at) };
}

export function eventJson(e: EventRecord) {
  return {
    id: e.id,
    type: e.type,
    body: e.body === null ? null : (JSON.parse(e.body) as unknown),
    idempotency_key: e.idempotency_key,
    metadata: e.metadata,
    created_at: iso(e.created_at),
  };
}
