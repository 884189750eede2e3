/**
 * Signature schemes per destination (SPEC §7a): real event deliveries to a real HTTPS receiver,
 * each verified against the raw bytes received by a verifier nobody here wrote —
 * `standardwebhooks` for standard-webhooks, `@octokit/webhooks-methods` (`sha256=<hex>`) for
 * posthawk, github and a sha256= custom header, `stripe`'s webhooks for harbor and a timestamped
 * custom header — for string, JSON and empty bodies, across a rotation, from the test endpoint;
 * plus the defaults (posthawk for /v1/webhooks, HAREPOST_DEFAULT_SIGNATURE for /v1/destinations,
 * resolved at creation), PATCH, the 400s and GET /v1/destinations/{id}/secret.
 *
 * "Empty": an event without `body` is delivered as 0 bytes, the smallest payload the API allows.
 * Two verifiers refuse a 0-byte payload by design (@octokit's verify() requires one; stripe's
 * constructEvent JSON-parses it): for those the 0-byte case is checked with stripe's own
 * signature.verifyHeader (harbor) and with the reference's recipe — HMAC-SHA256 of the raw body
 * keyed with the secret, compared with the header — for posthawk and github; the empty JSON
 * object `{}` is checked with every verifier.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { loadConfig } from '../../src/config.js';
import { startHarepost } from '../../src/cli/compose.js';
import type { RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

type Scheme = string | { header: string; encoding: 'hex' | 'base64'; prefix: string; timestamped: boolean };

interface Case {
  name: string;
  signature: Scheme;
  /** The header that carries the signature (lower case). */
  header: string;
  /** Verifies `req` with `secret` (its raw bytes); throws when it does not verify. */
  verify: (secret: string, req: RecordedRequest) => Promise<void>;
  /** Whether a receiver holding the old secret still verifies during a rotation overlap. */
  oldSecretVerifies: boolean;
}

/** @octokit/webhooks-methods' verify() of a `sha256=<hex>` header (it refuses an empty payload: then the reference's recipe). */
async function sha256Hex(secret: string, req: RecordedRequest, header: string): Promise<void> {
  const value = req.headers[header];
  assert.ok(value, `${header} is missing`);
  const raw = req.body.toString('utf8');
  const ok =
    raw === ''
      ? value === `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`
      : await octokitVerify(secret, raw, value);
  if (!ok) throw new Error(`${header} does not verify`);
}

/** stripe's check of a `t=…,v1=…` header: constructEvent for JSON, its signature.verifyHeader for other payloads. */
async function stripeTimestamped(secret: string, req: RecordedRequest, header: string): Promise<void> {
  const value = req.headers[header];
  assert.ok(value, `${header} is missing`);
  let json = true;
  try {
    JSON.parse(req.body.toString('utf8'));
  } catch {
    json = false;
  }
  if (json) {
    assert.deepEqual(Stripe.webhooks.constructEvent(req.body, value, secret), JSON.parse(req.body.toString('utf8')));
  } else {
    const signature = Stripe.webhooks.signature;
    assert.ok(signature);
    signature.verifyHeader(req.body, value, secret);
  }
}

const CASES: Case[] = [
  {
    name: 'standard-webhooks',
    signature: 'standard-webhooks',
    header: 'webhook-signature',
    verify: async (secret, req) => {
      new Webhook(secret).verify(req.body.toString('utf8'), req.headers, { jsonParse: false });
    },
    oldSecretVerifies: true,
  },
  {
    name: 'posthawk',
    signature: 'posthawk',
    header: 'x-posthawk-signature',
    verify: (secret, req) => sha256Hex(secret, req, 'x-posthawk-signature'),
    oldSecretVerifies: false,
  },
  {
    name: 'harbor',
    signature: 'harbor',
    header: 'harbor-signature',
    verify: (secret, req) => stripeTimestamped(secret, req, 'harbor-signature'),
    oldSecretVerifies: true,
  },
  {
    name: 'github',
    signature: 'github',
    header: 'x-hub-signature-256',
    verify: (secret, req) => sha256Hex(secret, req, 'x-hub-signature-256'),
    oldSecretVerifies: false,
  },
  {
    name: 'custom sha256= hex',
    signature: { header: 'X-Acme-Signature', encoding: 'hex', prefix: 'sha256=', timestamped: false },
    header: 'x-acme-signature',
    verify: (secret, req) => sha256Hex(secret, req, 'x-acme-signature'),
    oldSecretVerifies: false,
  },
  {
    name: 'custom timestamped hex',
    signature: { header: 'Acme-Signature', encoding: 'hex', prefix: '', timestamped: true },
    header: 'acme-signature',
    verify: (secret, req) => stripeTimestamped(secret, req, 'acme-signature'),
    oldSecretVerifies: true,
  },
];

