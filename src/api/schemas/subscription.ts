/** Subscriptions as the API answers them (SPEC §10). */
import { timestamp } from './common.js';

export const subscription = {
  type: 'object',
  required: ['id', 'destination_id', 'event_type', 'created_at'],
  properties: {
    id: { type: 'string', description: 'sub_…' },
    destination_id: { type: 'string' },
    event_type: { type: 'string', description: 'order.created, order.* or *' },
    created_at: timestamp,
  },
} as const;
