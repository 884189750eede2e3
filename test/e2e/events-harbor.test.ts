/**
 * The harbor quickstart (seeds/harbor-quickstart.txt, SPEC §10) end to end in test mode: register a
 * destination, subscribe it, send an event, watch the signed delivery land — plus the surrounding
 * API: subscriptions, the destination's `events`, reading events, the Idempotency-Key header and
 * every 400 / 404 of these endpoints.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

const verify = (secret: string, req: RecordedRequest): unknown =>
  new Webhook(secret).verify(req.body.toString('utf8'), req.headers as Record<string, string>);

describe('events: the harbor quickstart and its API', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('harbor');
  });
  after(async () => stack.close());

  /** Requests the receiver got on `path` (query string ignored). */
  const hits = (path: string) => stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);

  async function newDestination(key: string, path: string, extra: Record<string, unknown> = {}) {
    const r = await stack.api('POST', '/v1/destinations', { key, body: { url: stack.target(path), ...extra } });
    assert.equal(r.status, 201, r.text);
    return r.body as { id: string; signing_secret: string; events: string[]; [k: string]: unknown };
  }

  function assertBadRequest(r: { status: number; body: any; text: string }, field: string, what: string) {
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    assert.equal(r.body?.error?.code, 'invalid_request', `${what}: ${r.text}`);
    assert.equal(typeof r.body.error.message, 'string', what);
    assert.ok(r.body.error.message.length > 0, what);
    assert.equal(r.body.error.field, field, `${what}: ${r.text}`);
  }

  it('runs the five quickstart steps with a test key: destination, subscription, event, signed delivery, delivered', async () => {
    const key = acct.test_key;
    assert.match(key, /^hp_test_/);

    // 1–2. register the destination
    const url = stack.target('/harbor-quickstart', 'webhook.example.test');
    const dest = await stack.api('POST', '/v1/destinations', { key, body: { url, name: 'Quickstart receiver' } });
    assert.equal(dest.status, 201, dest.text);
    assert.match(dest.body.id, /^dest_[A-Za-z0-9]+$/);
    assert.match(dest.body.signing_secret, SECRET);
    assert.equal(Buffer.from(dest.body.signing_secret.slice(6), 'base64').length, 32);
    assert.equal(dest.body.url, url);
    assert.equal(dest.body.name, 'Quickstart receiver');
    assert.equal(dest.body.enabled, true);
    assert.deepEqual(dest.body.events, []);
    assert.match(dest.body.created_at, ISO);
    const destId: string = dest.body.id;
    const secret: string = dest.body.signing_secret;

    // the destination object does not carry the secret; GET /v1/destinations/{id}/secret reads it again
    const read = await stack.api('GET', `/v1/destinations/${destId}`, { key });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.id, destId);
    assert.equal(read.body.signing_secret, undefined, 'the destination object does not show the signing secret');
    assert.deepEqual((await stack.api('GET', `/v1/destinations/${destId}/secret`, { key })).body, { id: destId, signing_secret: secret });

    // 3. subscribe to an event type
    const sub = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: destId, event_type: 'order.created' } });
    assert.equal(sub.status, 201, sub.text);
    assert.deepEqual(Object.keys(sub.body).sort(), ['created_at', 'destination_id', 'event_type', 'id']);
    assert.match(sub.body.id, /^sub_[A-Za-z0-9]+$/);
    assert.equal(sub.body.destination_id, destId);
    assert.equal(sub.body.event_type, 'order.created');
    assert.match(sub.body.created_at, ISO);

    // 4. send an event
    const body = { order_id: 'ord_123', amount_cents: 4500 };
    const sentAt = Date.now();
    const evt = await stack.api('POST', '/v1/events', { key, body: { type: 'order.created', body } });
    assert.equal(evt.status, 202, evt.text);
    assert.deepEqual(Object.keys(evt.body).sort(), ['created_at', 'deliveries', 'id', 'type']);
    assert.match(evt.body.id, /^evt_[A-Za-z0-9]+$/);
    assert.equal(evt.body.type, 'order.created');
    assert.match(evt.body.created_at, ISO);
    assert.ok(Math.abs(Date.parse(evt.body.created_at) - sentAt) < 5000);
    assert.equal(evt.body.deliveries.length, 1, evt.text);
    assert.deepEqual(Object.keys(evt.body.deliveries[0]).sort(), ['destination_id', 'queue_id']);
    assert.match(evt.body.deliveries[0].queue_id, /^hr_/);
    assert.equal(evt.body.deliveries[0].destination_id, destId);
    const eventId: string = evt.body.id;
    const queueId: string = evt.body.deliveries[0].queue_id;

    // 5. the receiver sees a POST with the event body, signed with the destination's secret
    const req = await waitFor(() => hits('/harbor-quickstart')[0], { message: 'the quickstart delivery never arrived' });
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['host']?.split(':')[0], 'webhook.example.test');
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), body);
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-harepost-event'], 'order.created');
    assert.equal(req.headers['x-harepost-event-id'], eventId);
    assert.equal(req.headers['x-harepost-queue-id'], queueId);
    assert.equal(req.headers['x-harepost-attempt'], '1');
    assert.equal(req.headers['user-agent'], 'Harepost/1.0');
    assert.equal(req.headers['webhook-id'], queueId);
    assert.match(req.headers['webhook-timestamp'] ?? '', /^\d{10}$/);
    assert.match(req.headers['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(req.headers['x-harepost-signature'], req.headers['webhook-signature']);
    assert.deepEqual(verify(secret, req), body);
    const other = (await newDestination(acct.test_key, '/harbor-unused')).signing_secret;
    assert.throws(() => verify(other, req), /No matching signature/);

    // "One delivery, status succeeded, response_code: 200" — in Harepost words: delivered, last_status
    const list = await waitFor(
      async () => {
        const r = await stack.api('GET', '/v1/deliveries', { key });
        return r.body?.data?.[0]?.status === 'delivered' ? r : undefined;
      },
      { message: 'the delivery never showed delivered in the list' },
    );
    assert.equal(list.status, 200);
    assert.equal(list.body.data.length, 1, list.text);
    assert.equal(list.body.next_cursor, null);
    const row = list.body.data[0];
    assert.equal(row.queue_id, queueId);
    assert.equal(row.status, 'delivered');
    assert.equal(row.last_status, 200);
    assert.equal(row.attempts, 1);
    assert.equal(row.target, url);
    assert.equal(row.method, 'POST');
    assert.equal(row.event_id, eventId);
    assert.equal(row.event_type, 'order.created');
    assert.equal(row.destination_id, destId);

    const one = await stack.api('GET', `/v1/deliveries/${queueId}`, { key });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.body.queue_id, queueId);
    assert.equal(one.body.status, 'delivered');
    assert.equal(one.body.last_status, 200);
    assert.equal(one.body.event_id, eventId);
    assert.equal(one.body.event_type, 'order.created');
    assert.equal(one.body.destination_id, destId);
    assert.equal(one.body.target, url);
    assert.equal(one.body.attempts.length, 1);
    assert.equal(one.body.attempts[0].outcome, 'delivered');
    assert.equal(one.body.attempts[0].http_status, 200);

    // filters of the list
    const byEvent = await stack.api('GET', `/v1/deliveries?event_id=${eventId}`, { key });
    assert.deepEqual(byEvent.body.data.map((d: any) => d.queue_id), [queueId]);
    const byDest = await stack.api('GET', `/v1/deliveries?destination_id=${destId}`, { key });
    assert.deepEqual(byDest.body.data.map((d: any) => d.queue_id), [queueId]);
    const byOtherEvent = await stack.api('GET', '/v1/deliveries?event_id=evt_doesnotexist', { key });
    assert.deepEqual(byOtherEvent.body.data, []);

    // the event, read back, with its deliveries and their statuses
    const got = await stack.api('GET', `/v1/events/${eventId}`, { key });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.id, eventId);
    assert.equal(got.body.type, 'order.created');
    assert.deepEqual(got.body.body, body);
    assert.equal(got.body.created_at, evt.body.created_at);
    assert.deepEqual(got.body.deliveries, [{ queue_id: queueId, destination_id: destId, status: 'delivered' }]);

    // test mode: the live key of the same account sees none of it
    assert.deepEqual((await stack.api('GET', '/v1/deliveries', { key: acct.live_key })).body.data, []);
    assert.equal((await stack.api('GET', `/v1/events/${eventId}`, { key: acct.live_key })).status, 404);
    assert.equal((await stack.api('GET', `/v1/destinations/${destId}`, { key: acct.live_key })).status, 404);
    // exactly one request reached the receiver for this event
    await sleep(200);
    assert.equal(hits('/harbor-quickstart').length, 1);
  });

  it('a repeated subscription returns the existing one (200, same id); listing by destination; DELETE', async () => {
    const key = acct.test_key;
    const d = await newDestination(key, '/subs-a');
    const d2 = await newDestination(key, '/subs-b', { events: ['other.thing'] });
    const first = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: 'invoice.paid' } });
    assert.equal(first.status, 201, first.text);
    const again = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: 'invoice.paid' } });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, first.body);
    const wild = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: 'invoice.*' } });
    assert.equal(wild.status, 201, wild.text);
    assert.notEqual(wild.body.id, first.body.id);
    const all = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: '*' } });
    assert.equal(all.status, 201, all.text);

    const list = await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.data, [first.body, wild.body, all.body]);
    const list2 = await stack.api('GET', `/v1/subscriptions?destination_id=${d2.id}`, { key });
    assert.deepEqual(list2.body.data.map((s: any) => [s.destination_id, s.event_type]), [[d2.id, 'other.thing']]);
    assert.match(list2.body.data[0].id, /^sub_/);
    const everything = await stack.api('GET', '/v1/subscriptions', { key });
    const ids = everything.body.data.map((s: any) => s.id);
    for (const s of [first.body, wild.body, all.body, list2.body.data[0]]) assert.ok(ids.includes(s.id), s.id);

    // the destination's events mirror its subscriptions
    assert.deepEqual((await stack.api('GET', `/v1/destinations/${d.id}`, { key })).body.events, ['invoice.paid', 'invoice.*', '*']);

    const del = await stack.api('DELETE', `/v1/subscriptions/${wild.body.id}`, { key });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { id: wild.body.id, deleted: true });
    const delAgain = await stack.api('DELETE', `/v1/subscriptions/${wild.body.id}`, { key });
    assert.equal(delAgain.status, 404, delAgain.text);
    assert.equal(delAgain.body.error.code, 'not_found');
    assert.deepEqual(
      (await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data.map((s: any) => s.id),
      [first.body.id, all.body.id],
    );
    assert.deepEqual((await stack.api('GET', `/v1/destinations/${d.id}`, { key })).body.events, ['invoice.paid', '*']);
  });

  it('POST and PATCH with `events` replace the whole set of subscriptions', async () => {
    const key = acct.test_key;
    const d = await newDestination(key, '/events-set', { events: ['a.created', 'b.*'] });
    assert.deepEqual(d.events, ['a.created', 'b.*']);
    const subs = (await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data;
    assert.deepEqual(subs.map((s: any) => s.event_type), ['a.created', 'b.*']);
    for (const s of subs) {
      assert.match(s.id, /^sub_/);
      assert.equal(s.destination_id, d.id);
    }

    const p1 = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { events: ['b.*', 'c.done'] } });
    assert.equal(p1.status, 200, p1.text);
    assert.deepEqual(p1.body.events, ['b.*', 'c.done']);
    assert.deepEqual(
      (await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data.map((s: any) => s.event_type),
      ['b.*', 'c.done'],
    );
    assert.deepEqual((await stack.api('GET', `/v1/destinations/${d.id}`, { key })).body.events, ['b.*', 'c.done']);

    // a PATCH without `events` leaves them alone
    const p2 = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { name: 'renamed' } });
    assert.equal(p2.status, 200, p2.text);
    assert.equal(p2.body.name, 'renamed');
    assert.deepEqual(p2.body.events, ['b.*', 'c.done']);

    const p3 = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { events: [] } });
    assert.equal(p3.status, 200, p3.text);
    assert.deepEqual(p3.body.events, []);
    assert.deepEqual((await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data, []);
  });

  it('GET /v1/events pages newest first with limit and cursor; 400 on a bad limit or cursor', async () => {
    const a = await stack.createAccount('events paging');
    const key = a.test_key;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await stack.api('POST', '/v1/events', { key, body: { type: 'page.item', body: { i } } });
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(r.body.deliveries, []);
      ids.push(r.body.id);
    }
    const newestFirst = [...ids].reverse();

    const all = await stack.api('GET', '/v1/events', { key });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.body.data.map((e: any) => e.id), newestFirst);
    assert.equal(all.body.next_cursor, null);
    assert.equal(all.body.data[0].type, 'page.item');
    assert.deepEqual(all.body.data[0].body, { i: 4 });
    assert.match(all.body.data[0].created_at, ISO);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await stack.api('GET', q, { key });
      assert.equal(page.status, 200, page.text);
      assert.ok(page.body.data.length <= 2);
      seen.push(...page.body.data.map((e: any) => e.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, newestFirst);

    for (const bad of ['0', '101', 'abc', '-1', '2.5']) {
      assertBadRequest(await stack.api('GET', `/v1/events?limit=${bad}`, { key }), 'limit', `limit=${bad}`);
    }
    assertBadRequest(await stack.api('GET', '/v1/events?cursor=not-a-cursor', { key }), 'cursor', 'bad cursor');

    // another mode and another account see none of them
    assert.deepEqual((await stack.api('GET', '/v1/events', { key: a.live_key })).body.data, []);
    assert.deepEqual((await stack.api('GET', '/v1/events', { key: acct.test_key })).body.data.filter((e: any) => ids.includes(e.id)), []);
    assert.equal((await stack.api('GET', `/v1/events/${ids[0]}`, { key: acct.test_key })).status, 404);
    const missing = await stack.api('GET', '/v1/events/evt_doesnotexist', { key });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
  });

  it('the Idempotency-Key header replays the first 202 and creates one event and one delivery; another body → 409', async () => {
    const a = await stack.createAccount('events idempotency');
    const key = a.test_key;
    const d = await newDestination(key, '/idem-events', { events: ['pay.done'] });
    const body = { type: 'pay.done', body: { payment: 'pay_1' } };
    const headers = { 'Idempotency-Key': 'evt-idem-1' };
    const first = await stack.api('POST', '/v1/events', { key, body, headers });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.body.deliveries.length, 1);
    assert.equal(first.body.deliveries[0].destination_id, d.id);
    const second = await stack.api('POST', '/v1/events', { key, body, headers });
    assert.equal(second.status, 202, second.text);
    assert.deepEqual(second.body, first.body);

    const events = await stack.api('GET', '/v1/events', { key });
    assert.deepEqual(events.body.data.map((e: any) => e.id), [first.body.id]);
    await waitFor(() => hits('/idem-events').length >= 1);
    await sleep(300);
    assert.equal(hits('/idem-events').length, 1, 'one event, one delivery, one request');
    assert.equal(hits('/idem-events')[0]!.headers['x-harepost-event-id'], first.body.id);
    const deliveries = await stack.api('GET', '/v1/deliveries', { key });
    assert.equal(deliveries.body.data.length, 1);

    const conflict = await stack.api('POST', '/v1/events', { key, body: { ...body, body: { payment: 'pay_2' } }, headers });
    assert.equal(conflict.status, 409, conflict.text);
    assert.equal(conflict.body.error.code.length > 0, true);
    assert.equal((await stack.api('GET', '/v1/events', { key })).body.data.length, 1);

    const tooLong = await stack.api('POST', '/v1/events', { key, body, headers: { 'Idempotency-Key': 'k'.repeat(256) } });
    assertBadRequest(tooLong, 'Idempotency-Key', 'a 256-character Idempotency-Key');

    // the same key in the other mode is a different key
    const live = await stack.api('POST', '/v1/events', { key: a.live_key, body, headers });
    assert.equal(live.status, 202, live.text);
    assert.notEqual(live.body.id, first.body.id);
    assert.deepEqual(live.body.deliveries, [], 'the test destination is not a live one');
  });

  it('an event string body is sent byte for byte; idempotency_key is forwarded, metadata kept and never sent', async () => {
    const key = (await stack.createAccount('raw event')).test_key;
    const d = await newDestination(key, '/raw-event', { events: ['raw.sent'] });
    const raw = '{"b":2,  "a":1}\n';
    const r = await stack.api('POST', '/v1/events', {
      key,
      body: { type: 'raw.sent', body: raw, idempotency_key: 'raw-1', metadata: { internal: 'do-not-send-xyz' } },
    });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.deliveries.length, 1);
    const req = await waitFor(() => hits('/raw-event')[0]);
    assert.equal(req.body.toString('utf8'), raw);
    assert.equal(req.headers['x-harepost-idempotency-key'], 'raw-1');
    assert.equal(req.headers['x-harepost-event'], 'raw.sent');
    assert.ok(!req.body.toString().includes('do-not-send-xyz') && !JSON.stringify(req.headers).includes('do-not-send-xyz'));
    assert.deepEqual(verify(d.signing_secret, req), { b: 2, a: 1 });
    const got = await stack.api('GET', `/v1/events/${r.body.id}`, { key });
    assert.equal(got.body.body, raw);
    assert.equal(got.body.idempotency_key, 'raw-1');
    assert.deepEqual(got.body.metadata, { internal: 'do-not-send-xyz' });
    const delivery = await stack.api('GET', `/v1/deliveries/${r.body.deliveries[0].queue_id}`, { key });
    assert.equal(delivery.body.idempotency_key, 'raw-1');
    assert.deepEqual(delivery.body.metadata, { internal: 'do-not-send-xyz' });
  });

  it('POST /v1/events: 400 naming the field for a missing or invalid type, body or metadata', async () => {
    const key = acct.test_key;
    const before = (await stack.api('GET', '/v1/events?limit=100', { key })).body.data.length;
    const cases: [unknown, string][] = [
      [{ body: { a: 1 } }, 'type'],
      [{ type: '', body: {} }, 'type'],
      [{ type: 5, body: {} }, 'type'],
      [{ type: null }, 'type'],
      [{ type: 'order.*' }, 'type'],
      [{ type: '*' }, 'type'],
      [{ type: 'order created' }, 'type'],
      [{ type: '.order' }, 'type'],
      [{ type: 'order.' }, 'type'],
      [{ type: 'x'.repeat(256) }, 'type'],
      [{ type: 'order.created', body: 42 }, 'body'],
      [{ type: 'order.created', body: true }, 'body'],
      [{ type: 'order.created', metadata: 'note' }, 'metadata'],
    ];
    for (const [body, field] of cases) {
      assertBadRequest(await stack.api('POST', '/v1/events', { key, body }), field, JSON.stringify(body).slice(0, 80));
    }
    const notObject = await stack.api('POST', '/v1/events', { key, body: ['order.created'] });
    assert.equal(notObject.status, 400, notObject.text);
    const notJson = await stack.api('POST', '/v1/events', { key, rawBody: '{"type":', headers: { 'content-type': 'application/json' } });
    assert.equal(notJson.status, 400, notJson.text);
    assert.equal((await stack.api('GET', '/v1/events?limit=100', { key })).body.data.length, before, 'nothing was created');
    const unauth = await stack.api('POST', '/v1/events', { body: { type: 'order.created' } });
    assert.equal(unauth.status, 401, unauth.text);
  });

  it('POST /v1/subscriptions: 400 for a bad event_type pattern or missing field, 404 for an unknown destination', async () => {
    const key = acct.test_key;
    const d = await newDestination(key, '/subs-bad');
    for (const pattern of ['order.**', '.x', '', 'order*', '**', 'order.*.x', 'order..created', '*.created', ' order.created', 'ord er']) {
      assertBadRequest(
        await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: pattern } }),
        'event_type',
        `event_type ${JSON.stringify(pattern)}`,
      );
    }
    assertBadRequest(await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: 7 } }), 'event_type', 'number');
    assertBadRequest(await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id } }), 'event_type', 'missing event_type');
    assertBadRequest(await stack.api('POST', '/v1/subscriptions', { key, body: { event_type: 'a.b' } }), 'destination_id', 'missing destination_id');
    assert.deepEqual((await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data, []);

    const unknown = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: 'dest_doesnotexist', event_type: 'a.b' } });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.body.error.code, 'not_found');
  });

  it('POST/PATCH /v1/destinations: 400 naming the field for a bad url, events, headers, delivery, name or enabled', async () => {
    const key = acct.test_key;
    const before = (await stack.api('GET', '/v1/destinations', { key })).body.data.length;
    const manyHeaders = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`X-H${i}`, 'v']));
    const cases: [Record<string, unknown>, string | RegExp][] = [
      [{}, 'url'],
      [{ name: 'no url' }, 'url'],
      [{ url: 5 }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url: 'http://hooks.example.test/x' }, 'url'],
      [{ url: 'ftp://hooks.example.test/x' }, 'url'],
      [{ url: 'https://user:pass@hooks.example.test/x' }, 'url'],
      [{ url: 'https://user@hooks.example.test/x' }, 'url'],
      [{ url: 'https://127.0.0.2/x' }, 'url'],
      [{ url: 'https://10.0.0.1/x' }, 'url'],
      [{ url: 'https://169.254.169.254/latest' }, 'url'],
      [{ url: 'https://[::1]/x' }, 'url'],
      [{ url: 'https://[::ffff:192.168.1.1]/x' }, 'url'],
      [{ url: `https://hooks.example.test/${'a'.repeat(2100)}` }, 'url'],
      [{ url: stack.target('/x'), events: ['ok.type', 'order.**'] }, /^events(\[1\]|\.1)$/],
      [{ url: stack.target('/x'), events: 'order.created' }, 'events'],
      [{ url: stack.target('/x'), headers: { 'bad name': 'x' } }, 'headers.bad name'],
      [{ url: stack.target('/x'), headers: { 'X-A': 'a\r\nb' } }, 'headers.X-A'],
      [{ url: stack.target('/x'), headers: { 'X-A': 5 } }, 'headers.X-A'],
      [{ url: stack.target('/x'), headers: 'X-A: b' }, 'headers'],
      [{ url: stack.target('/x'), headers: manyHeaders }, 'headers'],
      [{ url: stack.target('/x'), delivery: { max_attempts: 'five' } }, 'delivery.max_attempts'],
      [{ url: stack.target('/x'), delivery: { backoff: 'linear' } }, 'delivery.backoff'],
      [{ url: stack.target('/x'), delivery: { jitter: 'some' } }, 'delivery.jitter'],
      [{ url: stack.target('/x'), delivery: { respect_retry_after: 'yes' } }, 'delivery.respect_retry_after'],
      [{ url: stack.target('/x'), delivery: 'fast' }, 'delivery'],
      [{ url: stack.target('/x'), name: 5 }, 'name'],
      [{ url: stack.target('/x'), enabled: 'yes' }, 'enabled'],
    ];
    for (const [body, field] of cases) {
      const r = await stack.api('POST', '/v1/destinations', { key, body });
      const what = `POST ${JSON.stringify(body).slice(0, 100)}`;
      if (typeof field === 'string') assertBadRequest(r, field, what);
      else {
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.match(r.body.error.field ?? '', field, `${what}: ${r.text}`);
      }
    }
    assert.equal((await stack.api('GET', '/v1/destinations', { key })).body.data.length, before, 'nothing was created');

    // clamped, not rejected: the effective policy is shown
    const clamped = await newDestination(key, '/clamped', { delivery: { max_attempts: 100, base_delay_ms: 5, timeout_ms: 99_999.9 } });
    assert.equal((clamped as any).delivery.max_attempts, 25);
    assert.equal((clamped as any).delivery.base_delay_ms, 100);
    assert.equal((clamped as any).delivery.timeout_ms, 30_000);

    // PATCH validates the same way and changes nothing on failure
    const d = await newDestination(key, '/patch-me');
    for (const [body, field] of [
      [{ url: 'http://hooks.example.test/x' }, 'url'],
      [{ url: 'https://127.0.0.2/' }, 'url'],
      [{ url: 'https://a:b@hooks.example.test/' }, 'url'],
      [{ events: ['.x'] }, /^events(\[0\]|\.0)$/],
      [{ headers: { 'X-B': 'a\nb' } }, 'headers.X-B'],
      [{ delivery: { max_attempts: 'x' } }, 'delivery.max_attempts'],
      [{ enabled: 1 }, 'enabled'],
    ] as [Record<string, unknown>, string | RegExp][]) {
      const r = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body });
      const what = `PATCH ${JSON.stringify(body)}`;
      if (typeof field === 'string') assertBadRequest(r, field, what);
      else {
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.match(r.body.error.field ?? '', field, `${what}: ${r.text}`);
      }
    }
    const unchanged = await stack.api('GET', `/v1/destinations/${d.id}`, { key });
    assert.equal(unchanged.body.url, stack.target('/patch-me'));
    assert.equal(unchanged.body.enabled, true);
    const missing = await stack.api('PATCH', '/v1/destinations/dest_doesnotexist', { key, body: { name: 'x' } });
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.body.error.code, 'not_found');
  });
});
