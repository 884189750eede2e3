/**
 * Only live keys add, verify or delete domains (issue 15, item 9): a domain serves both modes, so
 * a test key (handed to CI, a staging box) must never be able to break live sends. A test key
 * still lists them; a dashboard session in test mode is refused like a test key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { type ApiResponse, type Stack, type TestAccount, startStack } from '../support/stack.js';

function assertLiveKeyRequired(res: ApiResponse, what: string): void {
  const ctx = `${what}: ${res.status} ${res.text}`;
  assert.equal(res.status, 403, ctx);
  assert.equal(res.body.error.code, 'live_key_required', ctx);
  assert.match(res.body.error.message, /use a live key/, ctx);
}

describe('domains: live keys only', () => {
  let stack: Stack;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('live only');
    await stack.verifyDomain(acct.live_key, 'hooks.example.test');
  });

  after(async () => {
    await stack?.close();
  });

  const domains = async (key: string) =>
    ((await stack.api('GET', '/v1/domains', { key })).body.data as Array<{ domain: string; status: string }>).map((d) => `${d.domain}:${d.status}`);

  it('a test key cannot add, verify or delete a domain, and changes nothing trying', async () => {
    const before = await domains(acct.live_key);
    assertLiveKeyRequired(await stack.api('POST', '/v1/domains', { key: acct.test_key, body: { domain: 'new.example.test' } }), 'add');
    assertLiveKeyRequired(await stack.api('POST', '/v1/domains/verify', { key: acct.test_key, body: { domain: 'hooks.example.test' } }), 'verify');
    assertLiveKeyRequired(await stack.api('DELETE', '/v1/domains/hooks.example.test', { key: acct.test_key }), 'delete');
    assertLiveKeyRequired(await stack.api('DELETE', '/v1/domains/hooks.example.test', { key: acct.test_key, auth: 'x-api-key' }), 'delete (X-API-Key)');
    assert.deepEqual(await domains(acct.live_key), before, 'nothing added or removed');
    // live sends still go out: the domain the test key tried to delete is there
    const sent = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/still-here') } });
    assert.equal(sent.status, 202, sent.text);
    // and test-mode sends too: domains serve both modes
    const testSend = await stack.api('POST', '/v1/send', { key: acct.test_key, body: { target: stack.target('/test-mode') } });
    assert.equal(testSend.status, 202, testSend.text);
  });

  it('a test key still lists the domains (the same list as the live key)', async () => {
    const r = await stack.api('GET', '/v1/domains', { key: acct.test_key });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await domains(acct.test_key), await domains(acct.live_key));
    assert.ok((await domains(acct.test_key)).includes('hooks.example.test:verified'));
  });

  it('a live key adds, verifies and deletes', async () => {
    const added = await stack.api('POST', '/v1/domains', { key: acct.live_key, body: { domain: 'mine.example.test' } });
    assert.equal(added.status, 201, added.text);
    stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
    const verified = await stack.api('POST', '/v1/domains/verify', { key: acct.live_key, body: { domain: 'mine.example.test' } });
    assert.equal(verified.body.status, 'verified', verified.text);
    assert.equal((await stack.api('DELETE', '/v1/domains/mine.example.test', { key: acct.live_key })).status, 200);
  });

  it('the rule comes before anything else about the request: a test key gets 403, not 400 or 404', async () => {
    assertLiveKeyRequired(await stack.api('DELETE', '/v1/domains/never-added.example.test', { key: acct.test_key }), 'unknown domain');
    assertLiveKeyRequired(await stack.api('POST', '/v1/domains/verify', { key: acct.test_key, body: { domain: 'never-added.example.test' } }), 'verify unknown');
  });

  it('a dashboard session in test mode is refused like a test key; in live mode it manages domains', async () => {
    const session = async (mode: 'live' | 'test') => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, mode, stack.hp.url!);
      const token = new URL(link.url).searchParams.get('token')!;
      const r = await stack.api('POST', '/dashboard/login', {
        rawBody: new URLSearchParams({ token }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url! },
      });
      assert.equal(r.status, 303, r.text);
      const cookie = String(r.headers['set-cookie']).split(';')[0]!;
      const s = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
      assert.equal(s.status, 200, s.text);
      return { cookie, 'x-csrf-token': s.body.csrf_token as string };
    };
    const test = await session('test');
    assertLiveKeyRequired(
      await stack.api('POST', '/dashboard/api/v1/domains', { headers: test, body: { domain: 'dash.example.test' } }),
      'test-mode dashboard',
    );
    assert.equal((await stack.api('GET', '/dashboard/api/v1/domains', { headers: { cookie: test.cookie } })).status, 200);
    const live = await session('live');
    const made = await stack.api('POST', '/dashboard/api/v1/domains', { headers: live, body: { domain: 'dash.example.test' } });
    assert.equal(made.status, 201, made.text);
  });
});
