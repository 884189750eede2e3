/**
 * POST /v1/send to an IP address that the address guard allows (here 127.0.0.1, exempted by
 * HAREPOST_ALLOW_PRIVATE_NETWORKS): 403 domain_not_verified, whose message says that an IP can
 * never be a verified domain and what works instead — never to verify the IP. Nothing is queued.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';

describe('the 403 for an IP-literal target', () => {
  let stack: Stack;
  let acct: TestAccount;
  let port: string;

  const send = (key: string, target: string) => stack.api('POST', '/v1/send', { key, body: { target, body: { a: 1 } } });

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('ip literal');
    await stack.verifyDomain(acct.live_key, 'example.test');
    port = new URL(stack.target()).port;
  });

  after(async () => {
    await stack?.close();
  });

  it('says an IP address cannot be a verified domain, and to use a host name on one (with the private-network setting)', async () => {
    const r = await send(acct.live_key, `https://127.0.0.1:${port}/hook`);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'domain_not_verified');
    assert.equal(r.body.error.field, 'target');
    const message: string = r.body.error.message;
    assert.match(message, /^127\.0\.0\.1 is an IP address, and only a host name can be a verified domain/);
    assert.match(message, /host name on a verified domain of this account/);
    assert.match(message, /HAREPOST_ALLOW_PRIVATE_NETWORKS/);
    assert.doesNotMatch(message, /verify it|localhost/, message);
    const listed = await stack.api('GET', '/v1/deliveries', { key: acct.live_key });
    assert.deepEqual(listed.body.data, [], 'nothing queued');
  });

  it('with localhost verified for the account (as harepost dev does), names the localhost URL to send to', async () => {
    const sandbox = await stack.createAccount('sandbox-like');
    const now = Date.now();
    await stack.hp.store.addDomain({
      account_id: sandbox.account_id,
      domain: 'localhost',
      token: 'dev',
      status: 'verified',
      created_at: now,
      verified_at: now,
    });
    const r = await send(sandbox.test_key, `https://127.0.0.1:${port}/path?q=1`);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'domain_not_verified');
    assert.match(r.body.error.message, /127\.0\.0\.1 is an IP address/);
    assert.match(r.body.error.message, new RegExp(`send to https://localhost:${port}/path\\?q=1 instead$`));
    // another account without localhost still gets the general answer
    const plain = await send(acct.test_key, `https://127.0.0.1:${port}/path?q=1`);
    assert.doesNotMatch(plain.body.error.message, /localhost/);
  });

  it('a host name on no verified domain keeps its own answer', async () => {
    const r = await send(acct.live_key, 'https://unverified.invalid/hook');
    assert.equal(r.status, 403, r.text);
    assert.equal(
      r.body.error.message,
      'unverified.invalid is not on a verified domain of this account: add it with POST /v1/domains and verify it',
    );
  });
});
