/** GET /v1/deliveries and GET /v1/deliveries/{id} (harepost-deliveries-reference). */
import { DELIVERY_STATUSES, isDeliveryStatus } from '../../core/outcome.js';
import {
  BacklogFullError,
  InvalidCursorError,
  type ListDeliveriesQuery,
  type RequeueFilter,
} from '../../store/store.js';
import { type ApiDeps, operatorLimits } from '../deps.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { deliveryDetail, deliverySummary } from '../present.js';
import { noFields } from '../schemas/common.js';
import { deliveryDetail as deliveryDetailSchema, deliveryPage, replayCount } from '../schemas/delivery.js';
import { BODY_ERRORS, REPLAY_BACKLOG_OR_RATE_LIMITED, v1Responses } from '../schemas/responses.js';
import type { SchemaTypedApp } from '../schemas/provider.js';

const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: [...DELIVERY_STATUSES] },
    limit: { type: 'string', description: '1 to 100; default 25.' },
    cursor: {
      type: 'string',
      description: 'next_cursor from the previous page, or an RFC 3339 time: only deliveries created strictly before it.',
    },
    destination_id: { type: 'string' },
    event_id: { type: 'string' },
    idempotency_key: { type: 'string', description: 'Only deliveries sent with this idempotency_key (exact match).' },
  },
} as const;

const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

const listSchema = {
  summary: 'List deliveries, newest first',
  tags: ['deliveries'],
  querystring: listQuerySchema,
  response: v1Responses({ 200: { description: 'One page of deliveries, newest first.', ...deliveryPage } }, { 400: true }),
};
const getSchema = {
  summary: 'One delivery with its attempts',
  tags: ['deliveries'],
  params: idParams,
  response: v1Responses({ 200: { description: 'The delivery.', ...deliveryDetailSchema } }, { 404: true }),
};
const retrySchema = {
  summary: 'Replay a dead_letter or rejected delivery',
  tags: ['deliveries'],
  params: idParams,
  body: noFields,
  response: v1Responses(
    { 202: { description: 'Queued again, with a fresh attempt budget.', ...deliveryDetailSchema } },
    {
      ...BODY_ERRORS,
      404: true,
      409: 'not_replayable: only a dead_letter or rejected delivery can be replayed (and not one whose destination was deleted).',
      429: REPLAY_BACKLOG_OR_RATE_LIMITED,
    },
  ),
};

/** Ids and filters are printable text: anything with a control character matches nothing we store. */
const hasControl = (v: string) => /[\u0000-\u001f\u007f]/.test(v);

function filterValue(value: string, field: string): string {
  if (hasControl(value)) throw badRequest(field, `${field} must not contain control characters`);
  return value;
}

export function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 25;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw badRequest('limit', 'limit must be a whole number from 1 to 100');
  return n;
}

export function deliveryRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.get(
    '/deliveries',
    { schema: listSchema },
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
      if (q.destination_id !== undefined) query.destination_id = filterValue(q.destination_id, 'destination_id');
      if (q.event_id !== undefined) query.event_id = filterValue(q.event_id, 'event_id');
      if (q.idempotency_key !== undefined) query.idempotency_key = filterValue(q.idempotency_key, 'idempotency_key');
      try {
        const page = await deps.store.listDeliveries(request.auth.account_id, request.auth.mode, query);
        return { data: page.rows.map(deliverySummary), next_cursor: page.next_cursor };
      } catch (err) {
        if (err instanceof InvalidCursorError) {
          throw badRequest(
            'cursor',
            'cursor must be the next_cursor of an earlier page or an RFC 3339 time such as 2026-06-10T14:22:10Z',
          );
        }
        throw err;
      }
    },
  );

  app.get(
    '/deliveries/:id',
    { schema: getSchema },
    async (request) => {
    if (hasControl(request.params.id)) throw notFound('Delivery');
    const found = await deps.store.getDelivery(request.auth.account_id, request.auth.mode, request.params.id);
    if (!found) throw notFound('Delivery');
    return deliveryDetail(found.delivery, found.attempts);
    },
  );
}


const bulkRetrySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  description: 'At least one filter, or "all": true.',
  properties: {
    status: { type: 'string', enum: ['dead_letter', 'rejected'], description: 'Default: both.' },
    destination_id: { type: 'string' },
    event_id: { type: 'string' },
    created_before: { type: 'string', description: 'ISO 8601 time.' },
    created_after: { type: 'string', description: 'ISO 8601 time.' },
    all: { type: 'boolean', description: 'true: replay every dead letter and rejection (needed when no filter is given).' },
  },
} as const;

