/**
 * An exact request contract (issue 14 §3, SPEC §3): a field the operation does not know — at the top
 * of a JSON body, inside one of its objects, or as a query parameter — is refused with 400
 * invalid_request naming it by its path, before anything is done; the free-form values (`body`,
 * `metadata`, `headers`) still take any keys. A JSON body that is not valid UTF-8 is refused (400)
 * instead of being altered and accepted. The same holds where the dashboard serves the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** The error shape exactly, with the field named. */
function assertRefused(r: ApiResponse, field: string, what: string): void {
  const ctx = `${what}: got ${r.status} ${r.text}`;
  assert.equal(r.status, 400, ctx);
  assert.deepEqual(Object.keys(r.body), ['error'], ctx);
  assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'field', 'message'], ctx);
  assert.equal(r.body.error.code, 'invalid_request', ctx);
  assert.equal(r.body.error.field, field, ctx);
  assert.match(r.body.error.message, new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a known (field|query parameter)`), ctx);
}

describe('unknown fields and invalid UTF-8', () => {
  let stack: Stack;
  let acct: TestAccount;
  let key: string;
  let destId: string;
  let webhookId: string;
  let deliveryId: string;

  const api = (method: string, path: string, body?: unknown) => stack.api(method, path, { key, ...(body !== undefined ? { body } : {}) });

  /** Sends raw bytes as a JSON body. */
  async function rawPost(path: string, bytes: Buffer): Promise<ApiResponse> {
    const res = await request(`${stack.hp.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: bytes,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, body: text === '' ? undefined : JSON.parse(text) };
  }

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('unknown fields');
    key = acct.live_key;
    await stack.verifyDomain(key, 'hooks.example.test');
    const d = await api('POST', '/v1/destinations', { url: stack.target('/dest'), events: ['order.*'] });
    assert.equal(d.status, 201, d.text);
    destId = d.body.id;
    const w = await api('POST', '/v1/webhooks', { url: stack.target('/wh'), events: ['order.created'] });
    assert.equal(w.status, 201, w.text);
    webhookId = w.body.id;
    const s = await api('POST', '/v1/send', { target: stack.target('/sent'), body: { a: 1 } });
    assert.equal(s.status, 202, s.text);
    deliveryId = s.body.queue_id;
  });
  after(async () => stack?.close());

  it('every operation that takes a JSON body refuses an unknown top-level field, naming it', async () => {
    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['POST', '/v1/send', { target: stack.target('/x'), foo: 1 }, 'foo'],
      ['POST', '/v1/events', { type: 'order.created', data: { id: 1 } }, 'data'],
      ['POST', '/v1/destinations', { url: stack.target('/x'), metadata: {} }, 'metadata'],
      ['PATCH', `/v1/destinations/${destId}`, { nme: 'typo' }, 'nme'],
      ['POST', '/v1/webhooks', { url: stack.target('/x'), events: ['a'], name: 'not in the reference' }, 'name'],
      ['PATCH', `/v1/webhooks/${webhookId}`, { secret: 'whsec_mine' }, 'secret'],
      ['POST', '/v1/domains', { domain: 'x.example.test', verify: true }, 'verify'],
      ['POST', '/v1/domains/verify', { domain: 'hooks.example.test', token: 'x' }, 'token'],
      ['POST', '/v1/keys', { mode: 'test', name: 'ci' }, 'name'],
      ['POST', '/v1/subscriptions', { destination_id: destId, event_type: 'a.b', events: ['a.b'] }, 'events'],
      ['POST', '/v1/deliveries/retry', { statuses: ['dead_letter'] }, 'statuses'],
      ['POST', `/v1/deliveries/${deliveryId}/retry`, { force: true }, 'force'],
      ['POST', '/v1/signing-secret/rotate', { secret: 'whsec_mine' }, 'secret'],
      ['POST', `/v1/destinations/${destId}/rotate-secret`, { secret: 'whsec_mine' }, 'secret'],
      ['POST', `/v1/destinations/${destId}/test`, { event_type: 'x' }, 'event_type'],
      ['POST', `/v1/webhooks/${webhookId}/test`, { event: 'x' }, 'event'],
      ['DELETE', `/v1/destinations/${destId}`, { cascade: true }, 'cascade'],
      ['DELETE', `/v1/webhooks/${webhookId}`, { force: true }, 'force'],
      ['DELETE', '/v1/domains/hooks.example.test', { force: true }, 'force'],
      ['DELETE', '/v1/subscriptions/sub_x', { force: true }, 'force'],
      ['DELETE', '/v1/keys/key_x', { force: true }, 'force'],
    ];
    for (const [method, path, body, field] of cases) assertRefused(await api(method, path, body), field, `${method} ${path}`);

    // refused before anything was done: nothing made, nothing changed, nothing deleted
    const dests = await api('GET', '/v1/destinations');
    assert.deepEqual(dests.body.data.map((x: { id: string }) => x.id).sort(), [destId, webhookId].sort());
    assert.equal(dests.body.data.find((x: { id: string }) => x.id === destId).name, null);
    const deliveries = await api('GET', '/v1/deliveries');
    assert.deepEqual(deliveries.body.data.map((x: { queue_id: string }) => x.queue_id), [deliveryId]);
    const domains = await api('GET', '/v1/domains');
    assert.deepEqual(domains.body.data.map((x: { domain: string }) => x.domain), ['hooks.example.test']);
  });

  it('an unknown field inside an object is named by its path, with the near miss when there is one', async () => {
    const typo = await api('POST', '/v1/send', { target: stack.target('/x'), delivery: { max_attemps: 8 } });
    assertRefused(typo, 'delivery.max_attemps', 'send delivery typo');
    assert.match(typo.body.error.message, /did you mean delivery\.max_attempts\?$/);

    const cases: Array<[string, string, Record<string, unknown>, string]> = [
      ['POST', '/v1/destinations', { url: stack.target('/x'), delivery: { retries: 3 } }, 'delivery.retries'],
      ['PATCH', `/v1/destinations/${destId}`, { delivery: { max_attempts: 3, backof: 'fixed' } }, 'delivery.backof'],
      ['PATCH', `/v1/destinations/${destId}`, { rate_limit: { per_minute: 60 } }, 'rate_limit.per_minute'],
      ['POST', '/v1/destinations', { url: stack.target('/x'), signature: { header: 'X-Sig', algorithm: 'sha1' } }, 'signature.algorithm'],
      ['POST', '/v1/webhooks', { url: stack.target('/x'), events: ['a'], signature: { header: 'X-Sig', salt: 'x' } }, 'signature.salt'],
    ];
    for (const [method, path, body, field] of cases) assertRefused(await api(method, path, body), field, `${method} ${path}`);

    // a destination's delivery policy is the same schema as a send's: a known field is accepted and clamped
    const ok = await api('PATCH', `/v1/destinations/${destId}`, { delivery: { max_attempts: 99, backoff: 'fixed' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.delivery.max_attempts, 25);
    assert.equal(ok.body.delivery.backoff, 'fixed');
  });

  it('a signature in none of its forms is refused with the forms it may take', async () => {
    const r = await api('POST', '/v1/destinations', { url: stack.target('/x'), signature: 'hmac' });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.field, 'signature');
    assert.match(r.body.error.message, /^signature must be "standard-webhooks", "posthawk", "harbor", "github" or an object with header/);
    const enc = await api('POST', '/v1/destinations', { url: stack.target('/x'), signature: { header: 'X-Sig', encoding: 'rot13' } });
    assert.equal(enc.status, 400, enc.text);
    assert.equal(enc.body.error.field, 'signature.encoding');
  });

  it('unknown query parameters on list operations are refused, naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/v1/deliveries?limt=5', 'limt'],
      ['/v1/deliveries?status=delivered&page=2', 'page'],
      ['/v1/events?offset=10', 'offset'],
      [`/v1/subscriptions?destination=${destId}`, 'destination'],
      ['/v1/destinations?enabled=true', 'enabled'],
      ['/v1/webhooks?limit=5', 'limit'],
      ['/v1/domains?status=verified', 'status'],
      ['/v1/keys?mode=test', 'mode'],
    ];
    for (const [path, field] of cases) assertRefused(await api('GET', path), field, `GET ${path}`);
    const typo = await api('GET', '/v1/deliveries?limt=5');
    assert.match(typo.body.error.message, /^limt is not a known query parameter: did you mean limit\?$/);
    // a name that is empty cannot be a field path: the refusal says so, naming what holds it
    const emptyParam = await api('GET', '/v1/deliveries?=queued');
    assert.equal(emptyParam.status, 400, emptyParam.text);
    assert.deepEqual(emptyParam.body.error, {
      code: 'invalid_request',
      message:
        'The query string has a parameter with an empty name, which is not known: this operation takes status, limit, cursor, destination_id, event_id and idempotency_key',
    });
    const emptyTop = await api('POST', '/v1/domains', { domain: 'x.example.test', '': 1 });
    assert.equal(emptyTop.status, 400, emptyTop.text);
    assert.match(emptyTop.body.error.message, /^The request body has a field with an empty name, which is not known: this request takes domain$/);
    assert.equal(emptyTop.body.error.field, undefined);
    const emptyNested = await api('POST', '/v1/send', { target: stack.target('/x'), delivery: { '': 1 } });
    assert.equal(emptyNested.status, 400, emptyNested.text);
    assert.equal(emptyNested.body.error.field, 'delivery');
    assert.match(emptyNested.body.error.message, /^delivery has a field with an empty name, which is not known: delivery takes max_attempts, /);
    // the known ones still work
    const ok = await api('GET', `/v1/deliveries?status=queued&limit=5&destination_id=${destId}`);
    assert.equal(ok.status, 200, ok.text);
  });

  it('free-form values take any keys: body, metadata, headers', async () => {
    const body = { anything: { nested: [1, { deep: true }] }, 'with space': 'ok', target: 'not the target' };
    const metadata = { customer: 'c_1', tags: ['x'], nested: { any: { thing: null } } };
    const s = await api('POST', '/v1/send', {
      target: stack.target('/free'),
      body,
      metadata,
      headers: { 'X-Custom-One': 'a', 'X-Other': 'b' },
      delivery: { max_attempts: 2 },
    });
    assert.equal(s.status, 202, s.text);
    const got = await api('GET', `/v1/deliveries/${s.body.queue_id}`);
    assert.deepEqual(got.body.metadata, metadata);
    assert.equal(got.body.request.headers['X-Custom-One'], 'a');
    const arrived = await waitFor(() => stack.receiver.requests.find((r) => r.path === '/free'), { message: 'the send arrives' });
    assert.deepEqual(JSON.parse(arrived.body.toString('utf8')), body);

    const e = await api('POST', '/v1/events', { type: 'order.created', body: { data: { id: 7 }, foo: 'bar' }, metadata: { source: 'x' } });
    assert.equal(e.status, 202, e.text);
    const ev = await api('GET', `/v1/events/${e.body.id}`);
    assert.deepEqual(ev.body.body, { data: { id: 7 }, foo: 'bar' });
    assert.deepEqual(ev.body.metadata, { source: 'x' });

    const d = await api('PATCH', `/v1/destinations/${destId}`, { headers: { 'X-Tenant': 't1', 'X-Anything-Else': 'y' } });
    assert.equal(d.status, 200, d.text);
    assert.deepEqual(d.body.headers, { 'X-Tenant': 't1', 'X-Anything-Else': 'y' });
    // but header values stay strings, named by path
    const bad = await api('PATCH', `/v1/destinations/${destId}`, { headers: { 'X-N': 5 } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error.field, 'headers.X-N');
  });

  it('a JSON body that is not valid UTF-8 is refused (400), not altered and accepted', async () => {
    const before = (await api('GET', '/v1/deliveries?limit=100')).body.data.length;
    const eventsBefore = (await api('GET', '/v1/events?limit=100')).body.data.length;
    const invalid: Array<[string, number[]]> = [
      ['a lone continuation byte', [0x80]],
      ['0xff', [0xff]],
      ['an overlong NUL', [0xc0, 0x80]],
      ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
      ['a truncated sequence', [0xe2, 0x82]],
      ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ];
    for (const [what, bytes] of invalid) {
      const bad = Buffer.from(bytes);
      const send = Buffer.concat([Buffer.from(`{"target":"${stack.target('/utf8')}","body":"caf`), bad, Buffer.from('"}')]);
      const event = Buffer.concat([Buffer.from('{"type":"order.created","body":{"name":"caf'), bad, Buffer.from('"}}')]);
      for (const [path, bytesSent] of [['/v1/send', send], ['/v1/events', event]] as const) {
        const r = await rawPost(path, bytesSent);
        const ctx = `${path} with ${what}: ${r.status} ${r.text}`;
        assert.equal(r.status, 400, ctx);
        assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message'], ctx);
        assert.equal(r.body.error.code, 'invalid_json', ctx);
        assert.match(r.body.error.message, /not valid UTF-8/, ctx);
      }
    }
    assert.equal((await api('GET', '/v1/deliveries?limit=100')).body.data.length, before, 'nothing was queued');
    assert.equal((await api('GET', '/v1/events?limit=100')).body.data.length, eventsBefore, 'nothing was published');

    // valid UTF-8 beyond ASCII goes through byte for byte
    const text = 'café ☕ 😀 \u2028';
    const ok = await rawPost('/v1/send', Buffer.from(JSON.stringify({ target: stack.target('/utf8-ok'), body: text }), 'utf8'));
    assert.equal(ok.status, 202, ok.text);
    const arrived = await waitFor(() => stack.receiver.requests.find((r) => r.path === '/utf8-ok'), { message: 'the send arrives' });
    assert.deepEqual(arrived.body, Buffer.from(text, 'utf8'));
  });

  it('the dashboard serves the same contract at /dashboard/api/v1', async () => {
    const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
    const token = new URL(link.url).searchParams.get('token')!;
    const signedIn = await stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url! },
    });
    assert.equal(signedIn.status, 303, signedIn.text);
    const cookie = /^(harepost_session=[^;]+);/.exec(String(signedIn.headers['set-cookie']))![1]!;
    const session = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
    const headers = { cookie, 'x-csrf-token': session.body.csrf_token as string };

    const refused = await stack.api('POST', '/dashboard/api/v1/deliveries/retry', { headers, body: { status: 'dead_letter', everything: true } });
    assertRefused(refused, 'everything', 'dashboard bulk replay');
    const query = await stack.api('GET', '/dashboard/api/v1/deliveries?stauts=queued', { headers });
    assertRefused(query, 'stauts', 'dashboard deliveries list');
    // and what the dashboard itself sends is accepted, answered in full
    const list = await stack.api('GET', '/dashboard/api/v1/deliveries?status=queued&limit=100', { headers });
    assert.equal(list.status, 200, list.text);
    const made = await stack.api('POST', '/dashboard/api/v1/destinations', {
      headers,
      body: { url: stack.target('/dash'), events: ['order.created'], enabled: true, name: 'Dash', rate_limit: { per_second: 5 }, max_in_flight: 2 },
    });
    assert.equal(made.status, 201, made.text);
    assert.equal(typeof made.body.signing_secret, 'string');
    assert.deepEqual(made.body.rate_limit, { per_second: 5 });
  });
});
