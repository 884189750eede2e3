/** JSON shapes of the dashboard API (/dashboard/api/…) and of the /v1 API it mirrors (src/api/present.ts). */

export type Mode = 'live' | 'test';

export interface Session {
  account_id: string;
  mode: Mode;
  csrf_token: string;
  expires_at: string;
}

export const DELIVERY_STATUSES = ['queued', 'retrying', 'delivered', 'rejected', 'dead_letter'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
export const FINAL_STATUSES: readonly DeliveryStatus[] = ['delivered', 'rejected', 'dead_letter'];
export const REPLAYABLE_STATUSES: readonly DeliveryStatus[] = ['dead_letter', 'rejected'];

export type AttemptOutcome = 'delivered' | 'failed' | 'rejected' | 'timeout' | 'network_error' | 'blocked';

export type OverviewCount = 'accepted' | 'delivered' | 'retrying' | 'rejected' | 'dead_letter';

export interface Overview {
  since: string;
  until: string;
  /** In the window: deliveries accepted, and the status each attempt left its delivery in. */
  deliveries: Record<OverviewCount, number>;
  dead_letter_count: number;
  series: { at: string; attempts: number; failures: number }[];
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface DeliverySummary {
  queue_id: string;
  target: string;
  method: string;
  status: DeliveryStatus;
  attempts: number;
  last_status: number | null;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string | null;
  next_attempt_at: string | null;
  event_id: string | null;
  event_type: string | null;
  destination_id: string | null;
}

export interface DeliveryPolicy {
  max_attempts: number;
  backoff: string;
  base_delay_ms: number;
  max_delay_ms: number;
  jitter: string;
  timeout_ms: number;
  respect_retry_after: boolean;
  [key: string]: unknown;
}

export interface Attempt {
  attempt: number;
  outcome: AttemptOutcome | string;
  http_status: number | null;
  latency_ms: number | null;
  error: string | null;
  created_at: string;
  response_excerpt: string | null;
}

export interface DeliveryDetail {
  queue_id: string;
  target: string;
  method: string;
  status: DeliveryStatus;
  last_status: number | null;
  idempotency_key: string | null;
  created_at: string;
  updated_at: string | null;
  next_attempt_at: string | null;
  delivery: DeliveryPolicy | null;
  metadata: unknown;
  event_id: string | null;
  event_type: string | null;
  destination_id: string | null;
  error: string | null;
  attempts: Attempt[];
  /** Not returned by the API yet (see dashboard/README.md): the request as it is sent. */
  request?: { headers?: Record<string, string> | null; body?: unknown } | null;
  /** Accepted too, in case the API adds them at the top level. */
  headers?: Record<string, string> | null;
  body?: unknown;
}

export interface RateLimit {
  per_second: number;
}

export interface Destination {
  id: string;
  url: string;
  name: string | null;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  headers: Record<string, string>;
  delivery: DeliveryPolicy | null;
  rate_limit?: RateLimit | null;
  max_in_flight?: number | null;
  /** How its deliveries are signed: a scheme's name, or a custom header set through the API. */
  signature?: SignatureScheme;
  created_at: string;
  updated_at: string | null;
}

export type SignatureScheme =
  | 'standard-webhooks'
  | 'posthawk'
  | 'harbor'
  | 'github'
  | { header: string; encoding: 'hex' | 'base64'; prefix: string; timestamped: boolean };

/** GET /v1/destinations/{id}/secret */
export interface DestinationSecret {
  id: string;
  signing_secret: string;
}

export interface CreatedDestination extends Destination {
  signing_secret: string;
}

export interface RotatedSecret {
  id: string;
  signing_secret: string;
  previous_secret_expires_at: string | null;
}

export interface TestResult {
  success: boolean;
  status: number | null;
  body: string;
  error?: string;
}

export interface Domain {
  domain: string;
  status: 'pending' | 'verified' | string;
  record: { type: string; name: string; value: string };
  created_at: string;
  verified_at: string | null;
}

export interface EventSummary {
  id: string;
  type: string;
  body: unknown;
  idempotency_key: string | null;
  metadata: unknown;
  created_at: string;
}

export interface EventDetail extends EventSummary {
  deliveries: { queue_id: string; destination_id: string | null; status: DeliveryStatus }[];
}

export interface DeliveryFilter {
  status?: DeliveryStatus | undefined;
  destination_id?: string | undefined;
  event_id?: string | undefined;
  idempotency_key?: string | undefined;
}
