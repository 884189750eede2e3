/** Destinations (SPEC §10, harbor-quickstart): where events are delivered. */
import { DEFAULT_SCHEME } from '../../core/signature-scheme.js';
import type { ApiDeps } from '../deps.js';
import {
  createDestination,
  deleteDestination,
  readDestinationSecret,
  rotateDestinationSecret,
  testDestination,
  updateDestination,
} from '../destinations.js';
import { notFound } from '../errors.js';
import { destinationJson, iso } from '../present.js';
import { deletedById, listOf, noFields, noQuery } from '../schemas/common.js';
import { deliveryPolicyInput } from '../schemas/delivery-policy.js';
import {
  createdDestination,
  destination as destinationObject,
  destinationSecret,
  rotatedDestinationSecret,
  testResult,
} from '../schemas/destination.js';
import { BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';
import { signatureInput } from '../schemas/signature.js';

const destinationSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: { type: 'string', description: 'https URL that receives the events.' },
    name: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    events: { type: 'array', items: { type: 'string' }, description: 'Event types: exact, prefix.* or *.' },
    enabled: { type: 'boolean' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Sent with every delivery.' },
    delivery: deliveryPolicyInput,
    rate_limit: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: { per_second: { type: 'integer', minimum: 1, maximum: 10000 } },
      description: 'At most this many deliveries start per second (all processes together); null: no limit.',
    },
    max_in_flight: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 10000,
      description: 'At most this many deliveries in flight at once (all processes together); null: no limit.',
    },
    signature: signatureInput,
  },
} as const;

const tags = ['destinations'];
const params = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The destination id (dest_…).' } },
} as const;
const createSchema = {
  summary: 'Create a destination (the response shows its signing secret)',
  tags,
  body: { ...destinationSchema, required: ['url'] } as const,
  response: v1Responses(
    { 201: { description: 'Created, with its signing secret.', ...createdDestination } },
    { ...BODY_ERRORS, 403: 'limit_exceeded: the account has max_destinations destinations (live and test together).' },
  ),
};
const listSchema = {
  summary: 'List destinations',
  tags,
  querystring: noQuery,
  response: v1Responses({ 200: { description: 'Every destination of this account and mode.', ...listOf(destinationObject) } }, { 400: true }),
};
const getSchema = {
  summary: 'Get a destination',
  tags,
  params,
  response: v1Responses({ 200: { description: 'The destination.', ...destinationObject } }, { 404: true }),
};
const patchSchema = {
  summary: 'Update a destination',
  tags,
  params,
  body: destinationSchema,
  response: v1Responses({ 200: { description: 'The destination as it is now.', ...destinationObject } }, { ...BODY_ERRORS, 404: true }),
};
const deleteSchema = {
  summary: 'Delete a destination (its pending deliveries end dead_letter)',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'Deleted.', ...deletedById } }, { ...BODY_ERRORS, 404: true }),
};
const rotateSchema = {
  summary: 'New signing secret (the old one signs for 24 h more)',
  tags,
  params,
  body: noFields,
  response: v1Responses({ 200: { description: 'The new secret.', ...rotatedDestinationSecret } }, { ...BODY_ERRORS, 404: true }),
};
const secretSchema = {
  summary: "The destination's current signing secret (readable at any time)",
  tags,
  params,
  response: v1Responses({ 200: { description: 'Its current secret.', ...destinationSecret } }, { 404: true }),
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

export function destinationRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.post('/destinations', { schema: createSchema }, async (request, reply) => {
    const { destination, secret } = await createDestination(deps, request.auth, request.body, ['url'], deps.defaultSignature ?? DEFAULT_SCHEME);
    return reply.code(201).send({ ...destinationJson(destination), signing_secret: secret });
  });

  app.get('/destinations', { schema: listSchema }, async (request) => {
    const rows = await deps.store.listDestinations(request.auth.account_id, request.auth.mode);
    return { data: rows.map(destinationJson) };
  });

  app.get('/destinations/:id', { schema: getSchema }, async (request) => {
    const d = await deps.store.getDestination(request.auth.account_id, request.auth.mode, request.params.id);
    if (!d) throw notFound('Destination');
    return destinationJson(d);
  });

  app.patch('/destinations/:id', { schema: patchSchema }, async (request) =>
    destinationJson(await updateDestination(deps, request.auth, request.params.id, request.body)),
  );

  app.delete('/destinations/:id', { schema: deleteSchema }, async (request) => {
    await deleteDestination(deps, request.auth, request.params.id);
    return { id: request.params.id, deleted: true } satisfies ResponseOf<typeof deletedById>;
  });

  app.get('/destinations/:id/secret', { schema: secretSchema }, async (request) =>
    readDestinationSecret(deps, request.auth, request.params.id),
  );

  app.post('/destinations/:id/rotate-secret', { schema: rotateSchema }, async (request) => {
    const r = await rotateDestinationSecret(deps, request.auth, request.params.id);
    return {
      id: request.params.id,
      signing_secret: r.secret,
      previous_secret_expires_at: iso(r.previous_secret_expires_at),
    } satisfies ResponseOf<typeof rotatedDestinationSecret>;
  });

  app.post('/destinations/:id/test', { schema: testSchema }, async (request) =>
    testDestination(deps, request.auth, request.params.id, request.log),
  );
}
