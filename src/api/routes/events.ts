/**
 * Events (SPEC §10, harbor-quickstart): one event fanned out to every enabled destination with a
 * matching subscription — the event and all its deliveries committed in one transaction before 202.
 */
import { encodeBody, headersWithBody } from '../../core/body.js';
import { eventMatches, parseEventType } from '../../core/event-types.js';
import { ID_PREFIX, newId } from '../../core/ids.js';
import { isPlainObject } from '../../core/plain.js';
import { parseIdempotencyKey, parseMetadata } from '../../core/send-request.js';
import type { EventRecord, NewDelivery } from '../../store/store.js';
import { type ApiDeps, operatorLimits } from '../deps.js';
import { badRequest, notFound } from '../errors.js';
import { idempotencyOf, recordAs, replay, replayIfUsed } from '../idempotency.js';
import { eventJson, iso } from '../present.js';
import { parseLimit } from './deliveries.js';
import { InvalidCursorError } from '../../store/store.js';
import { eventDetail, eventPage, publishedEvent } from '../schemas/event.js';
import { BACKLOG_OR_RATE_LIMITED, BODY_ERRORS, v1Responses } from '../schemas/responses.js';
import type { ResponseOf, SchemaTypedApp } from '../schemas/provider.js';

const eventSchema = {
  type: 'object',
  required: ['type'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', description: 'The event type, e.g. order.created.' },
    body: { description: 'The payload: an object or array is sent as JSON, a string as is.' },
    idempotency_key: { type: ['string', 'null'], maxLength: 255 },
    metadata: { type: ['object', 'null'] },
  },
} as const;

const tags = ['events'];
const publishSchema = {
  summary: 'Publish an event: one delivery per matching destination, all committed before the 202',
  tags,
  body: eventSchema,
  response: v1Responses(
    { 202: { description: 'Published: the event and its deliveries are committed.', ...publishedEvent } },
    {
      ...BODY_ERRORS,
      409: 'idempotency_key_reused: this Idempotency-Key was used with a different request.',
      429: BACKLOG_OR_RATE_LIMITED,
    },
  ),
};
const getSchema = {
  summary: 'Get an event and its deliveries',
  tags,
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', description: 'The event id (evt_…).' } } },
  response: v1Responses({ 200: { description: 'The event.', ...eventDetail } }, { 404: true }),
} as const;
const listSchema = {
  summary: 'List events, newest first',
  tags,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'string', description: '1 to 100; default 25.' },
      cursor: { type: 'string', description: 'next_cursor from the previous page.' },
    },
  },
  response: v1Responses({ 200: { description: 'One page of events, newest first.', ...eventPage } }, { 400: true }),
} as const;

export function eventRoutes(app: SchemaTypedApp, deps: ApiDeps): void {
  app.post('/events', { schema: publishSchema }, async (request, reply) => {
    const idem = idempotencyOf(request, 'POST /v1/events');
    if (await replayIfUsed(deps.store, request, reply, idem)) return reply;
    const input = request.body;
    if (!isPlainObject(input)) throw badRequest('request', 'The request body must be a JSON object');
    const type = parseEventType(input.type);
    if (!type.ok) throw badRequest(type.field, type.message);
    const key = parseIdempotencyKey(input.idempotency_key);
    if (!key.ok) throw badRequest(key.field, key.message);
    const metadata = parseMetadata(input.metadata);
    if (!metadata.ok) throw badRequest(metadata.field, metadata.message);
    const plain = encodeBody('POST', input.body, {});
    if (!plain.ok) throw badRequest(plain.field, plain.message);

    const { account_id, mode } = request.auth;
    const now = Date.now();
    const event: EventRecord = {
      id: newId(ID_PREFIX.event),
      account_id,
      mode,
      type: type.value,
      body: input.body === undefined || input.body === null ? null : JSON.stringify(input.body),
      idempotency_key: key.value,
      metadata: metadata.value,
      created_at: now,
    };
    // The bytes are the same for every destination (only the headers differ): encoded once here,
    // stored once with the event, and every delivery of it sends them.
    const payload = plain.value.body;
    const deliveries: NewDelivery[] = [];
    const published: ResponseOf<typeof publishedEvent>['deliveries'] = [];
    for (const { destination, patterns } of await deps.store.subscribedDestinations(account_id, mode)) {
      if (!patterns.some((p) => eventMatches(p, type.value))) continue;
      const id = newId(ID_PREFIX.delivery);
      published.push({ queue_id: id, destination_id: destination.id });
      deliveries.push({
        id,
        account_id,
        mode,
        target: destination.url,
        origin: destination.origin,
        method: 'POST',
        headers: headersWithBody(input.body, destination.headers),
        body: payload,
        policy: destination.policy,
        idempotency_key: key.value,
        metadata: metadata.value,
        sign: true,
        created_at: now,
        event_id: event.id,
        event_type: event.type,
        destination_id: destination.id,
      });
    }
    const response: ResponseOf<typeof publishedEvent> = {
      id: event.id,
      type: event.type,
      created_at: iso(now),
      deliveries: published,
    };
    // past the account's max_pending_deliveries: BacklogFullError, the 429 backlog_full (nothing stored)
    const earlier = await deps.store.enqueueDeliveries(account_id, mode, deliveries, {
      event,
      eventPayload: payload,
      ...recordAs(idem, response, now),
      limits: operatorLimits(deps),
    });
    if (earlier && idem) return replay(reply, idem, earlier);
    return reply.code(202).send(response);
  });

  app.get('/events/:id', { schema: getSchema }, async (request) => {
    const { account_id, mode } = request.auth;
    const e = await deps.store.getEvent(account_id, mode, request.params.id);
    if (!e) throw notFound('Event');
    const deliveries = [];
    let cursor: string | undefined;
    do {
      const page = await deps.store.listDeliveries(account_id, mode, { event_id: e.id, limit: 100, ...(cursor ? { cursor } : {}) });
      deliveries.push(...page.rows.map((d) => ({ queue_id: d.id, destination_id: d.destination_id, status: d.status })));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return { ...eventJson(e), deliveries: deliveries.reverse() } satisfies ResponseOf<typeof eventDetail>;
  });

  app.get('/events', { schema: listSchema }, async (request) => {
    try {
      const page = await deps.store.listEvents(request.auth.account_id, request.auth.mode, {
        limit: parseLimit(request.query.limit),
        ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
      });
      return { data: page.rows.map(eventJson), next_cursor: page.next_cursor };
    } catch (err) {
      if (err instanceof InvalidCursorError) throw badRequest('cursor', 'cursor must be the next_cursor of an earlier page');
      throw err;
    }
  });
}
