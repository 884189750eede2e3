/** Deliveries as the API answers them (harepost-deliveries-reference, SPEC §6). */
import { ATTEMPT_OUTCOMES, DELIVERY_STATUSES } from '../../core/outcome.js';
import { keysOf, nullableJsonObject, nullableTimestamp, pageOf, stringMap, timestamp } from './common.js';
import { deliveryPolicy } from './delivery-policy.js';

const nullableString = { type: ['string', 'null'] } as const;
const httpStatus = { type: ['integer', 'null'], description: 'The HTTP status of the last answer; null before any.' } as const;

/** What a delivery's list entry and its full view share. */
const common = {
  queue_id: { type: 'string', description: 'hr_…' },
  target: { type: 'string' },
  method: { type: 'string' },
  status: { type: 'string', enum: [...DELIVERY_STATUSES] },
  last_status: httpStatus,
  response_code: { ...httpStatus, description: 'The same value as last_status (the harbor quickstart names it so).' },
  idempotency_key: nullableString,
  created_at: timestamp,
  updated_at: timestamp,
  next_attempt_at: { ...nullableTimestamp, description: 'When the next attempt is due; null once final.' },
  event_id: { ...nullableString, description: 'For an event delivery: its event (evt_…).' },
  event_type: nullableString,
  destination_id: { ...nullableString, description: 'For an event delivery: its destination (dest_…).' },
} as const;

const commonRequired = keysOf(common);

export const attempt = {
  type: 'object',
  required: ['attempt', 'outcome', 'http_status', 'latency_ms', 'error', 'created_at', 'response_excerpt'],
  properties: {
    attempt: { type: 'integer', description: '1, 2, …' },
    outcome: { type: 'string', enum: [...ATTEMPT_OUTCOMES] },
    http_status: { type: ['integer', 'null'] },
    latency_ms: { type: 'integer' },
    error: nullableString,
    created_at: timestamp,
    response_excerpt: { ...nullableString, description: 'The first 1 KiB of the answer.' },
  },
} as const;

/** One entry of GET /v1/deliveries: `attempts` is a count. */
export const deliverySummary = {
  type: 'object',
  required: [...commonRequired, 'attempts'],
  properties: { ...common, attempts: { type: 'integer', description: 'How many attempts have finished.' } },
} as const;

/** GET /v1/deliveries/{id}: the delivery, its policy, metadata, every attempt and the request as it is sent. */
export const deliveryDetail = {
  type: 'object',
  required: [...commonRequired, 'delivery', 'metadata', 'error', 'attempts', 'request'],
  properties: {
    ...common,
    delivery: deliveryPolicy,
    metadata: nullableJsonObject,
    error: { ...nullableString, description: 'Why the delivery ended without an attempt deciding it, if it did.' },
    attempts: { type: 'array', items: attempt },
    request: {
      type: 'object',
      description: 'What each attempt sends (signature and X-Harepost-* headers are added per attempt).',
      required: ['headers', 'body'],
      properties: { headers: stringMap, body: nullableString },
    },
  },
} as const;

export const deliveryPage = pageOf(deliverySummary);

/** POST /v1/send → 202 */
export const sendAccepted = {
  type: 'object',
  required: ['queue_id', 'status', 'idempotency_key', 'created_at'],
  properties: {
    queue_id: { type: 'string' },
    status: { type: 'string', enum: ['queued'] },
    idempotency_key: nullableString,
    created_at: timestamp,
  },
} as const;

/** POST /v1/deliveries/retry → 202 */
export const replayCount = {
  type: 'object',
  required: ['count'],
  properties: { count: { type: 'integer', description: 'How many deliveries were queued again.' } },
} as const;