/** Every signature header any scheme here sets (lower case). */
const SIGNATURE_HEADERS = [...new Set(CASES.map((c) => c.header)), 'x-harepost-signature', 'webhook-id', 'webhook-timestamp'];

/** The event bodies: what is published, and the bytes a receiver gets. */
const BODIES: Array<{ what: string; body?: unknown; raw: string }> = [
  { what: 'JSON', body: { order_id: 'ord_123', amount_cents: 4500, note: 'héllo ✓', items: [1, { x: null }] }, raw: '' },
  { what: 'string', body: 'a plain string body — not JSON, ü', raw: 'a plain string body — not JSON, ü' },
  { what: 'empty JSON object', body: {}, raw: '{}' },
  { what: 'empty (no body)', raw: '' },
];
BODIES[0]!.raw = JSON.stringify(BODIES[0]!.body);

const slug = (name: string) => name.replace(/[^a-z0-9]+/g, '-');

/** How many times a header name occurs in what was received (case-insensitive). */
const occurrences = (req: RecordedRequest, name: string) =>
  req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;

describe('signature schemes per destination', () => {
  let stack: Stack;
  let acct: TestAccount;
  const made = new Map<string, { id: string; secret: string }>();

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('signature schemes');
  });
  after(async () => stack.close());

  const hits = (path: string) => stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);
  const api = (method: string, path: string, body?: unknown, key = acct.live_key) =>
    stack.api(method, path, body === undefined ? { key } : { key, body });

  /** Publishes an event and waits for its one delivery to arrive at `path`; returns it and its queue_id. */
  async function publish(type: string, path: string, body: unknown): Promise<{ req: RecordedRequest; queueId: string }> {
    const r = await api('POST', '/v1/events', body === undefined ? { type } : { type, body });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.deliveries.length, 1, r.text);
    const queueId: string = r.body.deliveries[0].queue_id;
    const req = await waitFor(() => hits(path).find((q) => q.headers['x-harepost-queue-id'] === queueId), {
      message: `the ${type} delivery never reached ${path}`,
    });
    return { req, queueId };
  }

  it('creates a destination per scheme and shows `signature` in the destination and the webhook object', async () => {
    for (const c of CASES) {
      const path = `/sig-${slug(c.name)}`;
      const r = await api('POST', '/v1/destinations', { url: stack.target(path), events: [`sig.${slug(c.name)}`], signature: c.signature });
      assert.equal(r.status, 201, r.text);
      const expected = typeof c.signature === 'string' ? c.signature : c.signature;
      assert.deepEqual(r.body.signature, expected);
      made.set(c.name, { id: r.body.id, secret: r.body.signing_secret });
      assert.deepEqual((await api('GET', `/v1/destinations/${r.body.id}`)).body.signature, expected);
      assert.deepEqual((await api('GET', `/v1/webhooks/${r.body.id}`)).body.signature, expected);
    }
    const listed = (await api('GET', '/v1/destinations')).body.data;
    assert.deepEqual(
      listed.map((d: any) => d.signature),
      CASES.map((c) => c.signature),
    );
  });

  for (const c of CASES) {
    it(`${c.name}: string, JSON and empty bodies verify with the independent verifier, on the raw bytes`, async () => {
      const d = made.get(c.name)!;
      const path = `/sig-${slug(c.name)}`;
      const type = `sig.${slug(c.name)}`;
      for (const b of BODIES) {
        const { req, queueId } = await publish(type, path, b.body);
        assert.equal(req.body.toString('utf8'), b.raw, `${b.what}: the bytes sent`);
        await assert.doesNotReject(c.verify(d.secret, req), `${c.name} / ${b.what}`);
        // a tampered body, or another secret, does not verify
        const tampered = { ...req, body: Buffer.concat([req.body, Buffer.from(' ')]) };
        await assert.rejects(c.verify(d.secret, tampered), `${c.name} / ${b.what}: tampered`);
        await assert.rejects(c.verify(made.get(c.name === 'github' ? 'posthawk' : 'github')!.secret, req), `${c.name} / ${b.what}: other secret`);

        // the Harepost headers are there whatever the scheme
        assert.equal(req.headers['x-harepost-queue-id'], queueId);
        assert.equal(req.headers['x-harepost-event'], type);
        assert.match(req.headers['x-harepost-event-id'] ?? '', /^evt_/);
        assert.equal(req.headers['x-harepost-attempt'], '1');
        // only this scheme's signature headers, each once
        assert.equal(occurrences(req, c.header), 1, `${c.header} once`);
        for (const h of SIGNATURE_HEADERS) {
          const own = c.header === h || (c.name === 'standard-webhooks' && h.startsWith('webhook-')) ||
            (c.name === 'standard-webhooks' && h === 'x-harepost-signature');
          assert.equal(h in req.headers, own, `${c.name}: ${h} ${own ? 'present' : 'absent'}`);
        }
        assert.equal(occurrences(req, 'user-agent'), 1);
        assert.equal(req.headers['user-agent'], c.name === 'posthawk' ? 'Posthawk-Webhook/1.0' : 'Harepost/1.0');
        if (c.name === 'posthawk') assert.equal(req.headers['x-posthawk-event'], type);
        if (c.name === 'standard-webhooks') assert.equal(req.headers['webhook-id'], queueId);
        if (c.name === 'harbor' || c.name === 'custom timestamped hex') {
          const t = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(req.headers[c.header]!)?.[1]);
          assert.ok(Math.abs(t - Date.now() / 1000) < 60, `t= is the unix time of the attempt: ${req.headers[c.header]}`);
        }
      }
    });
  }

  it('the test endpoint signs with the destination’s scheme (/v1/destinations/{id}/test and /v1/webhooks/{id}/test)', async () => {
    for (const c of CASES) {
      const d = made.get(c.name)!;
      const path = `/sig-${slug(c.name)}`;
      const before = hits(path).length;
      const route = c.name === 'posthawk' ? `/v1/webhooks/${d.id}/test` : `/v1/destinations/${d.id}/test`;
      const r = await api('POST', route);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.success, true, r.text);
      const req = hits(path)[before]!;
      assert.ok(req, `${c.name}: the test request arrived`);
      assert.equal(JSON.parse(req.body.toString('utf8')).type, 'harepost.test');
      await assert.doesNotReject(c.verify(d.secret, req), c.name);
      assert.equal(occurrences(req, c.header), 1);
      if (c.name === 'posthawk') {
        assert.equal(req.headers['x-posthawk-event'], 'harepost.test');
        assert.equal(req.headers['user-agent'], 'Posthawk-Webhook/1.0');
      }
    }
  });

  it('across a rotation: the new secret verifies every scheme; the old one still verifies the timestamped and standard ones', async () => {
    for (const c of CASES) {
      const d = made.get(c.name)!;
      const rotated = await api('POST', `/v1/destinations/${d.id}/rotate-secret`);
      assert.equal(rotated.status, 200, rotated.text);
      const fresh: string = rotated.body.signing_secret;
      assert.notEqual(fresh, d.secret);
      for (const b of [BODIES[0]!, BODIES[1]!]) {
        const { req } = await publish(`sig.${slug(c.name)}`, `/sig-${slug(c.name)}`, b.body);
        await assert.doesNotReject(c.verify(fresh, req), `${c.name} / ${b.what}: the new secret`);
        if (c.oldSecretVerifies) {
          await assert.doesNotReject(c.verify(d.secret, req), `${c.name} / ${b.what}: the old secret, during the overlap`);
        } else {
          // single-value schemes are signed with the new secret only (README says so)
          await assert.rejects(c.verify(d.secret, req), `${c.name} / ${b.what}: single-value: new secret only`);
        }
        assert.equal(occurrences(req, c.header), 1);
        if (c.name === 'harbor' || c.name === 'custom timestamped hex') {
          assert.match(req.headers[c.header]!, /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
        }
        if (c.name === 'standard-webhooks') assert.equal(req.headers['webhook-signature']!.split(' ').length, 2);
      }
      made.set(c.name, { id: d.id, secret: fresh });
    }
  });

  it('PATCH changes the scheme (through either view); the next delivery is signed the new way', async () => {
    const d = made.get('standard-webhooks')!;
    const p = await api('PATCH', `/v1/destinations/${d.id}`, { signature: 'github' });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.signature, 'github');
    const { req } = await publish('sig.standard-webhooks', '/sig-standard-webhooks', { after: 'patch' });
    await assert.doesNotReject(CASES.find((c) => c.name === 'github')!.verify(d.secret, req));
    assert.equal('webhook-signature' in req.headers, false);

    const w = await api('PATCH', `/v1/webhooks/${d.id}`, { signature: { header: 'X-Acme-Signature', prefix: 'sha256=' } });
    assert.equal(w.status, 200, w.text);
    assert.deepEqual(w.body.signature, { header: 'X-Acme-Signature', encoding: 'hex', prefix: 'sha256=', timestamped: false });
    const again = await publish('sig.standard-webhooks', '/sig-standard-webhooks', { after: 'second patch' });
    await assert.doesNotReject(sha256Hex(d.secret, again.req, 'x-acme-signature'));
    assert.equal('x-hub-signature-256' in again.req.headers, false);

    // a PATCH without `signature` leaves it alone
    const other = await api('PATCH', `/v1/destinations/${d.id}`, { name: 'renamed' });
    assert.deepEqual(other.body.signature, w.body.signature);
    const back = await api('PATCH', `/v1/destinations/${d.id}`, { signature: 'standard-webhooks' });
    assert.equal(back.body.signature, 'standard-webhooks');
  });

  it('defaults: /v1/destinations to HAREPOST_DEFAULT_SIGNATURE (standard-webhooks here), /v1/webhooks to posthawk', async () => {
    const d = await api('POST', '/v1/destinations', { url: stack.target('/default-d'), events: ['dflt.d'] });
    assert.equal(d.status, 201, d.text);
    assert.equal(d.body.signature, 'standard-webhooks');
    const { req } = await publish('dflt.d', '/default-d', { n: 1 });
    await assert.doesNotReject(CASES[0]!.verify(d.body.signing_secret, req));

    const w = await api('POST', '/v1/webhooks', { url: stack.target('/default-w'), events: ['dflt.w'] });
    assert.equal(w.status, 201, w.text);
    assert.equal(w.body.signature, 'posthawk');
    assert.equal((await api('GET', `/v1/destinations/${w.body.id}`)).body.signature, 'posthawk');
    const delivered = await publish('dflt.w', '/default-w', { n: 2 });
    assert.equal(delivered.req.headers['x-posthawk-event'], 'dflt.w');
    await assert.doesNotReject(CASES[1]!.verify(w.body.secret, delivered.req));

    // /v1/webhooks takes a scheme too
    const wh = await api('POST', '/v1/webhooks', { url: stack.target('/default-w2'), events: ['dflt.w2'], signature: 'harbor' });
    assert.equal(wh.status, 201, wh.text);
    assert.equal(wh.body.signature, 'harbor');
  });

  it('refuses a bad `signature` with 400 naming the field, on create and PATCH of both views; nothing changes', async () => {
    const a = await stack.createAccount('signature validation');
    const key = a.live_key;
    const url = stack.target('/bad-sig');
    const cases: Array<[unknown, string]> = [
      ['stripe', 'signature'],
      ['', 'signature'],
      [null, 'signature'],
      [42, 'signature'],
      [['harbor'], 'signature'],
      [{}, 'signature.header'],
      [{ header: 'X Sig' }, 'signature.header'],
      [{ header: 'X-Harepost-Signature' }, 'signature.header'],
      [{ header: 'content-length' }, 'signature.header'],
      [{ header: 'webhook-signature' }, 'signature.header'],
      [{ header: 'X-Sig', encoding: 'base32' }, 'signature.encoding'],
      [{ header: 'X-Sig', prefix: 7 }, 'signature.prefix'],
      [{ header: 'X-Sig', prefix: 'a\nb' }, 'signature.prefix'],
      [{ header: 'X-Sig', timestamped: true, prefix: 'sha256=' }, 'signature.prefix'],
      [{ header: 'X-Sig', timestamped: 'yes' }, 'signature.timestamped'],
      [{ header: 'X-Sig', algo: 'sha1' }, 'signature.algo'],
    ];
    const ok = await stack.api('POST', '/v1/destinations', { key, body: { url, signature: 'github' } });
    assert.equal(ok.status, 201, ok.text);
    for (const [signature, field] of cases) {
      for (const [method, path, body] of [
        ['POST', '/v1/destinations', { url, signature }],
        ['POST', '/v1/webhooks', { url, events: ['x'], signature }],
        ['PATCH', `/v1/destinations/${ok.body.id}`, { signature }],
        ['PATCH', `/v1/webhooks/${ok.body.id}`, { signature }],
      ] as Array<[string, string, unknown]>) {
        const r = await stack.api(method, path, { key, body });
        const what = `${method} ${path} ${JSON.stringify(signature)}`;
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.equal(r.body?.error?.code, 'invalid_request', `${what}: ${r.text}`);
        assert.equal(r.body.error.field, field, `${what}: ${r.text}`);
        assert.equal(typeof r.body.error.message, 'string');
        assert.doesNotMatch(r.text, /whsec_/, 'no secret in an error');
      }
    }
    const list = (await stack.api('GET', '/v1/destinations', { key })).body.data;
    assert.deepEqual(list.map((d: any) => [d.id, d.signature]), [[ok.body.id, 'github']], 'nothing created, nothing changed');
  });

  it('GET /v1/destinations/{id}/secret reads the current secret again; 404 for another account, mode or a deleted one', async () => {
    const a = await stack.createAccount('secret reader');
    const created = await stack.api('POST', '/v1/destinations', { key: a.live_key, body: { url: stack.target('/secret-read') } });
    assert.equal(created.status, 201, created.text);
    const id: string = created.body.id;
    const read = await stack.api('GET', `/v1/destinations/${id}/secret`, { key: a.live_key });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, { id, signing_secret: created.body.signing_secret });
    // the same secret the posthawk view shows
    assert.equal((await stack.api('GET', `/v1/webhooks/${id}`, { key: a.live_key })).body.secret, read.body.signing_secret);
    // after a rotation: the new one
    const rotated = await stack.api('POST', `/v1/destinations/${id}/rotate-secret`, { key: a.live_key });
    assert.deepEqual((await stack.api('GET', `/v1/destinations/${id}/secret`, { key: a.live_key })).body, {
      id,
      signing_secret: rotated.body.signing_secret,
    });
    for (const [key, what] of [
      [acct.live_key, 'another account'],
      [a.test_key, 'the other mode'],
    ] as const) {
      const r = await stack.api('GET', `/v1/destinations/${id}/secret`, { key });
      assert.equal(r.status, 404, `${what}: ${r.text}`);
      assert.equal(r.body.error.code, 'not_found');
      assert.doesNotMatch(r.text, /whsec_/);
    }
    assert.equal((await stack.api('GET', '/v1/destinations/dest_nope/secret', { key: a.live_key })).status, 404);
    assert.equal((await stack.api('GET', `/v1/destinations/${id}/secret`)).status, 401);
    await stack.api('DELETE', `/v1/destinations/${id}`, { key: a.live_key });
    assert.equal((await stack.api('GET', `/v1/destinations/${id}/secret`, { key: a.live_key })).status, 404);
  });
});

