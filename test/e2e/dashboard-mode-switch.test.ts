/**
 * POST /dashboard/api/session/mode: a signed-in browser moves its session to the other mode of its
 * own account. It needs the session's CSRF token; it can never reach another account; the session
 * gets a new id and CSRF token (the old ones stop working) and keeps its end; afterwards every
 * /dashboard/api answer is in the new mode.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { newDashboardSecret } from '../../src/core/dashboard-tokens.js';
import type { KeyMode } from '../../src/store/store.js';
import { type ApiResponse, type Stack, type TestAccount, startStack } from '../support/stack.js';

interface Session {
  cookie: string;
  csrf: string;
  expires_at: string;
}

const COOKIE = /^harepost_session=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=Strict; Path=\/dashboard; Max-Age=(\d+)$/;

describe('dashboard: switching the session between live and test', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;
  /** queue ids by owner: this account's live and test deliveries, and another account's. */
  const sent: Record<'live' | 'test' | 'otherLive' | 'otherTest', string> = { live: '', test: '', otherLive: '', otherTest: '' };

  /** Opens a login link for (account, mode) the way the sign-in button does; the session it opens. */
  async function signIn(accountId: string, mode: KeyMode): Promise<Session> {
    const link = await issueLoginLink(stack.hp.store, accountId, mode, stack.hp.url!);
    const token = new URL(link.url).searchParams.get('token')!;
    const r = await stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url! },
    });
    assert.equal(r.status, 303, r.text);
    const cookie = `harepost_session=${COOKIE.exec(String(r.headers['set-cookie']))![1]}`;
    const s = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.body.mode, mode);
    return { cookie, csrf: s.body.csrf_token, expires_at: s.body.expires_at };
  }

  /** /dashboard/api<path> as `s`; unsafe methods carry its CSRF token unless `csrf` says otherwise. */
  function dash(method: string, path: string, s: Session, o: { body?: unknown; csrf?: string | null } = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { cookie: s.cookie };
    const csrf = o.csrf === undefined ? (method === 'GET' ? null : s.csrf) : o.csrf;
    if (csrf !== null) headers['x-csrf-token'] = csrf;
    return stack.api(method, `/dashboard/api${path}`, { headers, ...(o.body !== undefined ? { body: o.body } : {}) });
  }

  /** Switches `s` to `mode`: the answer, and the session it leaves the browser with. */
  async function switchTo(s: Session, mode: KeyMode): Promise<{ r: ApiResponse; session: Session }> {
    const r = await dash('POST', '/session/mode', s, { body: { mode } });
    assert.equal(r.status, 200, r.text);
    const set = r.headers['set-cookie'];
    const cookie = set === undefined ? s.cookie : `harepost_session=${COOKIE.exec(String(set))![1]}`;
    return { r, session: { cookie, csrf: r.body.csrf_token, expires_at: r.body.expires_at } };
  }

  const queueIds = async (s: Session) => {
    const r = await dash('GET', '/v1/deliveries?limit=100', s);
    assert.equal(r.status, 200, r.text);
    return (r.body.data as Array<{ queue_id: string }>).map((d) => d.queue_id);
  };

  const send = async (key: string, path: string) => {
    const r = await stack.api('POST', '/v1/send', { key, body: { target: stack.target(path), body: { path } } });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  };

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('mode switch');
    other = await stack.createAccount('someone else');
    // domains serve both modes (and only live keys manage them)
    await stack.verifyDomain(acct.live_key, 'example.test');
    await stack.verifyDomain(other.live_key, 'example.test');
    sent.live = await send(acct.live_key, '/live');
    sent.test = await send(acct.test_key, '/test');
    sent.otherLive = await send(other.live_key, '/other-live');
    sent.otherTest = await send(other.test_key, '/other-test');
  });

  after(async () => {
    await stack?.close();
  });

  it('live → test → live: the answer is the new session, in a new cookie that ends when the old one did', async () => {
    const live = await signIn(acct.account_id, 'live');
    assert.deepEqual(await queueIds(live), [sent.live]);

    const { r, session: test } = await switchTo(live, 'test');
    assert.deepEqual(Object.keys(r.body).sort(), ['account_id', 'csrf_token', 'expires_at', 'mode']);
    assert.equal(r.body.account_id, acct.account_id);
    assert.equal(r.body.mode, 'test');
    assert.equal(r.body.expires_at, live.expires_at, 'switching never lengthens a session');
    assert.equal(r.headers['cache-control'], 'no-store');
    const cookie = COOKIE.exec(String(r.headers['set-cookie']));
    assert.ok(cookie, `a session cookie as strict as at sign-in: ${String(r.headers['set-cookie'])}`);
    const maxAge = Number(cookie[2]);
    const remaining = (Date.parse(live.expires_at) - Date.now()) / 1000;
    assert.ok(maxAge <= 43_200 && Math.abs(maxAge - remaining) < 10, `Max-Age ${maxAge} for ${remaining} s left`);
    assert.notEqual(test.cookie, live.cookie, 'a new session id');
    assert.notEqual(test.csrf, live.csrf, 'a new CSRF token');

    // every page's data is now test mode's
    assert.deepEqual(await queueIds(test), [sent.test]);
    assert.equal((await dash('GET', `/v1/deliveries/${sent.test}`, test)).status, 200);
    assert.equal((await dash('GET', `/v1/deliveries/${sent.live}`, test)).status, 404, 'a live delivery is not there in test mode');
    const overview = await dash('GET', '/overview', test);
    assert.equal(overview.status, 200, overview.text);
    assert.equal(overview.body.deliveries.accepted, 1, 'the home page counts test mode');
    const session = await dash('GET', '/session', test);
    assert.equal(session.body.mode, 'test');

    // the old id and the old CSRF token are gone
    const stale = await dash('GET', '/session', live);
    assert.equal(stale.status, 401);
    assert.equal(stale.body.error.code, 'unauthorized');
    const oldToken = await dash('POST', '/v1/domains', test, { body: { domain: 'stale.example.test' }, csrf: live.csrf });
    assert.equal(oldToken.status, 403);
    assert.equal(oldToken.body.error.code, 'csrf_token_invalid');
    // the new token passes: test mode may not manage domains (live keys only), but makes a destination
    const refused = await dash('POST', '/v1/domains', test, { body: { domain: 'fresh.example.test' } });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.error.code, 'live_key_required');
    const made = await dash('POST', '/v1/destinations', test, { body: { url: stack.target('/fresh'), events: ['fresh.*'] } });
    assert.equal(made.status, 201, made.text);
    const destinations = await stack.api('GET', '/v1/destinations', { key: acct.test_key });
    assert.ok(destinations.body.data.some((d: { id: string }) => d.id === made.body.id), 'made in test mode');

    const back = await switchTo(test, 'live');
    assert.equal(back.r.body.mode, 'live');
    assert.equal(back.r.body.expires_at, live.expires_at);
    assert.deepEqual(await queueIds(back.session), [sent.live]);
    assert.equal((await dash('GET', '/session', test)).status, 401, 'the test-mode id ended too');
  });

  it('without the CSRF token, or with a wrong one, it is 403 and the session stays as it was', async () => {
    const live = await signIn(acct.account_id, 'live');
    const someoneElse = await signIn(acct.account_id, 'live');
    for (const csrf of [null, '', 'wrong', newDashboardSecret(), `${live.csrf}x`, someoneElse.csrf]) {
      const r = await dash('POST', '/session/mode', live, { body: { mode: 'test' }, csrf });
      assert.equal(r.status, 403, `csrf ${String(csrf)}: ${r.text}`);
      assert.equal(r.body.error.code, 'csrf_token_invalid');
      assert.equal(r.headers['set-cookie'], undefined);
    }
    const still = await dash('GET', '/session', live);
    assert.equal(still.status, 200);
    assert.equal(still.body.mode, 'live');
    assert.equal(still.body.csrf_token, live.csrf);
    assert.deepEqual(await queueIds(live), [sent.live]);
  });

  it("stays within the session's own account: naming another one is refused, and its data is never reached", async () => {
    const live = await signIn(acct.account_id, 'live');
    for (const body of [
      { mode: 'test', account_id: other.account_id },
      { mode: 'test', account: other.account_id },
    ]) {
      const r = await dash('POST', '/session/mode', live, { body });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.equal(r.headers['set-cookie'], undefined);
    }
    for (const mode of ['test', 'live'] as const) {
      const { r, session } = await switchTo(live, mode);
      assert.equal(r.body.account_id, acct.account_id);
      const ids = await queueIds(session);
      assert.ok(!ids.includes(sent.otherLive) && !ids.includes(sent.otherTest), `another account's deliveries in ${mode}: ${ids.join(',')}`);
      for (const id of [sent.otherLive, sent.otherTest]) {
        assert.equal((await dash('GET', `/v1/deliveries/${id}`, session)).status, 404, `${id} in ${mode}`);
      }
      Object.assign(live, session);
    }
  });

  it('answers 400 naming mode for a missing or unknown mode; the same mode changes nothing', async () => {
    const live = await signIn(acct.account_id, 'live');
    for (const body of [{}, { mode: 'staging' }, { mode: null }, { mode: 'TEST' }]) {
      const r = await dash('POST', '/session/mode', live, { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.equal(r.body.error.field, 'mode', r.text);
    }
    const same = await dash('POST', '/session/mode', live, { body: { mode: 'live' } });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.headers['set-cookie'], undefined);
    assert.equal(same.body.csrf_token, live.csrf);
    assert.equal((await dash('GET', '/session', live)).status, 200, 'the same session goes on');
  });

  it('without a session, with an ended one, or with an API key it is 401', async () => {
    const r = await stack.api('POST', '/dashboard/api/session/mode', { body: { mode: 'test' } });
    assert.equal(r.status, 401);
    const byKey = await stack.api('POST', '/dashboard/api/session/mode', { key: acct.live_key, body: { mode: 'test' } });
    assert.equal(byKey.status, 401);
    const s = await signIn(acct.account_id, 'test');
    assert.equal((await dash('POST', '/logout', s)).status, 204);
    const ended = await dash('POST', '/session/mode', s, { body: { mode: 'live' } });
    assert.equal(ended.status, 401);
    assert.equal(ended.body.error.code, 'unauthorized');
  });

  it('two switches racing on one session: one wins, the other finds the session gone', async () => {
    const live = await signIn(acct.account_id, 'live');
    const answers = await Promise.all([
      dash('POST', '/session/mode', live, { body: { mode: 'test' } }),
      dash('POST', '/session/mode', live, { body: { mode: 'test' } }),
    ]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401], answers.map((a) => a.text).join(' | '));
  });
});
