/**
 * The posthawk-compatible view of destinations (posthawk-webhooks-reference): the same objects
 * as /v1/destinations, in that reference's shapes — a bare array, `secret`, `{success: true}`.
 */
import type { ApiDeps } from '../deps.js';
import { createDestination, currentSecret, deleteDestination, testDestination, updateDestination } from '../destinations.js';
import { notFound } from '../errors.js';
import { webhookJson } from '../present.js';
import { noFields, noQuery } from '../schemas/common.js';
import { testResult, webhook, webhookDeleted, webhookList } from '../schemas/destination.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import { signatureInput } from '../schemas/signature.js';

const webhookSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    description: { type: ['string', 'null'] },
    signature: { ...signatureInput, description: 'How deliveries are signed. Default here: posthawk.' },
  },
} as const;

const tags = ['webhooks'];
const params = { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } as const;
const createSchema = {
  summary: 'Create a destination, Posthawk-style',
  tags,
  body: { ...webhookSchema, required: ['url', 'events'] } as const,
  response: v1Responses(
    { 201: { description: 'Created, with its secret.', ...webhook } },
    { ...BODY_ERRORS, 403: 'limit_exceeded: the account has max_destinations destinations (live and test together).' },
  ),
};
const listSchema = {
  summary: 'List destinations as a bare array',
  tags,
  querystring: noQuery,
  response: v1Responses({ 200: { description: 'Every destination of this account and mode.', ...webhookList } }, { 400: true }),
};
const getSchema = {
  summary: 'Get a destination, Posthawk-style',
  tags,
  params,
  response: v1Responses({ 200: { description: 'The destination.', ...webhook } }, { 404: true }),
};
const patchSchema = {
  summary: 'Update a destination, Posthawk-style',
  tags,
  params,
  body: webhookSchema,
  response: v1Responses({ 200: { description: 'The destination as it is now.', ...webhook } }, { ...BODY_ERRORS, 404: true }),
};
const deleteSchema = {
  summary: 'Delete a destination',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Deleted.', ...webhookDeleted } }, { ...BODY_ERRORS, 404: true }),
};
const testSchema = {
  summary: 'Send one signed test request now',
  tags,
  params,
  body: noFields,
  response: v1Responses(
    { 200: { description: 'What the destination answered (success is false when it did not answer 2xx).', ...testResult } },
    { ...BODY_ERRORS, 404: true },
  ),
};

/** Only the reference's fields (and Harepost's `signature`) are taken from a webhooks request. */
function pick(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['url', 'events', 'enabled', 'description', 'signature']) if (b[k] !== undefined) out[k] = b[k];
  return out;
}

export function webhookRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.get('/webhooks', { schema: listSchema }, async (request) => {
    const rows = await deps.store.listDestinations(request.auth.account_id, request.auth.mode);
    return Promise.all(rows.map(async (d) => webhookJson(d, await currentSecret(deps, d.id))));
  });

  app.post(
    '/webhooks',
    { schema: createSchema },
    async (request, reply) => {
      // the reference's receivers check X-Posthawk-Signature: that is what endpoints made here get
      const { destination, secret } = await createDestination(deps, request.auth, pick(request.body), ['url', 'events'], 'posthawk');
      return reply.code(201).send(webhookJson(destination, secret));
    },
  );

  app.get('/webhooks/:id', { schema: getSchema }, async (request) => {
    const d = await deps.store.getDestination(request.auth.account_id, request.auth.mode, request.params.id);
    if (!d) throw notFound('Webhook');
    return webhookJson(d, await currentSecret(deps, d.id));
  });

  app.patch('/webhooks/:id', { schema: patchSchema }, async (request) => {
    const d = await updateDestination(deps, request.auth, request.params.id, pick(request.body));
    return webhookJson(d, await currentSecret(deps, d.id));
  });

  app.delete('/webhooks/:id', { schema: deleteSchema }, async (request) => {
    await deleteDestination(deps, request.auth, request.params.id);
    return { success: true } satisfies ResponseOf<typeof webhookDeleted>;
  });

  app.post('/webhooks/:id/test', { schema: testSchema }, async (request) =>
    testDestination(deps, request.auth, request.params.id, request.log),
  );
}
