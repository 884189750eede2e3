/** Sending domains as the API answers them (harepost-quickstart). */
import { nullableTimestamp, timestamp } from './common.js';

export const domain = {
  type: 'object',
  required: ['domain', 'status', 'record', 'created_at', 'verified_at'],
  properties: {
    domain: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'verified'] },
    record: {
      type: 'object',
      description: 'The DNS TXT record that proves control of the domain.',
      required: ['type', 'name', 'value'],
      properties: {
        type: { type: 'string', enum: ['TXT'] },
        name: { type: 'string', description: '_harepost-challenge.<domain>' },
        value: { type: 'string', description: 'harepost-verify=…' },
      },
    },
    created_at: timestamp,
    verified_at: nullableTimestamp,
  },
} as const;

/** DELETE /v1/domains/{domain} */
export const domainDeleted = {
  type: 'object',
  required: ['domain', 'deleted'],
  properties: { domain: { type: 'string' }, deleted: { type: 'boolean', const: true } },
} as const;
