/**
 * The Idempotency-Key HTTP header on POST /v1/send (SPEC §4): one execution per
 * (account, mode, key); the same response replayed for the same body; 409 for another body;
 * concurrent duplicates create one delivery.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep } from '../support/wait.js';

describe('Idempotency-Key', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount();
    other = await stack.createAccount('other');
    await stack.verifyDomain(acct.live_key, 'example.test');
    await stack.verifyDomain(other.live_key, 'example.test');
  });
  after(async () => stack.close());

  const send = (key: string, idem: string | undefined, body: Record<string, unknown>) =>
    stack.api('POST', '/v1/send', { key, body, headers: idem === undefined ? {} : { 'idempotency-key': idem } });

  const deliveriesTo = async (key: string, path: string) => {
    const r = await stack.api('GET', '/v1/deliveries?limit=100', { key });
    return r.body.data.filter((d: { target: string }) => d.target.endsWith(path));
  };

  it('replays the first response for the same body, and creates one delivery', async () => {
    const body = { target: stack.target('/idem-1'), body: { a: 1, b: [1, 2] } };
    const first = await send(acct.live_key, 'order-1', body);
    assert.equal(first.status, 202);
    const again = await send(acct.live_key, 'order-1', body);
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(first.headers['idempotent-replayed'], undefined);
    // same JSON, other key order: the same request
    const reordered = await send(acct.live_key, 'order-1', { body: { b: [1, 2], a: 1 }, target: body.target });
    assert.deepEqual(reordered.body, first.body);
    await sleep(200);
    assert.equal((await deliveriesTo(acct.live_key, '/idem-1')).length, 1);
    assert.equal(stack.receiver.requests.filter((r) => r.path === '/idem-1').length, 1);
  });

  it('409 for the same key with a different body', async () => {
    await send(acct.live_key, 'order-2', { target: stack.target('/idem-2'), body: 'one' });
    const r = await send(acct.live_key, 'order-2', { target: stack.target('/idem-2'), body: 'two' });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'idempotency_key_reused');
    assert.equal(r.body.error.field, 'Idempotency-Key');
    assert.equal((await deliveriesTo(acct.live_key, '/idem-2')).length, 1);
  });

  it('two identical requests racing create exactly one delivery and both get its id', async () => {
    const body = { target: stack.target('/idem-race'), body: { race: true } };
    const results = await Promise.all(Array.from({ length: 10 }, () => send(acct.live_key, 'race-1', body)));
    for (const r of results) assert.equal(r.status, 202, r.text);
    const ids = new Set(results.map((r) => r.body.queue_id));
    assert.equal(ids.size, 1, `all got the same queue_id, got ${[...ids].join(', ')}`);
    await sleep(200);
    assert.equal((await deliveriesTo(acct.live_key, '/idem-race')).length, 1);
  });

  it('keys are scoped to (account, mode)', async () => {
    const body = { target: stack.target('/idem-scope'), body: 'x' };
    const live = await send(acct.live_key, 'shared', body);
    const test = await send(acct.test_key, 'shared', body);
    const theirs = await send(other.live_key, 'shared', body);
    assert.equal(new Set([live.body.queue_id, test.body.queue_id, theirs.body.queue_id]).size, 3);
  });

  it('a refused request is not recorded: fixing it and retrying with the same key executes', async () => {
    const bad = await send(acct.live_key, 'fix-me', { target: 'https://unverified.example.org/x' });
    assert.equal(bad.status, 403);
    const good = await send(acct.live_key, 'fix-me', { target: stack.target('/idem-fixed') });
    assert.equal(good.status, 202);
  });

  it('without the header every request executes (the body field is only forwarded)', async () => {
    const body = { target: stack.target('/idem-none'), idempotency_key: 'forwarded-only' };
    const a = await send(acct.live_key, undefined, body);
    const b = await send(acct.live_key, undefined, body);
    assert.notEqual(a.body.queue_id, b.body.queue_id);
  });

  for (const bad of ['', 'x'.repeat(256), 'tab\there']) {
    it(`400 for an Idempotency-Key of ${JSON.stringify(bad).slice(0, 20)}`, async () => {
      const r = await send(acct.live_key, bad, { target: stack.target('/idem-bad') });
      assert.equal(r.status, 400);
      assert.equal(r.body.error.field, 'Idempotency-Key');
    });
  }
});
