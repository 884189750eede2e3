/**
 * Signed sends (SPEC §7), verified the way a receiver would: with the `standardwebhooks` package,
 * before, across and after a rotation of the account's secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('signatures', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => stack.close());

  async function deliver(path: string, extra: Record<string, unknown> = {}, key = acct.live_key): Promise<RecordedRequest> {
    const r = await stack.api('POST', '/v1/send', {
      key,
      body: { target: stack.target(path), body: { path, note: 'héllo ✓' }, sign: true, ...extra },
    });
    assert.equal(r.status, 202, r.text);
    return waitFor(() => stack.receiver.requests.find((q) => q.headers['x-harepost-queue-id'] === r.body.queue_id));
  }

  const verify = (secret: string, req: RecordedRequest, body: string | Buffer = req.body) =>
    new Webhook(secret).verify(body.toString(), req.headers as Record<string, string>);

  it('gives the account a whsec_ secret per mode, the same on every read', async () => {
    const a = await stack.api('GET', '/v1/signing-secret', { key: acct.live_key });
    assert.equal(a.status, 200);
    assert.match(a.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(a.body.secret.slice(6), 'base64').length, 32);
    const b = await stack.api('GET', '/v1/signing-secret', { key: acct.live_key });
    assert.equal(b.body.secret, a.body.secret);
    const t = await stack.api('GET', '/v1/signing-secret', { key: acct.test_key });
    assert.notEqual(t.body.secret, a.body.secret, 'test mode has its own secret');
  });

  it('signs sign:true deliveries so standardwebhooks verifies them; the body signed is the body sent', async () => {
    const { secret } = (await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body;
    const req = await deliver('/signed');
    const id = req.headers['x-harepost-queue-id'];
    assert.equal(req.headers['webhook-id'], id);
    assert.match(req.headers['webhook-timestamp']!, /^\d{10}$/);
    assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 30);
    assert.match(req.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(req.headers['x-harepost-signature'], req.headers['webhook-signature']);
    assert.deepEqual(verify(secret, req), { path: '/signed', note: 'héllo ✓' });
  });

  it('a tampered body, a wrong secret or a stale timestamp fails verification', async () => {
    const { secret } = (await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body;
    const req = await deliver('/tamper');
    assert.throws(() => verify(secret, req, req.body.toString().replace('héllo', 'hello')), /No matching signature/);
    const other = (await stack.api('GET', '/v1/signing-secret', { key: acct.test_key })).body.secret;
    assert.throws(() => verify(other, req), /No matching signature/);
    const realNow = Date.now;
    Date.now = () => realNow() + 10 * 60 * 1000; // the receiver checks the message ten minutes later
    try {
      assert.throws(() => verify(secret, req), /too old/);
    } finally {
      Date.now = realNow;
    }
    assert.doesNotThrow(() => verify(secret, req));
  });

  it('a signed string body is verified byte for byte', async () => {
    const { secret } = (await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body;
    const raw = '{"b":2,  "a":1}\n';
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target('/raw'), body: raw, sign: true },
    });
    const req = await waitFor(() => stack.receiver.requests.find((q) => q.headers['x-harepost-queue-id'] === r.body.queue_id));
    assert.equal(req.body.toString(), raw);
    assert.deepEqual(verify(secret, req), { b: 2, a: 1 });
  });

  it('unsigned sends carry no signature headers', async () => {
    const req = await deliver('/unsigned', { sign: false });
    for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'x-harepost-signature']) {
      assert.equal(req.headers[h], undefined, h);
    }
  });

  it('keeps webhook-id across retries with a fresh timestamp each attempt', async () => {
    const { secret } = (await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body;
    let n = 0;
    stack.receiver.respond((req) => (req.path === '/retry-signed' && n++ === 0 ? { status: 500 } : { status: 200 }));
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target('/retry-signed'), body: { x: 1 }, sign: true, delivery: { base_delay_ms: 1100, backoff: 'fixed', jitter: 'none' } },
    });
    const hits = await waitFor(() => {
      const h = stack.receiver.requests.filter((q) => q.headers['x-harepost-queue-id'] === r.body.queue_id);
      return h.length === 2 ? h : undefined;
    });
    stack.receiver.respond(() => ({ status: 200 }));
    assert.equal(hits[0]!.headers['webhook-id'], hits[1]!.headers['webhook-id']);
    assert.ok(Number(hits[1]!.headers['webhook-timestamp']) > Number(hits[0]!.headers['webhook-timestamp']));
    for (const h of hits) assert.doesNotThrow(() => verify(secret, h));
  });

  it('across a rotation both secrets verify; the new one is returned from then on', async () => {
    const old = (await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body.secret;
    const before = await deliver('/before-rotation');
    assert.doesNotThrow(() => verify(old, before));

    const rotated = await stack.api('POST', '/v1/signing-secret/rotate', { key: acct.live_key });
    assert.equal(rotated.status, 200);
    const fresh = rotated.body.secret;
    assert.notEqual(fresh, old);
    assert.match(fresh, /^whsec_/);
    const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at) - Date.parse(rotated.body.created_at);
    assert.equal(overlapEnds, 24 * 60 * 60 * 1000);
    assert.equal((await stack.api('GET', '/v1/signing-secret', { key: acct.live_key })).body.secret, fresh);

    const across = await deliver('/after-rotation');
    assert.equal(across.headers['webhook-signature']!.split(' ').length, 2, 'old and new signatures both sent');
    assert.doesNotThrow(() => verify(fresh, across), 'a receiver already on the new secret');
    assert.doesNotThrow(() => verify(old, across), 'a receiver still on the old secret');
    assert.throws(() => verify(fresh, before), 'the old delivery was never signed with the new secret');
  });
});
