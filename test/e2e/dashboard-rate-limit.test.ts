/**
 * A dashboard session's rate limit belongs to its sign-in: switching mode re-issues the session's id
 * (POST /dashboard/api/session/mode) but must not hand it a fresh bucket, or switching back and
 * forth would lift the limit altogether.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';

const SESSION = /harepost_session=([A-Za-z0-9_-]{43})/;

describe('dashboard: the rate limit survives a mode switch', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    // 10 requests at once, then 1 a second
    stack = await startStack({ env: { HAREPOST_RATE_LIMIT_PER_SECOND: '1', HAREPOST_RATE_LIMIT_BURST: '10' } });
    acct = await stack.createAccount('rate limited dashboard');
  });
  after(async () => stack?.close());

  it('a switch does not refill the bucket', async () => {
    const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
    const login = await stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token: new URL(link.url).searchParams.get('token')! }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url! },
    });
    assert.equal(login.status, 303, login.text);
    let cookie = `harepost_session=${SESSION.exec(String(login.headers['set-cookie']))![1]}`;
    const session = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
    assert.equal(session.status, 200, session.text);
    for (let i = 0; i < 4; i++) {
      const r = await stack.api('GET', '/dashboard/api/v1/deliveries', { headers: { cookie } });
      assert.equal(r.status, 200, r.text);
    }
    const switched = await stack.api('POST', '/dashboard/api/session/mode', {
      headers: { cookie, 'x-csrf-token': session.body.csrf_token },
      body: { mode: 'test' },
    });
    assert.equal(switched.status, 200, switched.text);
    cookie = `harepost_session=${SESSION.exec(String(switched.headers['set-cookie']))![1]}`;
    // 6 of 10 spent (5 reads and the switch, give or take the switch itself): 10 more cannot all
    // pass unless the new session id came with a full bucket (or 5 s passed)
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await stack.api('GET', '/dashboard/api/v1/deliveries', { headers: { cookie } })).status);
    assert.ok(statuses.includes(429), `all of ${statuses.join(',')} after the switch: the bucket was refilled`);
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(','));
  });
});
