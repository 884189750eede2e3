/** Events as the API answers them (harbor-quickstart, SPEC §10). */
import { DELIVERY_STATUSES } from '../../core/outcome.js';
import { anyJson, keysOf, nullableJsonObject, pageOf, timestamp } from './common.js';

const eventFields = {
  id: { type: 'string', description: 'evt_…' },
  type: { type: 'string' },
  body: anyJson,
  idempotency_key: { type: ['string', 'null'] },
  metadata: nullableJsonObject,
  created_at: timestamp,
} as const;

export const event = { type: 'object', required: keysOf(eventFields), properties: eventFields } as const;

export const eventPage = pageOf(event);

/** POST /v1/events → 202: one delivery per matching destination. */
export const publishedEvent = {
  type: 'object',
  required: ['id', 'type', 'created_at', 'deliveries'],
  properties: {
    id: eventFields.id,
    type: eventFields.type,
    created_at: timestamp,
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['queue_id', 'destination_id'],
        properties: { queue_id: { type: 'string' }, destination_id: { type: 'string' } },
      },
    },
  },
} as const;

/** GET /v1/events/{id}: the event and the status of each of its deliveries. */
export const eventDetail = {
  type: 'object',
  required: [...keysOf(eventFields), 'deliveries'],
  properties: {
    ...eventFields,
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        required: ['queue_id', 'destination_id', 'status'],
        properties: {
          queue_id: { type: 'string' },
          destination_id: { type: ['string', 'null'] },
          status: { type: 'string', enum: [...DELIVERY_STATUSES] },
        },
      },
    },
  },
} as const;
