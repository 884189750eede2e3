/**
 * The posthawk-compatible view of destinations (posthawk-webhooks-reference): the same objects
 * as /v1/destinations, in that reference's shapes — a bare array, `secret`, `{success: true}`.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { createDestination, currentSecret, deleteDestination, testDestination, updateDestination } from '../destinations.js';
import { notFound } from '../errors.js';
import { webhookJson } from '../present.js';

const webhookSchema = {
  type: 'object',
  properties: {
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    description: { type: ['string', 'null'] },
  },
} as const;

type Params = { Params: { id: string } };

const tags = ['webhooks'];
const params = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
const createSchema = {
  summary: 'Create a destination, Posthawk-style',
  tags,
  body: { ...webhookSchema, required: ['url', 'events'] },
};
const getSchema = { summary: 'Get a destination, Posthawk-style', tags, params };
const patchSchema = { summary: 'Update a destination, Posthawk-style', tags, params, body: webhookSchema };
const testSchema = { summary: 'Send one signed test request now', tags, params };

/** Only the reference's fields are taken from a webhooks request. */
function pick(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['url', 'events', 'enabled', 'description']) if (b[k] !== undefined) out[k] = b[k];
  return out;
}

export function webhookRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/webhooks', { schema: { summary: 'List destinations as a bare array', tags } }, async (request) => {
    const rows = await deps.store.listDestinations(request.auth.account_id, request.auth.mode);
    return Promise.all(rows.map(async (d) => webhookJson(d, await currentSecret(deps, d.id))));
  });

  app.post(
    '/webhooks',
    { schema: createSchema },
    async (request, reply) => {
      const { destination, secret } = await createDestination(deps, request.auth, pick(request.body), ['url', 'events']);
      return reply.code(201).send(webhookJson(destination, secret));
    },
  );

  app.get<Params>('/webhooks/:id', { schema: getSchema }, async (request) => {
    const d = await deps.store.getDestination(request.auth.account_id, request.auth.mode, request.params.id);
    if (!d) throw notFound('Webhook');
    return webhookJson(d, await currentSecret(deps, d.id));
  });

  app.patch<Params>('/webhooks/:id', { schema: patchSchema }, async (request) => {
    const d = await updateDestination(deps, request.auth, request.params.id, pick(request.body));
    return webhookJson(d, await currentSecret(deps, d.id));
  });

  app.delete<Params>('/webhooks/:id', { schema: { summary: 'Delete a destination', tags, params } }, async (request) => {
    await deleteDestination(deps, request.auth, request.params.id);
    return { success: true };
  });

  app.post<Params>('/webhooks/:id/test', { schema: testSchema }, async (request) => testDestination(deps, request.auth, request.params.id));
}
