/** Destinations as the API answers them: the /v1/destinations shape and the posthawk /v1/webhooks shape. */
import { keysOf, stringMap, timestamp } from './common.js';
import { deliveryPolicy } from './delivery-policy.js';
import { signature } from './signature.js';

const nullableString = { type: ['string', 'null'] } as const;
const events = { type: 'array', items: { type: 'string' }, description: 'The event types it is subscribed to.' } as const;
const secret = { type: 'string', description: 'whsec_…: the key its deliveries are signed with.' } as const;

const fields = {
  id: { type: 'string', description: 'dest_…' },
  url: { type: 'string' },
  name: nullableString,
  description: nullableString,
  events,
  enabled: { type: 'boolean' },
  disabled_reason: { ...nullableString, description: 'Why it was disabled (by the API, or a 410 Gone answer).' },
  headers: stringMap,
  delivery: deliveryPolicy,
  rate_limit: {
    type: ['object', 'null'],
    required: ['per_second'],
    properties: { per_second: { type: 'integer' } },
    description: 'null: no limit.',
  },
  max_in_flight: { type: ['integer', 'null'], description: 'null: no limit.' },
  signature,
  created_at: timestamp,
  updated_at: timestamp,
} as const;

export const destination = { type: 'object', required: keysOf(fields), properties: fields } as const;

/** POST /v1/destinations → 201: the destination and its signing secret. */
export const createdDestination = {
  type: 'object',
  required: [...keysOf(fields), 'signing_secret'],
  properties: { ...fields, signing_secret: secret },
} as const;

/** GET /v1/destinations/{id}/secret */
export const destinationSecret = {
  type: 'object',
  required: ['id', 'signing_secret'],
  properties: { id: { type: 'string' }, signing_secret: secret },
} as const;

/** POST /v1/destinations/{id}/rotate-secret */
export const rotatedDestinationSecret = {
  type: 'object',
  required: ['id', 'signing_secret', 'previous_secret_expires_at'],
  properties: {
    id: { type: 'string' },
    signing_secret: secret,
    previous_secret_expires_at: { ...timestamp, description: 'Until then the old secret signs too.' },
  },
} as const;

/** POST …/test: the answer of one signed test request. */
export const testResult = {
  type: 'object',
  required: ['success', 'status', 'body'],
  properties: {
    success: { type: 'boolean', description: 'The destination answered 2xx.' },
    status: { type: ['integer', 'null'], description: 'Its HTTP status; null when there was no answer.' },
    body: { type: 'string', description: 'The first 1 KiB of its answer.' },
    error: { type: 'string', description: 'When there was no answer: why.' },
  },
} as const;

/** A destination in the posthawk webhooks reference's shape. */
export const webhook = {
  type: 'object',
  required: ['id', 'url', 'secret', 'events', 'enabled', 'description', 'signature', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    secret: { type: ['string', 'null'], description: 'whsec_…: the key its deliveries are signed with.' },
    events,
    enabled: { type: 'boolean' },
    description: nullableString,
    signature,
    created_at: timestamp,
    updated_at: timestamp,
  },
} as const;

export const webhookList = { type: 'array', items: webhook } as const;

/** DELETE /v1/webhooks/{id} */
export const webhookDeleted = {
  type: 'object',
  required: ['success'],
  properties: { success: { type: 'boolean', const: true } },
} as const;
