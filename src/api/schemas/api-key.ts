/** API keys as the API answers them (SPEC §2): the key itself only once, when made. */
import { nullableTimestamp, timestamp } from './common.js';

const mode = { type: 'string', enum: ['live', 'test'] } as const;
const prefix = { type: 'string', description: 'The start of the key, to tell keys apart.' } as const;

export const apiKey = {
  type: 'object',
  required: ['id', 'mode', 'prefix', 'created_at', 'last_used_at'],
  properties: { id: { type: 'string' }, mode, prefix, created_at: timestamp, last_used_at: nullableTimestamp },
} as const;

/** POST /v1/keys → 201 */
export const createdApiKey = {
  type: 'object',
  required: ['id', 'mode', 'key', 'prefix', 'created_at'],
  properties: {
    id: { type: 'string' },
    mode,
    key: { type: 'string', description: 'hp_live_… or hp_test_…: shown this once, never again.' },
    prefix,
    created_at: timestamp,
  },
} as const;

/** DELETE /v1/keys/{id} */
export const revokedApiKey = {
  type: 'object',
  required: ['id', 'revoked'],
  properties: { id: { type: 'string' }, revoked: { type: 'boolean', const: true } },
} as const;
