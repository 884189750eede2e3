/**
 * The dashboard as a customer's portal (HAREPOST_PORTAL_*): which sites may frame it (CSP
 * frame-ancestors), the session cookie that works inside a cross-site iframe (SameSite=None;
 * Secure; Partitioned) only when some site may, CSRF that stays strong with such a cookie, and
 * the portal's name and accent colour, escaped and validated, on every page. Without the
 * settings, nothing changes. (Signing in inside a real iframe in Chromium: test/browser/.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import { DEFAULT_PORTAL, type PortalSettings } from '../../src/api/dashboard/portal.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { loadConfig } from '../../src/config.js';
import { newDashboardSecret } from '../../src/core/dashboard-tokens.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { createHostResolver } from '../../src/net/resolver.js';
import type { KeyMode } from '../../src/store/store.js';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';

const PORTAL_ENV = {
  HAREPOST_PORTAL_FRAME_ANCESTORS: 'https://portal.example.com, http://localhost:3000',
  HAREPOST_PORTAL_TITLE: 'Acme <Hooks> & "Co"',
  HAREPOST_PORTAL_ACCENT: '#0A7D5A',
};
const FRAMED_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors https://portal.example.com http://localhost:3000";
const UNFRAMED_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
const EMBEDDED_COOKIE = /^harepost_session=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=None; Secure; Partitioned; Path=\/dashboard; Max-Age=(\d+)$/;
const STRICT_COOKIE = /^harepost_session=([A-Za-z0-9_-]{43}); HttpOnly; SameSite=Strict; Path=\/dashboard; Max-Age=(\d+)$/;
const ESCAPED_TITLE = 'Acme &#60;Hooks&#62; &#38; &#34;Co&#34;';

interface Session {
  cookie: string;
  csrf: string;
}

describe('dashboard: a portal other sites may frame, in its own name and colour', () => {
  let stack: Stack;
  let acct: TestAccount;
  let fixtureDir: string;
  /** The portal settings as loadConfig reads them from PORTAL_ENV. */
  let portal: PortalSettings;
  const apps: FastifyInstance[] = [];

  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

  /** An app of its own on the stack's store, with the portal given, and every route it registers. */
  async function appWith(p: PortalSettings) {
    const routes: Array<{ method: string; url: string }> = [];
    const deps: ApiDeps = {
      store: stack.hp.store,
      addressPolicy: createAddressPolicy(),
      resolver: createHostResolver(),
      allowHttpTargets: false,
      maxBodyBytes: 1024 * 1024,
      rateLimitPerSecond: 100_000,
      rateLimitBurst: 100_000,
      attempt: () => Promise.reject(new Error('this app never attempts anything')),
    };
    const app = buildApi(deps, undefined, { dashboardDir: fixtureDir, portal: p });
    app.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url! });
    });
    await app.ready();
    apps.push(app);
    return { app, routes };
  }

  /** The sign-in button's POST, from the sign-in page itself (inside the iframe, that is same-origin). */
  const redeem = (token: string, headers: Record<string, string> = { 'sec-fetch-site': 'same-origin', origin: 'null' }) =>
    stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });

  async function signIn(mode: KeyMode = 'live'): Promise<Session & { setCookie: string }> {
    const link = await issueLoginLink(stack.hp.store, acct.account_id, mode, stack.hp.url!);
    const r = await redeem(tokenOf(link.url));
    assert.equal(r.status, 303, r.text);
    const setCookie = String(r.headers['set-cookie']);
    const id = EMBEDDED_COOKIE.exec(setCookie)?.[1];
    assert.ok(id, setCookie);
    const cookie = `harepost_session=${id}`;
    const s = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
    assert.equal(s.status, 200, s.text);
    return { cookie, csrf: s.body.csrf_token, setCookie };
  }

  before(async () => {
    stack = await startStack({ env: PORTAL_ENV });
    acct = await stack.createAccount('portal');
    await stack.verifyDomain(acct.live_key, 'example.test');
    const config = loadConfig(PORTAL_ENV);
    portal = { frameAncestors: config.portalFrameAncestors, title: config.portalTitle, accent: config.portalAccent };
    fixtureDir = mkdtempSync(join(stack.dir, 'dashboard-'));
    mkdirSync(join(fixtureDir, 'assets'));
    writeFileSync(
      join(fixtureDir, 'index.html'),
      '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n<title>Harepost dashboard</title>\n<script type="module" src="/dashboard/assets/index-AbCd1234.js"></script>\n</head>\n<body><div id="app"></div></body>\n</html>\n',
    );
    writeFileSync(join(fixtureDir, 'assets', 'index-AbCd1234.js'), 'console.log("dashboard");');
  });

  after(async () => {
    for (const app of apps) await app.close();
    await stack?.close();
  });

  describe('framing', () => {
    it('every dashboard answer lets the configured origins frame it, and no other; no X-Frame-Options DENY', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      const session = await signIn();
      const answers = [
        await stack.api('GET', '/dashboard/'), // the front-end (503 until built: the headers are the same)
        await stack.api('GET', new URL(link.url).pathname + new URL(link.url).search), // the link's landing page
        await stack.api('GET', '/dashboard/login'), // a link that does not work
        await stack.api('GET', '/dashboard/api/session', { headers: { cookie: session.cookie } }),
        await stack.api('GET', '/dashboard/api/session'), // 401
        await stack.api('GET', '/dashboard/assets/missing.js'), // 404
      ];
      for (const r of answers) {
        assert.equal(r.headers['content-security-policy'], FRAMED_CSP, r.text.slice(0, 80));
        assert.equal(r.headers['x-frame-options'], undefined);
        assert.equal(r.headers['referrer-policy'], 'no-referrer');
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
      }
      assert.equal(answers[1]!.status, 200);
      assert.equal(answers[3]!.status, 200);
    });

    it('without HAREPOST_PORTAL_FRAME_ANCESTORS, no site may frame it, as before', async () => {
      const { app } = await appWith(DEFAULT_PORTAL);
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      for (const url of ['/dashboard/', new URL(link.url).pathname + new URL(link.url).search, '/dashboard/api/session']) {
        const r = await app.inject({ method: 'GET', url });
        assert.equal(r.headers['content-security-policy'], UNFRAMED_CSP, url);
        assert.equal(r.headers['x-frame-options'], 'DENY', url);
      }
    });
  });

  describe('the session cookie', () => {
    it('signing in sets SameSite=None; Secure; Partitioned — over plain http too (browsers accept Secure from localhost and 127.0.0.1)', async () => {
      const { setCookie } = await signIn();
      const m = EMBEDDED_COOKIE.exec(setCookie);
      assert.ok(m, setCookie);
      assert.equal(m[2], '43200', 'a 12-hour session, as ever');
    });

    it('switching mode and signing out set and clear the cookie with the same attributes (a partitioned cookie is only replaced by one)', async () => {
      const s = await signIn();
      const moved = await stack.api('POST', '/dashboard/api/session/mode', {
        headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
        body: { mode: 'test' },
      });
      assert.equal(moved.status, 200, moved.text);
      const renewed = EMBEDDED_COOKIE.exec(String(moved.headers['set-cookie']));
      assert.ok(renewed, String(moved.headers['set-cookie']));
      const cookie = `harepost_session=${renewed[1]}`;
      const out = await stack.api('POST', '/dashboard/api/logout', { headers: { cookie, 'x-csrf-token': moved.body.csrf_token } });
      assert.equal(out.status, 204, out.text);
      assert.equal(String(out.headers['set-cookie']), 'harepost_session=; HttpOnly; SameSite=None; Secure; Partitioned; Path=/dashboard; Max-Age=0');
      assert.equal((await stack.api('GET', '/dashboard/api/session', { headers: { cookie } })).status, 401);
    });

    it('without HAREPOST_PORTAL_FRAME_ANCESTORS the cookie stays SameSite=Strict, not Partitioned', async () => {
      const { app } = await appWith(DEFAULT_PORTAL);
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      const r = await app.inject({
        method: 'POST',
        url: '/dashboard/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        payload: new URLSearchParams({ token: tokenOf(link.url) }).toString(),
      });
      assert.equal(r.statusCode, 303, r.body);
      assert.match(String(r.headers['set-cookie']), STRICT_COOKIE);
      assert.doesNotMatch(String(r.headers['set-cookie']), /Partitioned|SameSite=None/);
    });
  });

  describe('CSRF with a cookie other sites could send', () => {
    it('the sign-in POST must still come from the sign-in page itself: a framing site cannot sign a visitor in', async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      const token = tokenOf(link.url);
      const attempts: Record<string, string>[] = [
        { 'sec-fetch-site': 'cross-site', origin: 'http://localhost:3000' },
        { 'sec-fetch-site': 'cross-site', origin: 'https://portal.example.com' },
        { 'sec-fetch-site': 'same-site', origin: 'null' },
        { origin: 'https://portal.example.com' },
      ];
      for (const headers of attempts) {
        const r = await redeem(token, headers);
        assert.equal(r.status, 403, JSON.stringify(headers));
        assert.equal(r.headers['set-cookie'], undefined);
        assert.ok(r.text.includes(ESCAPED_TITLE), "the refusal is in the portal's name");
      }
      assert.equal((await redeem(token)).status, 303, 'the refused attempts did not use the link up');
    });

    it('every route under /dashboard/api that can change something refuses a request without the CSRF token, or with a wrong one', async () => {
      const { app, routes } = await appWith(portal);
      const changing = routes.filter((r) => r.url.startsWith('/dashboard/api/') && !['GET', 'HEAD', 'OPTIONS'].includes(r.method));
      assert.ok(changing.length >= 15, `${changing.length} routes that change something`);
      assert.ok(changing.some((r) => r.url === '/dashboard/api/logout') && changing.some((r) => r.url === '/dashboard/api/session/mode'));
      const s = await signIn();
      const other = await signIn();
      for (const { method, url } of changing) {
        const path = url.replace(/:([A-Za-z0-9_]+)/g, 'x');
        for (const csrf of [null, '', 'wrong', other.csrf, newDashboardSecret()]) {
          const headers: Record<string, string> = { cookie: s.cookie, 'content-type': 'application/json' };
          if (csrf !== null) headers['x-csrf-token'] = csrf;
          const r = await app.inject({ method: method as 'POST', url: path, headers, payload: '{"mode":"test","domain":"csrf.example.test"}' });
          assert.equal(r.statusCode, 403, `${method} ${path} with csrf ${String(csrf)}: ${r.body}`);
          assert.equal(r.json().error.code, 'csrf_token_invalid');
        }
      }
      // nothing happened: still signed in, still live, no domain made
      const after = await stack.api('GET', '/dashboard/api/session', { headers: { cookie: s.cookie } });
      assert.equal(after.status, 200);
      assert.equal(after.body.mode, 'live');
      const domains = await stack.api('GET', '/dashboard/api/v1/domains', { headers: { cookie: s.cookie } });
      assert.ok(!domains.body.data.some((d: { domain: string }) => d.domain === 'csrf.example.test'));
    });

    it("a call another site's page makes (Sec-Fetch-Site cross-site or same-site) is refused, GETs included; the dashboard's own pass", async () => {
      const s = await signIn();
      for (const site of ['cross-site', 'same-site']) {
        const read = await stack.api('GET', '/dashboard/api/session', { headers: { cookie: s.cookie, 'sec-fetch-site': site } });
        assert.equal(read.status, 403, read.text);
        assert.equal(read.body.error.code, 'cross_site_request');
        assert.ok(!read.text.includes(s.csrf), 'the CSRF token is not in the answer');
        const change = await stack.api('POST', '/dashboard/api/v1/domains', {
          headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': site },
          body: { domain: 'cross.example.test' },
        });
        assert.equal(change.status, 403, change.text);
        assert.equal(change.body.error.code, 'cross_site_request');
      }
      for (const site of ['same-origin', 'none']) {
        const read = await stack.api('GET', '/dashboard/api/session', { headers: { cookie: s.cookie, 'sec-fetch-site': site } });
        assert.equal(read.status, 200, `${site}: ${read.text}`);
      }
      const domains = await stack.api('GET', '/dashboard/api/v1/domains', { headers: { cookie: s.cookie } });
      assert.ok(!domains.body.data.some((d: { domain: string }) => d.domain === 'cross.example.test'), 'nothing was made');
    });
  });

  describe('branding', () => {
    it("index.html carries the portal's name (escaped) in its title and a meta, and the accent as CSS properties", async () => {
      const { app } = await appWith(portal);
      const r = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.equal(r.statusCode, 200, r.body);
      assert.ok(r.body.includes(`<title>${ESCAPED_TITLE}</title>`), r.body);
      assert.ok(r.body.includes(`<meta name="harepost-portal-title" content="${ESCAPED_TITLE}">`), r.body);
      assert.match(r.body, /<style id="harepost-portal-accent">html:root\{--accent:#0a7d5a;--accent-dark:#[0-9a-f]{6};--on-accent:#ffffff;--brand-edge:#0a7d5a\}<\/style>/);
      assert.ok(!r.body.includes('<Hooks>') && !r.body.includes('Harepost dashboard'), r.body);
      assert.equal((r.body.match(/<title>/g) ?? []).length, 1, 'one title');
      assert.match(r.body, /^<!doctype html>/, 'still a standards-mode document');
    });

    it('a name that tries to end the title or open a script stays text', async () => {
      const { app } = await appWith({ ...DEFAULT_PORTAL, title: '</title><script>alert(1)</script>"\'' });
      const r = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.ok(!r.body.includes('<script>alert'), r.body);
      assert.ok(r.body.includes('&#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;'), r.body);
    });

    it('a light accent gets dark text on it', async () => {
      const { app } = await appWith({ ...DEFAULT_PORTAL, accent: '#ffd400' });
      const r = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.match(r.body, /--accent:#ffd400;--accent-dark:#[0-9a-f]{6};--on-accent:#111111/);
    });

    it("the sign-in page a link opens is in the portal's name and colour", async () => {
      const link = await issueLoginLink(stack.hp.store, acct.account_id, 'live', stack.hp.url!);
      const r = await stack.api('GET', new URL(link.url).pathname + new URL(link.url).search);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.text.includes(`<title>Sign in · ${ESCAPED_TITLE}</title>`), r.text);
      assert.ok(r.text.includes(`Sign in to the ${ESCAPED_TITLE} dashboard`), r.text);
      assert.ok(r.text.includes('--accent:#0a7d5a'), r.text);
      assert.ok(!r.text.includes('<Hooks>'));
      const refused = await stack.api('GET', '/dashboard/login?token=short');
      assert.equal(refused.status, 401);
      assert.ok(refused.text.includes(ESCAPED_TITLE));
      assert.ok(!refused.text.includes('harepost login-link'), "a portal's customer is not told to run Harepost's commands");
    });

    it('without the settings, index.html is served exactly as built', async () => {
      const { app } = await appWith(DEFAULT_PORTAL);
      const r = await app.inject({ method: 'GET', url: '/dashboard/' });
      assert.match(r.body, /<title>Harepost dashboard<\/title>/);
      assert.ok(!r.body.includes('harepost-portal'), r.body);
    });
  });
});
