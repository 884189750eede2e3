/**
 * The dashboard's server side: one-time login links, the session cookie, CSRF, the session-only
 * /dashboard/api (the /v1 API less key management, plus session, logout and overview), the
 * built front-end's files, and that no token or session id ever reaches a log line or an error.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { buildApi, type ApiOptions } from '../../src/api/app.js';
import { sessionCookie } from '../../src/api/dashboard/cookie.js';
import { CROSS_SITE_PAGE, LINK_REFUSED_PAGE } from '../../src/api/dashboard/login.js';
import { NOT_BUILT, defaultDashboardDir } from '../../src/api/dashboard/static-files.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { hashDashboardSecret, newDashboardSecret } from '../../src/core/dashboard-tokens.js';
import { ID_PREFIX, newId } from '../../src/core/ids.js';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { createHostResolver } from '../../src/net/resolver.js';
import { openStore } from '../../src/store/open-store.js';
import type { KeyMode, NewDelivery, Store } from '../../src/store/store.js';
import { capturedLogger } from '../support/captured-logger.js';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';
import { testDatabase } from '../support/test-database.js';
import { waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const FINAL = new Set(['delivered', 'dead_letter', 'rejected']);

/** A delivery to put straight into a store: a POST of no body to `target`, one attempt, unsigned. */
function oneAttemptDelivery(id: string, account_id: string, mode: KeyMode, target: string, created_at: number): NewDelivery {
  return {
    id,
    account_id,
    mode,
    target,
    origin: new URL(target).origin,
    method: 'POST',
    headers: {},
    body: null,
    policy: { ...DEFAULT_POLICY, max_attempts: 1 },
    idempotency_key: null,
    metadata: null,
    sign: false,
    created_at,
  };
}

/** One GET with its path exactly as given (no client-side dot-segment resolution), on loopback. */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

interface Session {
  id: string;
  csrf: string;
  cookie: string;
  setCookie: string;
}

