/** Subscriptions (SPEC §10): which event types a destination receives. */
import { parseEventPattern } from '../../core/event-types.js';
import { ID_PREFIX, newId } from '../../core/ids.js';
import type { ApiDeps } from '../deps.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { subscriptionJson } from '../present.js';
import { deletedById, listOf, noFields } from '../schemas/common.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import { subscription } from '../schemas/subscription.js';

const subscriptionSchema = {
  type: 'object',
  required: ['destination_id', 'event_type'],
  additionalProperties: false,
  properties: {
    destination_id: { type: 'string' },
    event_type: { type: 'string', description: 'order.created, order.* or *' },
  },
} as const;

const tags = ['subscriptions'];
const createSchema = {
  summary: 'Subscribe a destination to an event type (a repeat returns the existing one)',
  tags,
  body: subscriptionSchema,
  response: v1Responses(
    {
      201: { description: 'Subscribed.', ...subscription },
      200: { description: 'Already subscribed: the existing subscription.', ...subscription },
    },
    { ...BODY_ERRORS, 404: 'not_found: no such destination (error.field is destination_id).' },
  ),
};
const listSchema = {
  summary: 'List subscriptions',
  tags,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { destination_id: { type: 'string', description: "Only this destination's." } },
  },
  response: v1Responses({ 200: { description: 'The subscriptions.', ...listOf(subscription) } }, { 400: true }),
} as const;
const params = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
const deleteSchema = {
  summary: 'Remove a subscription',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Removed.', ...deletedById } }, { ...BODY_ERRORS, 404: true }),
};

export function subscriptionRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.post(
    '/subscriptions',
    { schema: createSchema },
    async (request, reply) => {
      if (/[\u0000-\u001f]/.test(request.body.destination_id)) {
        throw new ApiError(404, 'not_found', 'destination_id names no destination of this account and mode', 'destination_id');
      }
      const pattern = parseEventPattern(request.body.event_type);
      if (!pattern.ok) throw badRequest(pattern.field, pattern.message);
      const r = await deps.store.createSubscription(
        request.auth.account_id,
        request.auth.mode,
        request.body.destination_id,
        { id: newId(ID_PREFIX.subscription), event_type: pattern.value },
        Date.now(),
      );
      if (!r) throw new ApiError(404, 'not_found', 'destination_id names no destination of this account and mode', 'destination_id');
      return reply.code(r.created ? 201 : 200).send(subscriptionJson(r.record));
    },
  );

  app.get('/subscriptions', { schema: listSchema }, async (request) => {
    const rows = await deps.store.listSubscriptions(request.auth.account_id, request.auth.mode, request.query.destination_id);
    return { data: rows.map(subscriptionJson) };
  });

  app.delete('/subscriptions/:id', { schema: deleteSchema }, async (request) => {
    if (!(await deps.store.deleteSubscription(request.auth.account_id, request.auth.mode, request.params.id, Date.now()))) {
      throw notFound('Subscription');
    }
    return { id: request.params.id, deleted: true } satisfies ResponseOf<typeof deletedById>;
  });
}