describe('HAREPOST_DEFAULT_SIGNATURE=harbor makes the harbor quickstart true verbatim', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_DEFAULT_SIGNATURE: 'harbor' } });
  });
  after(async () => stack.close());

  it('register, subscribe, send: the delivery carries a Harbor-Signature that Stripe’s verifier accepts', async () => {
    const acct = await stack.createAccount('harbor operator');
    const key = acct.test_key;
    // 2. Register the destination (the quickstart's body, host changed)
    const dest = await stack.api('POST', '/v1/destinations', {
      key,
      body: { url: stack.target('/your-unique-id', 'webhook.example.test'), name: 'Quickstart receiver' },
    });
    assert.equal(dest.status, 201, dest.text);
    assert.equal(dest.body.signature, 'harbor');
    const secret: string = dest.body.signing_secret;
    // 3. Subscribe to an event type
    const sub = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: dest.body.id, event_type: 'order.created' } });
    assert.equal(sub.status, 201, sub.text);
    // 4. Send an event
    const evt = await stack.api('POST', '/v1/events', { key, body: { type: 'order.created', body: { order_id: 'ord_123', amount_cents: 4500 } } });
    assert.equal(evt.status, 202, evt.text);
    // 5. "a POST with the event body and a Harbor-Signature header"
    const req = await waitFor(() => stack.receiver.requests.find((r) => r.path === '/your-unique-id'), { message: 'no delivery' });
    assert.equal(req.method, 'POST');
    assert.match(req.headers['harbor-signature'] ?? '', /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.deepEqual(Stripe.webhooks.constructEvent(req.body, req.headers['harbor-signature']!, secret), { order_id: 'ord_123', amount_cents: 4500 });
    assert.throws(() => Stripe.webhooks.constructEvent(req.body, req.headers['harbor-signature']!, 'whsec_other'), /No signatures found/);
    assert.equal('webhook-signature' in req.headers, false);
    assert.equal(req.headers['x-harepost-queue-id'], evt.body.deliveries[0].queue_id);
    const list = await waitFor(async () => {
      const r = await stack.api('GET', '/v1/deliveries', { key });
      return r.body?.data?.[0]?.status === 'delivered' ? r : undefined;
    });
    assert.equal(list.body.data.length, 1);
    assert.equal(list.body.data[0].last_status, 200);

    // the posthawk view keeps its own default
    const w = await stack.api('POST', '/v1/webhooks', { key, body: { url: stack.target('/ph'), events: ['delivery'] } });
    assert.equal(w.body.signature, 'posthawk');
  });

  it('is resolved at creation: a Harepost started with another default keeps the scheme of existing destinations; new ones take the new default', async () => {
    const acct = await stack.createAccount('default change');
    const before = await stack.api('POST', '/v1/destinations', { key: acct.live_key, body: { url: stack.target('/x') } });
    assert.equal(before.body.signature, 'harbor');
    // a second (API-only) Harepost on the same database, with the default changed
    const other = await startHarepost(loadConfig({ ...stack.env, HAREPOST_ROLE: 'api', HAREPOST_DEFAULT_SIGNATURE: 'github' }));
    try {
      const get = async (path: string, body?: unknown) => {
        const res = await fetch(other.url + path, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${acct.live_key}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return (await res.json()) as any;
      };
      assert.equal((await get(`/v1/destinations/${before.body.id}`)).signature, 'harbor', 'stored as it was created');
      assert.equal((await get('/v1/destinations', { url: stack.target('/y') })).signature, 'github', 'new ones take the new default');
    } finally {
      await other.close();
    }
  });
});