describe('dashboard server', () => {
  const lines: string[] = [];
  /** Login tokens, session ids and CSRF tokens seen in this run: none may reach a log or an error body. */
  const secrets: string[] = [];
  const errorBodies: string[] = [];
  let stack: Stack;
  let acct: TestAccount;
  let live: Session;
  let staticDir: string;

  const call = async (...args: Parameters<Stack['api']>): Promise<ApiResponse> => {
    const r = await stack.api(...args);
    if (r.status >= 400) errorBodies.push(r.text);
    return r;
  };

  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;
  const pathOf = (url: string) => {
    const u = new URL(url);
    return u.pathname + u.search;
  };

  /** What the sign-in page's button does: POST the token, from this site's own page. */
  const redeem = (token: string, headers: Record<string, string> = { origin: stack.hp.url! }) =>
    call('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  /** A login link for (account, mode), opened and signed in through HTTP: the session it opens. */
  async function signIn(accountId: string, mode: KeyMode = 'live'): Promise<Session> {
    const link = await issueLoginLink(stack.hp.store, accountId, mode, stack.hp.url!);
    secrets.push(tokenOf(link.url));
    const page = await call('GET', pathOf(link.url));
    assert.equal(page.status, 200, page.text);
    const r = await redeem(tokenOf(link.url));
    assert.equal(r.status, 303, r.text);
    const setCookie = String(r.headers['set-cookie']);
    const id = /^harepost_session=([^;]+);/.exec(setCookie)?.[1];
    assert.ok(id, setCookie);
    const cookie = `harepost_session=${id}`;
    const s = await call('GET', '/dashboard/api/session', { headers: { cookie } });
    assert.equal(s.status, 200, s.text);
    secrets.push(id, s.body.csrf_token);
    return { id, csrf: s.body.csrf_token, cookie, setCookie };
  }

  /** Calls /dashboard/api<path> as `session`; unsafe methods carry its CSRF token unless `csrf` says otherwise. */
  function dash(method: string, path: string, session: Session | null, o: { body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...o.headers };
    if (session) headers.cookie = session.cookie;
    const csrf = o.csrf === undefined ? (session && !['GET', 'HEAD'].includes(method) ? session.csrf : null) : o.csrf;
    if (csrf !== null) headers['x-csrf-token'] = csrf;
    return call(method, `/dashboard/api${path}`, { headers, ...(o.body !== undefined ? { body: o.body } : {}) });
  }

  const deps = (rate = 100_000): ApiDeps => ({
    store: stack.hp.store,
    addressPolicy: createAddressPolicy(),
    resolver: createHostResolver(),
    allowHttpTargets: false,
    maxBodyBytes: 1024 * 1024,
    rateLimitPerSecond: rate,
    rateLimitBurst: rate,
    attempt: () => Promise.reject(new Error('this app never attempts anything')),
  });

  /** An app of its own (same store), with every route it registers recorded. */
  async function appWith(options: ApiOptions = {}, rate?: number) {
    const routes: Array<{ method: string; url: string }> = [];
    const app = buildApi(deps(rate), undefined, { dashboardDir: staticDir, ...options });
    app.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url! });
    });
    await app.ready();
    return { app, routes };
  }

  const apps: FastifyInstance[] = [];

  before(async () => {
    stack = await startStack({ logger: capturedLogger(lines) });
    stack.receiver.respond((req) => {
      if (req.path.startsWith('/fail')) return { status: 500, body: 'no' };
      if (req.path.startsWith('/reject')) return { status: 400, body: 'bad' };
      return { status: 200, body: 'ok' };
    });
    acct = await stack.createAccount('dashboard');
    await stack.verifyDomain(acct.live_key, 'example.test');
    live = await signIn(acct.account_id, 'live');

    staticDir = mkdtempSync(join(stack.dir, 'dashboard-'));
    mkdirSync(join(staticDir, 'assets'));
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Harepost</title><script type="module" src="/dashboard/assets/index-AbCd1234.js"></script>');
    writeFileSync(join(staticDir, 'assets', 'index-AbCd1234.js'), 'console.log("dashboard");');
    writeFileSync(join(staticDir, 'assets', 'index-AbCd1234.js.map'), '{"version":3}');
    writeFileSync(join(staticDir, 'assets', 'index-Zq9xY8wv.css'), 'body{margin:0}');
    writeFileSync(join(staticDir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(staticDir, 'assets', 'favicon.ico'), Buffer.from([0, 0, 1, 0]));
    writeFileSync(join(staticDir, 'assets', 'mark.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    writeFileSync(join(staticDir, 'assets', 'inter-Ab12Cd34.woff2'), Buffer.from('wOF2'));
    writeFileSync(join(staticDir, 'assets', 'notes.exe'), 'MZ');
    writeFileSync(join(staticDir, 'secret.txt'), 'TOP-SECRET-OUTSIDE-ASSETS');
  });

  after(async () => {
    for (const app of apps) await app.close();
    await stack.close();
  });

  describe('login links', () => {
    it('opening a link spends nothing: it shows a sign-in button that posts the token', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      secrets.push(tokenOf(link.url));
      for (let i = 0; i < 3; i++) {
        const opened = await call('GET', pathOf(link.url));
        assert.equal(opened.status, 200, opened.text);
        assert.match(String(opened.headers['content-type']), /^text\/html/);
        assert.equal(opened.headers['cache-control'], 'no-store');
        assert.equal(opened.headers['set-cookie'], undefined);
        assert.ok(opened.text.includes('<form method="post" action="/dashboard/login">'));
        assert.ok(opened.text.includes(`name="token" value="${tokenOf(link.url)}"`));
        assert.doesNotMatch(opened.text, /<script/i);
      }
      const r = await redeem(tokenOf(link.url));
      assert.equal(r.status, 303, 'still good after being opened three times');
      secrets.push(/^harepost_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!);
    });

    it('the sign-in POST must come from this site (login CSRF): another Origin, or none, is refused', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      const token = tokenOf(link.url);
      secrets.push(token);
      const refused: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'null' },
        {},
        { origin: 'http://127.0.0.1:1' },
        { 'sec-fetch-site': 'cross-site', origin: 'null' },
        { 'sec-fetch-site': 'same-site', origin: 'null' },
        // a browser's own word wins over an Origin that happens to match
        { 'sec-fetch-site': 'cross-site', origin: stack.hp.url! },
      ];
      for (const headers of refused) {
        const r = await redeem(token, headers);
        assert.equal(r.status, 403, JSON.stringify(headers));
        assert.equal(r.text, CROSS_SITE_PAGE);
        assert.equal(r.headers['set-cookie'], undefined);
      }
      // what a browser sends from the sign-in page under Referrer-Policy: no-referrer
      const r = await redeem(token, { 'sec-fetch-site': 'same-origin', origin: 'null' });
      assert.equal(r.status, 303, 'the refused attempts did not use the link up');
      secrets.push(/^harepost_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!);
    });

    it('a link signs in once: 303 to /dashboard/ with an HttpOnly, SameSite=Strict session cookie for 12 h', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      assert.match(link.url, new RegExp(`^${stack.hp.url}/dashboard/login\\?token=[A-Za-z0-9_-]{43}$`));
      assert.ok(Math.abs(link.expires_at - (Date.now() + 15 * MINUTE)) < 5_000, 'valid 15 minutes');
      secrets.push(tokenOf(link.url));
      const head = await call('HEAD', pathOf(link.url));
      assert.equal(head.status, 404, "a link checker's HEAD does not use the link up");
      const r = await redeem(tokenOf(link.url));
      assert.equal(r.status, 303, r.text);
      assert.equal(r.headers.location, '/dashboard/');
      assert.match(
        String(r.headers['set-cookie']),
        /^harepost_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/dashboard; Max-Age=43200$/,
        'no Secure over plain http',
      );
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
      secrets.push(/^harepost_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!);

      const again = await redeem(tokenOf(link.url));
      assert.equal(again.status, 401, 'a second use fails');
      assert.match(String(again.headers['content-type']), /^text\/html/);
      assert.equal(again.text, LINK_REFUSED_PAGE);
      assert.match(again.text, /new link/);
      assert.equal(again.headers['set-cookie'], undefined);
    });

    it('two browsers racing on one link: exactly one gets a session', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      secrets.push(tokenOf(link.url));
      const results = await Promise.all(Array.from({ length: 6 }, () => redeem(tokenOf(link.url))));
      assert.deepEqual(results.map((r) => r.status).sort(), [303, 401, 401, 401, 401, 401]);
      for (const r of results) if (r.status === 303) secrets.push(/^harepost_session=([^;]+)/.exec(String(r.headers['set-cookie']))![1]!);
    });

    it('an expired link, an unknown one, a malformed one and none at all get the same 401 page on sign-in', async () => {
      const now = Date.now();
      const expired = newDashboardSecret();
      secrets.push(expired);
      await stack.hp.store.createLoginToken({
        token_hash: hashDashboardSecret(expired),
        account_id: acct.account_id,
        mode: 'live',
        created_at: now - 20 * MINUTE,
        expires_at: now - 5 * MINUTE,
      });
      const unknown = newDashboardSecret();
      secrets.push(unknown);
      // the page a malformed link (or none) opens says so at once; a well-formed one is judged on sign-in
      for (const path of ['/dashboard/login?token=short', `/dashboard/login?token=${expired}&token=${expired}`, '/dashboard/login']) {
        const r = await call('GET', path);
        assert.equal(r.status, 401, path);
        assert.equal(r.text, LINK_REFUSED_PAGE, path);
        assert.equal(r.headers['set-cookie'], undefined, path);
      }
      for (const token of [expired, unknown, 'short', '']) {
        const r = await redeem(token);
        assert.equal(r.status, 401, token);
        assert.equal(r.text, LINK_REFUSED_PAGE, token);
        assert.equal(r.headers['set-cookie'], undefined, token);
      }
    });

    it('the cookie is Secure when the request came over https (directly or through a TLS proxy)', () => {
      const over = (protocol: string, headers: Record<string, string> = {}) =>
        sessionCookie({ protocol, headers } as unknown as FastifyRequest, 'abc');
      const secure = 'harepost_session=abc; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=43200; Secure';
      const plain = 'harepost_session=abc; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=43200';
      assert.equal(over('https'), secure);
      assert.equal(over('http'), plain);
      // a proxy that ended TLS says so; the header can only make the cookie stricter
      assert.equal(over('http', { 'x-forwarded-proto': 'https' }), secure);
      assert.equal(over('http', { 'x-forwarded-proto': 'https, http' }), secure);
      assert.equal(over('http', { 'x-forwarded-proto': 'http' }), plain);
    });
  });

  describe('sessions', () => {
    it('GET /dashboard/api/session: account, mode, CSRF token and when it ends (12 h after sign-in)', async () => {
      const r = await dash('GET', '/session', live);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body).sort(), ['account_id', 'csrf_token', 'expires_at', 'mode']);
      assert.equal(r.body.account_id, acct.account_id);
      assert.equal(r.body.mode, 'live');
      assert.equal(r.body.csrf_token, live.csrf);
      assert.match(r.body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(r.body.csrf_token, live.id);
      const ends = Date.parse(r.body.expires_at);
      assert.ok(Math.abs(ends - (Date.now() + 12 * HOUR)) < 60_000, r.body.expires_at);
      assert.equal(r.headers['cache-control'], 'no-store');
    });

    it('a session past its 12 hours is refused (401), like an unknown one', async () => {
      const now = Date.now();
      const token = newDashboardSecret();
      const id = newDashboardSecret();
      secrets.push(token, id);
      await stack.hp.store.createLoginToken({
        token_hash: hashDashboardSecret(token),
        account_id: acct.account_id,
        mode: 'live',
        created_at: now,
        expires_at: now + MINUTE,
      });
      const opened = await stack.hp.store.redeemLoginToken(
        hashDashboardSecret(token),
        { id_hash: hashDashboardSecret(id), csrf_token: newDashboardSecret(), created_at: now - 13 * HOUR, expires_at: now - HOUR },
        now,
      );
      assert.ok(opened);
      const r = await call('GET', '/dashboard/api/session', { headers: { cookie: `harepost_session=${id}` } });
      assert.equal(r.status, 401, r.text);
      assert.equal(r.body.error.code, 'unauthorized');
      const bogus = await call('GET', '/dashboard/api/session', { headers: { cookie: `other=1; harepost_session=${newDashboardSecret()}` } });
      assert.equal(bogus.status, 401);
    });

    it('the session cookie is read as sent: a percent-encoded session id is not that session', async () => {
      const i = live.id.search(/[A-Za-z]/);
      const encoded = `${live.id.slice(0, i)}%${live.id.charCodeAt(i).toString(16).toUpperCase()}${live.id.slice(i + 1)}`;
      const r = await call('GET', '/dashboard/api/session', { headers: { cookie: `harepost_session=${encoded}` } });
      assert.equal(r.status, 401, r.text);
      const first = await call('GET', '/dashboard/api/session', { headers: { cookie: `a=1; harepost_session=${live.id}; harepost_session=x` } });
      assert.equal(first.status, 200, 'the first harepost_session cookie counts');
    });

    it('only hashes are stored: the session id and login token are not in the store', async () => {
      const direct = await stack.hp.store.getDashboardSession(live.id, Date.now());
      assert.equal(direct, null, 'looked up by its plain id, the session is not found');
      const byHash = await stack.hp.store.getDashboardSession(hashDashboardSecret(live.id), Date.now());
      assert.equal(byHash?.account_id, acct.account_id);
    });

    it('logout needs the CSRF token, then ends the session and clears the cookie', async () => {
      const s = await signIn(acct.account_id);
      const refused = await dash('POST', '/logout', s, { csrf: null });
      assert.equal(refused.status, 403);
      assert.equal((await dash('GET', '/session', s)).status, 200, 'still signed in');
      const out = await dash('POST', '/logout', s);
      assert.equal(out.status, 204, out.text);
      assert.equal(out.text, '');
      assert.equal(String(out.headers['set-cookie']), 'harepost_session=; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age=0');
      assert.equal((await dash('GET', '/session', s)).status, 401);
      assert.equal((await dash('GET', '/v1/deliveries', s)).status, 401);
    });

    it('the same per-session rate limit as the API: 429 with Retry-After, other sessions unaffected', async () => {
      const { app } = await appWith({}, 2);
      apps.push(app);
      const a = await signIn(acct.account_id);
      const b = await signIn(acct.account_id);
      const get = (s: Session) => app.inject({ method: 'GET', url: '/dashboard/api/session', headers: { cookie: s.cookie } });
      assert.equal((await get(a)).statusCode, 200);
      assert.equal((await get(a)).statusCode, 200);
      const limited = await get(a);
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal((await get(b)).statusCode, 200);
    });
  });

  describe('/dashboard/api', () => {
    let routes: Array<{ method: string; url: string }>;
    let app: FastifyInstance;

    before(async () => {
      const built = await appWith();
      routes = built.routes;
      app = built.app;
      apps.push(app);
    });

    it('serves the /v1 routes (the same list, less API-key management) beside session, logout and overview', () => {
      const under = (prefix: string) => routes.filter((r) => r.url.startsWith(prefix) && r.method !== 'HEAD');
      const v1 = under('/v1/');
      assert.ok(v1.length >= 30, `${v1.length} /v1 routes`);
      const expected = v1
        .filter((r) => !r.url.startsWith('/v1/keys'))
        .map((r) => `${r.method} /dashboard/api${r.url}`)
        .sort();
      const served = under('/dashboard/api/v1/').map((r) => `${r.method} ${r.url}`).sort();
      assert.deepEqual(served, expected);
      assert.ok(!served.some((r) => r.includes('/keys')), 'no key management for a browser session');
      const own = under('/dashboard/api/').filter((r) => !r.url.startsWith('/dashboard/api/v1/'));
      assert.deepEqual(own.map((r) => `${r.method} ${r.url}`).sort(), [
        'GET /dashboard/api/overview',
        'GET /dashboard/api/session',
        'POST /dashboard/api/logout',
        'POST /dashboard/api/session/mode',
      ]);
    });

    it('every /dashboard/api route is 401 without a session — with no cookie, a bogus one, or an API key', async () => {
      const walked = routes.filter((r) => r.url.startsWith('/dashboard/api/'));
      assert.ok(walked.length >= 30);
      const key = `Bearer ${acct.live_key}`;
      for (const { method, url } of walked) {
        const path = url.replace(/:([A-Za-z0-9_]+)/g, 'x');
        for (const headers of [
          {},
          { cookie: `harepost_session=${newDashboardSecret()}`, 'x-csrf-token': live.csrf },
          { authorization: key, 'x-csrf-token': live.csrf },
          { 'x-api-key': acct.live_key },
          { cookie: 'harepost_session=not-a-session' },
        ]) {
          const r = await app.inject({ method: method as 'GET', url: path, headers });
          assert.equal(r.statusCode, 401, `${method} ${path} with ${Object.keys(headers).join(',') || 'nothing'}: ${r.body}`);
          if (method !== 'HEAD') assert.equal(r.json().error.code, 'unauthorized');
        }
      }
    });

    it('an API key is not accepted under /dashboard/api, and the session cookie is not accepted under /v1', async () => {
      const byKey = await call('GET', '/dashboard/api/v1/deliveries', { key: acct.live_key });
      assert.equal(byKey.status, 401);
      const byCookie = await call('GET', '/v1/deliveries', { headers: { cookie: live.cookie } });
      assert.equal(byCookie.status, 401);
      assert.equal(byCookie.body.error.code, 'unauthorized');
      const both = await call('GET', '/dashboard/api/v1/deliveries', { key: acct.live_key, headers: { cookie: live.cookie } });
      assert.equal(both.status, 200, 'the cookie decides, the key is ignored');
    });

    it('a change without the X-CSRF-Token header, or with a wrong one, is 403; with the right one it is made', async () => {
      const body = { domain: 'csrf.example.test' };
      for (const csrf of [null, '', 'wrong', newDashboardSecret(), `${live.csrf}x`]) {
        const r = await dash('POST', '/v1/domains', live, { body, csrf });
        assert.equal(r.status, 403, `csrf ${String(csrf)}: ${r.text}`);
        assert.equal(r.body.error.code, 'csrf_token_invalid');
        assert.match(r.body.error.message, /X-CSRF-Token/);
      }
      const other = await signIn(acct.account_id);
      assert.equal((await dash('POST', '/v1/domains', live, { body, csrf: other.csrf })).status, 403, "another session's token");
      const listed = await dash('GET', '/v1/domains', live);
      assert.ok(!listed.body.data.some((d: { domain: string }) => d.domain === body.domain), 'nothing was made');
      const made = await dash('POST', '/v1/domains', live, { body });
      assert.equal(made.status, 201, made.text);
      const removed = await dash('DELETE', '/v1/domains/csrf.example.test', live, { csrf: null });
      assert.equal(removed.status, 403);
      assert.equal((await dash('DELETE', '/v1/domains/csrf.example.test', live)).status, 200);
    });

    it('answers as /v1 does: the same shapes and errors', async () => {
      const sent = await dash('POST', '/v1/send', live, { body: { target: stack.target('/same'), body: { a: 1 } } });
      assert.equal(sent.status, 202, sent.text);
      const viaKey = await call('GET', `/v1/deliveries/${sent.body.queue_id}`, { key: acct.live_key });
      const viaSession = await dash('GET', `/v1/deliveries/${sent.body.queue_id}`, live);
      assert.deepEqual(Object.keys(viaSession.body).sort(), Object.keys(viaKey.body).sort());
      assert.equal(viaSession.body.queue_id, viaKey.body.queue_id);
      const bad = await dash('POST', '/v1/send', live, { body: { body: 'x' } });
      const badKey = await call('POST', '/v1/send', { key: acct.live_key, body: { body: 'x' } });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, badKey.body);
      const missing = await dash('GET', '/v1/deliveries/hr_nope', live);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, (await call('GET', '/v1/deliveries/hr_nope', { key: acct.live_key })).body);
    });

    it('a test-mode session sees only test-mode data, a live one only live', async () => {
      const test = await signIn(acct.account_id, 'test');
      assert.equal((await dash('GET', '/session', test)).body.mode, 'test');
      const liveId = (await call('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/m-live') } })).body.queue_id;
      const testId = (await call('POST', '/v1/send', { key: acct.test_key, body: { target: stack.target('/m-test') } })).body.queue_id;
      const asTest = await dash('GET', '/v1/deliveries?limit=100', test);
      const testIds = asTest.body.data.map((d: { queue_id: string }) => d.queue_id);
      assert.ok(testIds.includes(testId));
      assert.ok(!testIds.includes(liveId));
      assert.equal((await dash('GET', `/v1/deliveries/${liveId}`, test)).status, 404);
      const asLive = await dash('GET', '/v1/deliveries?limit=100', live);
      const liveIds = asLive.body.data.map((d: { queue_id: string }) => d.queue_id);
      assert.ok(liveIds.includes(liveId));
      assert.ok(!liveIds.includes(testId));
      assert.equal((await dash('GET', `/v1/deliveries/${testId}`, live)).status, 404);
    });

    it('is not in /openapi.json', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
      assert.ok(Object.keys(doc.paths).length >= 20);
      assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/dashboard')), []);
    });

    it('a worker process (no API routes) has no dashboard either', async () => {
      const { app: worker } = await appWith({ apiRoutes: false });
      apps.push(worker);
      for (const url of ['/dashboard', '/dashboard/', '/dashboard/login?token=x', '/dashboard/api/session', '/dashboard/assets/logo.svg']) {
        assert.equal((await worker.inject({ method: 'GET', url })).statusCode, 404, url);
      }
    });
  });

  describe('overview', () => {
    it('counts the last hour: deliveries by status, dead letters, and attempts in 12 five-minute buckets', async () => {
      const ov = await stack.createAccount('overview');
      await stack.verifyDomain(ov.live_key, 'example.test');
      const session = await signIn(ov.account_id, 'live');
      const testSession = await signIn(ov.account_id, 'test');
      const empty = await dash('GET', '/overview', session);
      assert.equal(empty.status, 200, empty.text);
      assert.deepEqual(empty.body.deliveries, { accepted: 0, retrying: 0, delivered: 0, dead_letter: 0, rejected: 0 });
      assert.equal(empty.body.dead_letter_count, 0);
      assert.equal(empty.body.series.length, 12);
      assert.ok(empty.body.series.every((b: { attempts: number; failures: number }) => b.attempts === 0 && b.failures === 0));

      const send = async (key: string, path: string) => {
        const r = await call('POST', '/v1/send', { key, body: { target: stack.target(path), delivery: { max_attempts: 1 } } });
        assert.equal(r.status, 202, r.text);
        return r.body.queue_id as string;
      };
      const ids = [
        ...(await Promise.all([1, 2, 3].map((i) => send(ov.live_key, `/ok/${i}`)))),
        ...(await Promise.all([1, 2].map((i) => send(ov.live_key, `/fail/${i}`)))),
        await send(ov.live_key, '/reject/1'),
      ];
      const testId = await send(ov.test_key, '/fail/test');
      // created two hours ago: its attempt happens now (counted), but it was not accepted in the last hour
      const old = oneAttemptDelivery(newId(ID_PREFIX.delivery), ov.account_id, 'live', stack.target('/ok/old'), Date.now() - 2 * HOUR);
      await stack.hp.store.enqueueDeliveries(ov.account_id, 'live', [old]);
      const details = await waitFor(
        async () => {
          const all = await Promise.all([...ids, old.id].map((id) => stack.hp.store.getDelivery(ov.account_id, 'live', id)));
          return all.every((d) => d && FINAL.has(d.delivery.status)) ? all.map((d) => d!) : null;
        },
        { message: 'deliveries did not finish' },
      );
      await waitFor(async () => (await stack.hp.store.getDelivery(ov.account_id, 'test', testId))?.delivery.status === 'dead_letter');

      const r = await dash('GET', '/overview', session);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body).sort(), ['dead_letter_count', 'deliveries', 'series', 'since', 'until']);
      const since = Date.parse(r.body.since);
      const until = Date.parse(r.body.until);
      assert.equal(since % MINUTE, 0, 'the window starts on a whole minute');
      assert.ok(until - since > HOUR - MINUTE && until - since <= HOUR, 'the 60 minutes ending with the current one');
      assert.ok(Math.abs(until - Date.now()) < 10_000);
      // accepted in the window; and the status each attempt left its delivery in
      assert.deepEqual(r.body.deliveries, { accepted: 6, retrying: 0, delivered: 4, dead_letter: 2, rejected: 1 });
      assert.equal(r.body.dead_letter_count, 2);
      assert.equal(r.body.series.length, 12);
      const expected = Array.from({ length: 12 }, (_, i) => ({ at: new Date(since + i * 5 * MINUTE).toISOString(), attempts: 0, failures: 0 }));
      for (const { attempts } of details) {
        for (const a of attempts) {
          const slot = expected[Math.floor((a.created_at - since) / (5 * MINUTE))]!;
          slot.attempts++;
          if (a.outcome !== 'delivered') slot.failures++;
        }
      }
      assert.deepEqual(r.body.series, expected);
      const total = r.body.series.reduce((n: number, b: { attempts: number }) => n + b.attempts, 0);
      const failures = r.body.series.reduce((n: number, b: { failures: number }) => n + b.failures, 0);
      assert.equal(total, 7, 'six deliveries of the last hour and the old one, one attempt each');
      assert.equal(failures, 3);

      const t = await dash('GET', '/overview', testSession);
      assert.deepEqual(t.body.deliveries, { accepted: 1, retrying: 0, delivered: 0, dead_letter: 1, rejected: 0 });
      assert.equal(t.body.dead_letter_count, 1);
      assert.equal(t.body.series.reduce((n: number, b: { attempts: number }) => n + b.attempts, 0), 1);
    });

    it('the store: window edges (since included, until not), buckets by attempt time, other accounts and modes apart', async () => {
      const db = await testDatabase(mkdtempSync(join(stack.dir, 'overview-')));
      const store: Store = openStore(db.url);
      try {
        await store.migrate();
        for (const id of ['acct_ov_a', 'acct_ov_b']) await store.createAccount({ id, name: id, created_at: 1 });
        const T0 = 28_333_334 * MINUTE; // a whole minute, as the route's windows are
        const bucket_ms = 5 * MINUTE;
        const make = (n: number, created_at: number, account_id = 'acct_ov_a', mode: KeyMode = 'live') =>
          oneAttemptDelivery(`hr_ov_${n}`, account_id, mode, 'https://a.example.test/hook', created_at);
        const plan = [
          { d: make(1, T0 - 1), at: T0, outcome: 'delivered', status: 'delivered' },
          { d: make(2, T0), at: T0 + bucket_ms - 1, outcome: 'failed', status: 'dead_letter' },
          { d: make(3, T0 + HOUR - 1), at: T0 + bucket_ms, outcome: 'timeout', status: 'rejected' },
          { d: make(4, T0 + HOUR), at: T0 + HOUR, outcome: 'failed', status: 'dead_letter' },
          { d: make(5, T0 + 10, 'acct_ov_b'), at: T0 + 10, outcome: 'failed', status: 'dead_letter' },
          { d: make(6, T0 + 10, 'acct_ov_a', 'test'), at: T0 + 11 * bucket_ms, outcome: 'failed', status: 'dead_letter' },
          { d: make(7, T0 + 20), at: T0 + 11 * bucket_ms + 1, outcome: 'delivered', status: 'delivered' },
        ] as const;
        for (const p of plan) await store.enqueueDeliveries(p.d.account_id, p.d.mode, [p.d]);
        const claimed = await store.claimDue({
          now: T0 + 2 * HOUR,
          limit: 100,
          owner: 'overview-test',
          leaseMarginMs: 1000,
          excludeOrigins: [],
          secretsRetiredAfter: 0,
        });
        assert.equal(claimed.length, plan.length);
        await store.recordAttempts(
          plan.map((p) => ({
            delivery_id: p.d.id,
            lease_token: claimed.find((c) => c.id === p.d.id)!.lease_token,
            attempt: { attempt: 1, outcome: p.outcome, http_status: null, latency_ms: 5, error: null, response_excerpt: null, created_at: p.at },
            status: p.status,
            next_attempt_at: null,
          })),
        );
        const window = { since: T0, until: T0 + HOUR, bucket_ms, buckets: 12 };
        const buckets = (set: Record<number, { attempts: number; failures: number }>) =>
          Array.from({ length: 12 }, (_, i) => set[i] ?? { attempts: 0, failures: 0 });
        const counts = await store.dashboardOverview('acct_ov_a', 'live', window);
        // accepted: #2, #3 and #7 (#1 before the window, #4 at its end); attempts' statuses by attempt time
        assert.deepEqual(counts.totals, { accepted: 3, delivered: 2, retrying: 0, rejected: 1, dead_letter: 1 });
        assert.equal(counts.dead_letter, 2, 'every dead letter of the account and mode, whenever made');
        assert.deepEqual(
          counts.attempt_buckets,
          buckets({ 0: { attempts: 2, failures: 1 }, 1: { attempts: 1, failures: 1 }, 11: { attempts: 1, failures: 0 } }),
        );
        const test = await store.dashboardOverview('acct_ov_a', 'test', window);
        assert.deepEqual(test.totals, { accepted: 1, delivered: 0, retrying: 0, rejected: 0, dead_letter: 1 });
        assert.deepEqual(test.attempt_buckets, buckets({ 11: { attempts: 1, failures: 1 } }));
      } finally {
        await store.close();
        await db.drop();
      }
    });
  });

  describe('deliveries for the dashboard', () => {
    it('GET /v1/deliveries?idempotency_key= lists exactly those deliveries, newest first, paged', async () => {
      const send = async (key: string, idempotency_key?: string) => {
        const r = await call('POST', '/v1/send', {
          key,
          body: { target: stack.target('/idem'), body: 'x', ...(idempotency_key !== undefined ? { idempotency_key } : {}) },
        });
        assert.equal(r.status, 202, r.text);
        return r.body.queue_id as string;
      };
      const k1a = await send(acct.live_key, 'order-1 paid');
      await send(acct.live_key, 'order-2');
      const k1b = await send(acct.live_key, 'order-1 paid');
      await send(acct.live_key);
      await send(acct.live_key, 'order-1 PAID');
      await send(acct.test_key, 'order-1 paid');
      const q = encodeURIComponent('order-1 paid');
      const all = await call('GET', `/v1/deliveries?idempotency_key=${q}`, { key: acct.live_key });
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(all.body.data.map((d: { queue_id: string }) => d.queue_id), [k1b, k1a]);
      assert.equal(all.body.next_cursor, null);
      const first = await call('GET', `/v1/deliveries?idempotency_key=${q}&limit=1`, { key: acct.live_key });
      assert.deepEqual(first.body.data.map((d: { queue_id: string }) => d.queue_id), [k1b]);
      const second = await call('GET', `/v1/deliveries?idempotency_key=${q}&limit=1&cursor=${encodeURIComponent(first.body.next_cursor)}`, {
        key: acct.live_key,
      });
      assert.deepEqual(second.body.data.map((d: { queue_id: string }) => d.queue_id), [k1a]);
      assert.equal(second.body.next_cursor, null);
      const viaDashboard = await dash('GET', `/v1/deliveries?idempotency_key=${q}&status=queued`, live);
      assert.equal(viaDashboard.status, 200);
      assert.ok(viaDashboard.body.data.every((d: { idempotency_key: string }) => d.idempotency_key === 'order-1 paid'));
      assert.deepEqual((await call('GET', '/v1/deliveries?idempotency_key=nobody', { key: acct.live_key })).body.data, []);
      const bad = await call('GET', '/v1/deliveries?idempotency_key=a%00b', { key: acct.live_key });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'idempotency_key');
    });

    it('GET /v1/deliveries/{id} shows the request as sent (headers and body), never a signature or secret', async () => {
      const r = await call('POST', '/v1/send', {
        key: acct.live_key,
        body: { target: stack.target('/req'), headers: { 'X-Order': '42' }, body: { order: 42 }, sign: true },
      });
      const d = await call('GET', `/v1/deliveries/${r.body.queue_id}`, { key: acct.live_key });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.body.request, { headers: { 'X-Order': '42', 'Content-Type': 'application/json' }, body: '{"order":42}' });
      const secret = (await call('GET', '/v1/signing-secret', { key: acct.live_key })).body.secret as string;
      assert.ok(!d.text.includes(secret));
      assert.ok(!/webhook-signature/i.test(d.text));
      const viaDashboard = await dash('GET', `/v1/deliveries/${r.body.queue_id}`, live);
      assert.deepEqual(viaDashboard.body.request, d.body.request);
      const get = await call('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/req-get'), method: 'GET' } });
      const noBody = await call('GET', `/v1/deliveries/${get.body.queue_id}`, { key: acct.live_key });
      assert.equal(noBody.body.request.body, null);
    });
  });

  describe('the front-end files', () => {
    let app: FastifyInstance;
    before(async () => {
      app = (await appWith()).app;
      apps.push(app);
    });
    const get = (url: string, method: 'GET' | 'HEAD' = 'GET') => app.inject({ method, url });
    const SECURITY = {
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    };

    it('serves index.html at /dashboard and /dashboard/, never cached, with the security headers', async () => {
      for (const url of ['/dashboard', '/dashboard/']) {
        const r = await get(url);
        assert.equal(r.statusCode, 200, url);
        assert.match(String(r.headers['content-type']), /^text\/html; charset=utf-8/);
        assert.equal(r.headers['cache-control'], 'no-store');
        assert.match(r.body, /<title>Harepost<\/title>/);
        for (const [name, value] of Object.entries(SECURITY)) assert.equal(r.headers[name], value, `${url} ${name}`);
      }
    });

    it("sends exactly these security headers: none of helmet's others (HSTS, COOP, CORP, …)", async () => {
      const others = [
        'strict-transport-security',
        'cross-origin-opener-policy',
        'cross-origin-resource-policy',
        'cross-origin-embedder-policy',
        'origin-agent-cluster',
        'x-dns-prefetch-control',
        'x-download-options',
        'x-permitted-cross-domain-policies',
        'x-xss-protection',
        'content-security-policy-report-only',
      ];
      for (const url of ['/dashboard/', '/dashboard/assets/index-AbCd1234.js', '/dashboard/assets/missing.js', '/dashboard/login', '/dashboard/api/session']) {
        const r = await get(url);
        for (const [name, value] of Object.entries(SECURITY)) assert.equal(r.headers[name], value, `${url} ${name}`);
        for (const name of others) assert.equal(r.headers[name], undefined, `${url} ${name}`);
      }
    });

    it('serves assets with their content types: hashed names cached for a year, others revalidated', async () => {
      const cases: Array<[string, RegExp, string]> = [
        ['index-AbCd1234.js', /^text\/javascript; charset=utf-8$/, 'public, max-age=31536000, immutable'],
        ['index-AbCd1234.js.map', /^application\/json; charset=utf-8$/, 'public, max-age=31536000, immutable'],
        ['index-Zq9xY8wv.css', /^text\/css; charset=utf-8$/, 'public, max-age=31536000, immutable'],
        ['inter-Ab12Cd34.woff2', /^font\/woff2$/, 'public, max-age=31536000, immutable'],
        ['logo.svg', /^image\/svg\+xml$/, 'no-cache'],
        ['favicon.ico', /^image\/x-icon$/, 'no-cache'],
        ['mark.png', /^image\/png$/, 'no-cache'],
      ];
      for (const [name, type, cache] of cases) {
        const r = await get(`/dashboard/assets/${name}`);
        assert.equal(r.statusCode, 200, name);
        assert.match(String(r.headers['content-type']), type, name);
        assert.equal(r.headers['cache-control'], cache, name);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', name);
      }
      assert.equal((await get('/dashboard/assets/index-AbCd1234.js')).body, 'console.log("dashboard");');
      const head = await get('/dashboard/assets/index-AbCd1234.js', 'HEAD');
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
    });

    it('404s a missing asset, an unknown file type and every path traversal attempt', async () => {
      for (const url of [
        '/dashboard/assets/missing.js',
        '/dashboard/assets/notes.exe',
        '/dashboard/assets/..%2f..%2fpackage.json',
        '/dashboard/assets/..%2fsecret.txt',
        '/dashboard/assets/%2e%2e%2fsecret.txt',
        '/dashboard/assets/..%5csecret.txt',
        '/dashboard/assets/.hidden.js',
        '/dashboard/assets/%2fetc%2fpasswd',
        '/dashboard/assets/index-AbCd1234.js%00.png',
        '/dashboard/secret.txt',
        '/dashboard/index.html/..%2f..%2fsecret.txt',
      ]) {
        const r = await get(url);
        assert.ok(r.statusCode === 404 || r.statusCode === 400, `${url}: ${r.statusCode}`);
        assert.ok(!r.body.includes('TOP-SECRET') && !r.body.includes('"dependencies"'), url);
      }
      const real = await call('GET', '/dashboard/assets/..%2f..%2fpackage.json');
      assert.equal(real.status, 404, 'over real HTTP too');
    });

    it('404s dot segments sent as they are (clients normally resolve them before sending)', async () => {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      for (const path of ['/dashboard/assets/..', '/dashboard/assets/../secret.txt', '/dashboard/assets/../../package.json', '/dashboard/assets/%2e%2e', '/dashboard/assets/%2e%2e%2fsecret.txt', '/dashboard/assets/./logo.svg']) {
        const response = await rawGet(port, path);
        assert.match(response, /^HTTP\/1\.1 404 /, `${path}: ${response.slice(0, 200)}`);
        assert.ok(!response.includes('TOP-SECRET') && !response.includes('"dependencies"'), path);
      }
    });

    it('answers 503 "dashboard not built" when there is no index.html', async () => {
      const { app: unbuilt } = await appWith({ dashboardDir: join(stack.dir, 'no-such-dashboard') });
      apps.push(unbuilt);
      const r = await unbuilt.inject({ method: 'GET', url: '/dashboard/' });
      assert.equal(r.statusCode, 503);
      assert.equal(r.body, NOT_BUILT);
      assert.match(r.body, /^dashboard not built: run npm run build/);
      assert.equal((await unbuilt.inject({ method: 'GET', url: '/dashboard/assets/index-AbCd1234.js' })).statusCode, 404);
    });

    it('finds dist/dashboard from the package root by default', () => {
      assert.equal(defaultDashboardDir(), join(ROOT, 'dist', 'dashboard'));
    });
  });

  it('no login token, session id or CSRF token ever reaches a log line or an error body', () => {
    assert.ok(secrets.length >= 20, `${secrets.length} secrets collected`);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const logins = parsed.filter((l) => l.msg === 'request' && l.route === '/dashboard/login');
    assert.ok(logins.length >= 5, 'the login requests were logged');
    for (const l of logins) assert.equal(l.path, '/dashboard/login');
    const logs = lines.join('');
    assert.ok(!logs.includes('token='), 'no query string with a token');
    const errors = errorBodies.join('\n');
    for (const s of secrets) {
      assert.ok(!logs.includes(s), `a dashboard secret (${s.slice(0, 6)}…) appeared in the logs`);
      assert.ok(!logs.includes(hashDashboardSecret(s)), 'nor its hash');
      assert.ok(!errors.includes(s), `a dashboard secret (${s.slice(0, 6)}…) appeared in an error body`);
    }
  });
});
