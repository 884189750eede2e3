/** GET /v1/deliveries and GET /v1/deliveries/{id} (harepost-deliveries-reference). */
import type { FastifyInstance } from 'fastify';
import { DELIVERY_STATUSES, isDeliveryStatus } from '../../core/outcome.js';
import { InvalidCursorError, type ListDeliveriesQuery } from '../../store/store.js';
import type { ApiDeps } from '../deps.js';
import { badRequest, notFound } from '../errors.js';
import { deliveryDetail, deliverySummary } from '../present.js';

const listQuerySchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: [...DELIVERY_STATUSES] },
    limit: { type: 'string', pattern: '^[0-9]+$', description: '1 to 100; default 25.' },
    cursor: { type: 'string', description: 'next_cursor from the previous page.' },
  },
} as const;

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 25;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw badRequest('limit', 'limit must be a whole number from 1 to 100');
  return n;
}

export function deliveryRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{
    Querystring: { status?: string; limit?: string; cursor?: string; destination_id?: string; event_id?: string };
  }>(
    '/deliveries',
    async (request) => {
      const q = request.query;
      const query: ListDeliveriesQuery = { limit: parseLimit(q.limit) };
      if (q.status !== undefined) {
        if (!isDeliveryStatus(q.status)) {
          throw badRequest('status', `status must be one of ${DELIVERY_STATUSES.join(', ')}`);
        }
        query.status = q.status;
      }
      if (q.cursor !== undefined) query.cursor = q.cursor;
      if (q.destination_id !== undefined) query.destination_id = q.destination_id;
      if (q.event_id !== undefined) query.event_id = q.event_id;
      try {
        const page = await deps.store.listDeliveries(request.auth.account_id, request.auth.mode, query);
        return { data: page.rows.map(deliverySummary), next_cursor: page.next_cursor };
      } catch (err) {
        if (err instanceof InvalidCursorError) throw badRequest('cursor', 'cursor is not one this API returned');
        throw err;
      }
    },
  );

  app.get<{ Params: { id: string } }>('/deliveries/:id', async (request) => {
    const found = await deps.store.getDelivery(request.auth.account_id, request.auth.mode, request.params.id);
    if (!found) throw notFound('Delivery');
    return deliveryDetail(found.delivery, found.attempts);
  });
}

export { listQuerySchema };