const bulkRetryRouteSchema = {
  summary: 'Replay every dead_letter/rejected delivery matching the filters',
  tags: ['deliveries'],
  description:
    'All or nothing against max_pending_deliveries: when every delivery the filters match, added to the ' +
    "account's pending ones, would pass the limit, the answer is 429 backlog_full and nothing is replayed. " +
    'Matches are re-queued 1,000 at a time, each batch checked again in its own transaction: should other ' +
    'deliveries take the room meanwhile, the replay stops with 429 backlog_full, its message saying how many ' +
    'were re-queued.',
  body: bulkRetrySchema,
  response: v1Responses({ 202: { description: 'Queued again.', ...replayCount } }, { ...BODY_ERRORS, 429: REPLAY_BACKLOG_OR_RATE_LIMITED }),
};

const REPLAY_BATCH = 1000;

function instant(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(field, `${field} must be an ISO 8601 time such as 2026-06-10T14:22:10Z`);
  return ms;
}

const BULK_FILTERS = ['status', 'destination_id', 'event_id', 'created_before', 'created_after'] as const;

/** A bulk replay names at least one filter, or says `"all": true`: an empty body never replays everything. */
function requireFilterOrAll(b: { all?: boolean } & { [F in (typeof BULK_FILTERS)[number]]?: unknown }): void {
  const all: unknown = b.all;
  if (all !== undefined && typeof all !== 'boolean') throw badRequest('all', 'all must be true or false');
  if (all === true || BULK_FILTERS.some((f) => b[f] !== undefined)) return;
  throw badRequest(
    'all',
    `Name at least one filter (${BULK_FILTERS.join(', ')}), or send "all": true to replay every dead letter and rejection`,
  );
}

/** Replay: re-queue dead letters and rejections with a fresh attempt budget. */
export function replayRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.post(
    '/deliveries/:id/retry',
    { schema: retrySchema },
    async (request, reply) => {
    const { account_id, mode } = request.auth;
    // past the account's max_pending_deliveries: BacklogFullError, the 429 backlog_full (nothing re-queued)
    const r = await deps.store.requeueDelivery(account_id, mode, request.params.id, Date.now(), operatorLimits(deps));
    if (r === 'not_found') throw notFound('Delivery');
    if (r === 'conflict') {
      throw new ApiError(
        409,
        'not_replayable',
        'Only a dead_letter or rejected delivery can be retried (this one is queued, retrying or delivered, or its destination was deleted)',
      );
    }
    const found = await deps.store.getDelivery(account_id, mode, request.params.id);
    return reply.code(202).send(deliveryDetail(found!.delivery, found!.attempts));
    },
  );

  app.post('/deliveries/retry', {
    schema: bulkRetryRouteSchema,
  }, async (request, reply) => {
    const b = request.body ?? {};
    requireFilterOrAll(b);
    const started = Date.now();
    const filter: RequeueFilter = { statuses: b.status ? [b.status] : ['dead_letter', 'rejected'], updated_before: started + 1 };
    if (b.destination_id !== undefined) filter.destination_id = filterValue(b.destination_id, 'destination_id');
    if (b.event_id !== undefined) filter.event_id = filterValue(b.event_id, 'event_id');
    const before = instant(b.created_before, 'created_before');
    const after = instant(b.created_after, 'created_after');
    if (before !== undefined) filter.created_before = before;
    if (after !== undefined) filter.created_after = after;
    const limits = operatorLimits(deps);
    let count = 0;
    for (;;) {
      let n: number;
      try {
        // the first batch counts every match against max_pending_deliveries: the replay is
        // admitted whole or refused whole (429 backlog_full, nothing re-queued); each later batch
        // is checked again, in its own transaction, in case other deliveries took the room meanwhile
        n = await deps.store.requeueDeliveries(request.auth.account_id, request.auth.mode, filter, REPLAY_BATCH, started + 1, {
          limits,
          whole: count === 0,
        });
      } catch (err) {
        if (err instanceof BacklogFullError) err.replayed = count; // what earlier batches re-queued stays queued
        throw err;
      }
      count += n;
      if (n < REPLAY_BATCH) break;
      await new Promise((r) => setImmediate(r)); // let other requests and the dispatcher run between batches
    }
    return reply.code(202).send({ count });
  });
}
