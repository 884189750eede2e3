/** The account's signing secret for `sign: true` sends, as the API answers it (SPEC §7). */
import { timestamp } from './common.js';

const secret = { type: 'string', description: 'whsec_…' } as const;

/** GET /v1/signing-secret */
export const signingSecret = {
  type: 'object',
  required: ['secret', 'created_at', 'previous_secrets_expire_at'],
  properties: {
    secret,
    created_at: timestamp,
    previous_secrets_expire_at: {
      type: 'array',
      items: timestamp,
      description: 'When each earlier secret, still signing beside this one, stops.',
    },
  },
} as const;

/** POST /v1/signing-secret/rotate */
export const rotatedSigningSecret = {
  type: 'object',
  required: ['secret', 'created_at', 'previous_secret_expires_at'],
  properties: { secret, created_at: timestamp, previous_secret_expires_at: timestamp },
} as const;
