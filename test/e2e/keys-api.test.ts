/** API keys over the API (SPEC §2): list without secrets, create shown once, revoke at once. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';

describe('keys over the API', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount();
    other = await stack.createAccount('other');
  });
  after(async () => stack.close());

  it('lists keys with id, mode, prefix, created_at, last_used_at — never the key', async () => {
    const r = await stack.api('GET', '/v1/keys', { key: acct.live_key });
    assert.equal(r.status, 200);
    assert.equal(r.body.data.length, 2);
    for (const k of r.body.data) {
      assert.deepEqual(Object.keys(k).sort(), ['created_at', 'id', 'last_used_at', 'mode', 'prefix']);
      assert.match(k.id, /^key_/);
      assert.equal(k.prefix.length, 12);
    }
    assert.ok(!r.text.includes(acct.live_key) && !r.text.includes(acct.test_key));
    assert.ok(!r.text.includes(acct.live_key.slice(12)), 'not even the secret part');
  });

  it('creates a key shown once that works at once; a test key sees and makes only test keys', async () => {
    const made = await stack.api('POST', '/v1/keys', { key: acct.live_key, body: { mode: 'test' } });
    assert.equal(made.status, 201);
    assert.match(made.body.key, /^hp_test_[A-Za-z0-9]{32,}$/);
    assert.equal(made.body.mode, 'test');
    assert.equal(made.body.prefix, made.body.key.slice(0, 12));
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: made.body.key })).status, 200);
    const defaultMode = await stack.api('POST', '/v1/keys', { key: acct.test_key });
    assert.equal(defaultMode.status, 201);
    assert.equal(defaultMode.body.mode, 'test', 'defaults to the caller’s mode');
    const escalate = await stack.api('POST', '/v1/keys', { key: acct.test_key, body: { mode: 'live' } });
    assert.equal(escalate.status, 403);
    assert.equal(escalate.body.error.field, 'mode');
    const seenByTest = await stack.api('GET', '/v1/keys', { key: acct.test_key });
    assert.ok(seenByTest.body.data.every((k: { mode: string }) => k.mode === 'test'));
    const bad = await stack.api('POST', '/v1/keys', { key: acct.live_key, body: { mode: 'prod' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'mode');
  });

  it('records last_used_at (to the minute)', async () => {
    const made = await stack.api('POST', '/v1/keys', { key: acct.live_key, body: { mode: 'live' } });
    let list = await stack.api('GET', '/v1/keys', { key: acct.live_key });
    assert.equal(list.body.data.find((k: { id: string }) => k.id === made.body.id).last_used_at, null);
    const before = Date.now();
    await stack.api('GET', '/v1/deliveries', { key: made.body.key });
    list = await stack.api('GET', '/v1/keys', { key: acct.live_key });
    const used = Date.parse(list.body.data.find((k: { id: string }) => k.id === made.body.id).last_used_at);
    assert.ok(used >= before - 5 && used <= Date.now(), `last_used_at ${used}`);
  });

  it('DELETE revokes at once: the key gets 401 on its very next call', async () => {
    const made = await stack.api('POST', '/v1/keys', { key: acct.live_key, body: { mode: 'live' } });
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: made.body.key })).status, 200);
    const del = await stack.api('DELETE', `/v1/keys/${made.body.id}`, { key: acct.live_key });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body, { id: made.body.id, revoked: true });
    const after = await stack.api('GET', '/v1/deliveries', { key: made.body.key });
    assert.equal(after.status, 401);
    assert.equal(after.body.error.code, 'unauthorized');
    assert.equal((await stack.api('DELETE', `/v1/keys/${made.body.id}`, { key: acct.live_key })).status, 404);
    const list = await stack.api('GET', '/v1/keys', { key: acct.live_key });
    assert.ok(list.body.data.every((k: { id: string }) => k.id !== made.body.id));
  });

  it("another account's key is 404 and stays valid", async () => {
    const theirs = await stack.api('POST', '/v1/keys', { key: other.live_key, body: { mode: 'live' } });
    const r = await stack.api('DELETE', `/v1/keys/${theirs.body.id}`, { key: acct.live_key });
    assert.equal(r.status, 404);
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: theirs.body.key })).status, 200);
  });

  it('a test key cannot revoke a live key', async () => {
    const list = await stack.api('GET', '/v1/keys', { key: acct.live_key });
    const live = list.body.data.find((k: { mode: string }) => k.mode === 'live');
    assert.equal((await stack.api('DELETE', `/v1/keys/${live.id}`, { key: acct.test_key })).status, 404);
  });
});
