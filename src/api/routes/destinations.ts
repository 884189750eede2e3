/** Destinations (SPEC §10, harbor-quickstart): where events are delivered. */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import {
  createDestination,
  deleteDestination,
  rotateDestinationSecret,
  testDestination,
  updateDestination,
} from '../destinations.js';
import { notFound } from '../errors.js';
import { destinationJson, iso } from '../present.js';

const destinationSchema = {
  type: 'object',
  properties: {
    url: { type: 'string', description: 'https URL that receives the events.' },
    name: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    events: { type: 'array', items: { type: 'string' }, description: 'Event types: exact, prefix.* or *.' },
    enabled: { type: 'boolean' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    delivery: { type: 'object' },
    rate_limit: {
      type: ['object', 'null'],
      properties: { per_second: { type: 'integer', minimum: 1, maximum: 10000 } },
      description: 'At most this many deliveries start per second (all processes together); null: no limit.',
    },
    max_in_flight: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 10000,
      description: 'At most this many deliveries in flight at once (all processes together); null: no limit.',
    },
  },
} as const;

type Params = { Params: { id: string } };

const tags = ['destinations'];
const params = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', description: 'The destination id (dest_…).' } },
} as const;
const createSchema = {
  summary: 'Create a destination (the response shows its signing secret)',
  tags,
  body: { ...destinationSchema, required: ['url'] },
};
const patchSchema = { summary: 'Update a destination', tags, params, body: destinationSchema };
const deleteSchema = { summary: 'Delete a destination (its pending deliveries end dead_letter)', tags, params };
const rotateSchema = { summary: 'New signing secret (the old one signs for 24 h more)', tags, params };
const testSchema = { summary: 'Send one signed test request now', tags, params };

export function destinationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post('/destinations', { schema: createSchema }, async (request, reply) => {
    const { destination, secret } = await createDestination(deps, request.auth, request.body, ['url']);
    return reply.code(201).send({ ...destinationJson(destination), signing_secret: secret });
  });

  app.get('/destinations', { schema: { summary: 'List destinations', tags } }, async (request) => {
    const rows = await deps.store.listDestinations(request.auth.account_id, request.auth.mode);
    return { data: rows.map(destinationJson) };
  });

  app.get<Params>('/destinations/:id', { schema: { summary: 'Get a destination', tags, params } }, async (request) => {
    const d = await deps.store.getDestination(request.auth.account_id, request.auth.mode, request.params.id);
    if (!d) throw notFound('Destination');
    return destinationJson(d);
  });

  app.patch<Params>('/destinations/:id', { schema: patchSchema }, async (request) =>
    destinationJson(await updateDestination(deps, request.auth, request.params.id, request.body)),
  );

  app.delete<Params>('/destinations/:id', { schema: deleteSchema }, async (request) => {
    await deleteDestination(deps, request.auth, request.params.id);
    return { id: request.params.id, deleted: true };
  });

  app.post<Params>('/destinations/:id/rotate-secret', { schema: rotateSchema }, async (request) => {
    const r = await rotateDestinationSecret(deps, request.auth, request.params.id);
    return {
      id: request.params.id,
      signing_secret: r.secret,
      previous_secret_expires_at: iso(r.previous_secret_expires_at),
    };
  });

  app.post<Params>('/destinations/:id/test', { schema: testSchema }, async (request) =>
    testDestination(deps, request.auth, request.params.id),
  );
}
