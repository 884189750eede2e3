/// <reference lib="dom" />
/**
 * The dashboard as a customer's portal inside another site's page, in Debian's Chromium: a page
 * served from http://localhost:<port> — another site than the dashboard's http://127.0.0.1 —
 * frames an operator's login link. With HAREPOST_PORTAL_FRAME_ANCESTORS naming that origin, the
 * visitor signs in inside the iframe and the dashboard's pages load their data there, in the
 * portal's name and colour. Without the setting, or from an origin it does not name, the browser
 * refuses to show the dashboard in the frame at all.
 *
 * Chromium runs with third-party cookies blocked (--test-third-party-cookie-phaseout, as Chrome's
 * phase-out and other browsers do): only a Partitioned cookie works in the frame, so this proves
 * the cookie is one. Every address is loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, ConsoleMessage, Frame, Page } from 'playwright-core';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';
import { launchChromium } from './chromium.js';

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const BUILT = join(process.cwd(), 'dist', 'dashboard', 'index.html');
const TITLE = 'Acme Hooks';
const ACCENT = '#0a7d5a';
const ACCENT_RGB = 'rgb(10, 125, 90)';

/**
 * A customer's site on 127.0.0.1 (reached as http://localhost:<port>): `/?src=<url>` is a page
 * that frames `url`.
 */
async function startEmbedder(): Promise<{ server: Server; origin: string; page: (src: string) => string }> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://localhost').searchParams.get('src') ?? 'about:blank';
    const attr = src.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><head><title>Customer app</title></head><body style="margin:0;background:#eee">
<h1 style="font:16px system-ui;margin:8px">Customer app: webhooks</h1>
<iframe id="portal" src="${attr}" style="width:1200px;height:760px;border:1px solid #999"></iframe>
</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  return { server, origin, page: (src) => `${origin}/?src=${encodeURIComponent(src)}` };
}

describe('the dashboard framed by another site (HAREPOST_PORTAL_FRAME_ANCESTORS) in Chromium', () => {
  let allowed: Awaited<ReturnType<typeof startEmbedder>>;
  let unlisted: Awaited<ReturnType<typeof startEmbedder>>;
  let portal: Stack;
  let plain: Stack;
  let account: TestAccount;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleLines: string[] = [];

  const linkOf = async (stack: Stack, accountId: string, mode: 'live' | 'test' = 'live') =>
    (await issueLoginLink(stack.hp.store, accountId, mode, stack.hp.url!)).url;

  /** The iframe's frame, once it has been attached and has navigated somewhere. */
  const portalFrame = async (): Promise<Frame> => {
    const handle = await page.waitForSelector('#portal', { state: 'attached' });
    const frame = await handle.contentFrame();
    assert.ok(frame, 'the iframe has a frame');
    return frame;
  };

  /** Asserts the browser refused to show the dashboard in the frame: it says why, and nothing of the dashboard rendered. */
  const assertRefused = async (frameAncestors: string) => {
    // Chromium: "Framing 'http://127.0.0.1:…/' violates the following Content Security Policy
    // directive: "frame-ancestors …". The request has been blocked." (older: "Refused to frame …")
    const said = (l: string) => /violates the following Content Security Policy|Refused to frame/.test(l) && l.includes(`frame-ancestors ${frameAncestors}`);
    const deadline = Date.now() + 10_000;
    while (!consoleLines.some(said) && Date.now() < deadline) await page.waitForTimeout(100);
    assert.ok(consoleLines.some(said), `Chromium says why: ${consoleLines.join(' | ')}`);
    const frame = await portalFrame();
    assert.equal(await frame.locator('#sign-in').count(), 0, 'the sign-in button is not shown');
    assert.doesNotMatch(frame.url(), /\/dashboard\/login/, `the frame shows an error page, not the dashboard (${frame.url()})`);
  };

  before(async () => {
    assert.ok(existsSync(BUILT), `${BUILT} is missing: npm run build`);
    mkdirSync(SHOTS, { recursive: true });
    allowed = await startEmbedder();
    unlisted = await startEmbedder();
    portal = await startStack({
      env: { HAREPOST_PORTAL_FRAME_ANCESTORS: allowed.origin, HAREPOST_PORTAL_TITLE: TITLE, HAREPOST_PORTAL_ACCENT: ACCENT },
    });
    plain = await startStack();
    account = await portal.createAccount('framed');
    await portal.verifyDomain(account.live_key, 'example.test');
    const sent = await portal.api('POST', '/v1/send', {
      key: account.live_key,
      body: { target: portal.target('/framed'), body: { hello: 'portal' } },
    });
    assert.equal(sent.status, 202, sent.text);
    browser = await launchChromium(['--test-third-party-cookie-phaseout']);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (m: ConsoleMessage) => consoleLines.push(m.text()));
  });

  after(async () => {
    await browser?.close();
    await portal?.close();
    await plain?.close();
    allowed?.server.close();
    unlisted?.server.close();
  });

  it('signs in inside the iframe on another loopback site, and every page loads its data there', async () => {
    const link = await linkOf(portal, account.account_id);
    assert.match(link, /^http:\/\/127\.0\.0\.1:/);
    await page.goto(allowed.page(link));
    const frame = await portalFrame();
    await frame.locator('#sign-in').click();
    await frame.getByTestId('nav-home').waitFor();
    assert.match(frame.url(), /^http:\/\/127\.0\.0\.1:\d+\/dashboard\/(#.*)?$/);
    assert.equal(page.url().startsWith(allowed.origin), true, 'the top-level page is still the customer app');

    // the session cookie: partitioned under the customer's site, SameSite=None, Secure, HttpOnly
    const session = (await context.cookies()).find((c) => c.name === 'harepost_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.sameSite, 'None');
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal((session as { partitionKey?: string }).partitionKey, 'http://localhost', 'partitioned by the top-level site');

    // data loads inside the frame: the last hour counts the delivery, the deliveries page lists it
    await frame.getByTestId('overview-chart').waitFor();
    await frame.waitForFunction(() => Number(document.querySelector('[data-testid="overview-count-accepted"]')?.textContent ?? '0') >= 1);
    await frame.getByTestId('nav-deliveries').click();
    await frame.getByTestId('delivery-row').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'portal-01-framed-deliveries.png') });
  });

  it("is in the portal's name and colour", async () => {
    const frame = await portalFrame();
    assert.equal((await frame.getByTestId('brand').textContent())?.trim(), TITLE);
    assert.match(await frame.evaluate(() => document.title), new RegExp(` · ${TITLE}$`));
    const edge = await frame.evaluate(() => getComputedStyle(document.querySelector('header.topbar')!).borderBottomColor);
    assert.equal(edge, ACCENT_RGB, 'the top bar is underlined in the accent (live mode)');
    const accent = await frame.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim());
    assert.equal(accent, ACCENT);
  });

  it('changes made inside the frame work (CSRF token and a renewed partitioned cookie): switch mode, then sign out', async () => {
    const frame = await portalFrame();
    await frame.getByTestId('mode-switch').click();
    await frame.locator('[data-testid="mode-badge"][data-mode="test"]').waitFor();
    const renewed = (await context.cookies()).find((c) => c.name === 'harepost_session');
    assert.equal((renewed as { partitionKey?: string } | undefined)?.partitionKey, 'http://localhost');
    await frame.getByTestId('nav-deliveries').click();
    await frame.getByText(/No deliveries/i).first().waitFor(); // test mode has none of the live ones
    await page.screenshot({ path: join(SHOTS, 'portal-02-framed-test-mode.png') });
    await frame.getByTestId('signout').click();
    await frame.getByTestId('signin-screen').waitFor();
    assert.equal((await frame.getByTestId('brand').textContent())?.trim(), TITLE, 'the sign-in screen is branded too');
    const status = await frame.evaluate(async () => (await fetch('/dashboard/api/session')).status);
    assert.equal(status, 401, 'signed out');
  });

  it('the session cookie of the frame is not sent when the dashboard is opened by any other top-level site', async () => {
    // sign in again inside the frame, then open the dashboard as a top-level page: another partition
    await page.goto(allowed.page(await linkOf(portal, account.account_id)));
    const frame = await portalFrame();
    await frame.locator('#sign-in').click();
    await frame.getByTestId('nav-home').waitFor();
    const top = await context.newPage();
    await top.goto(`${portal.hp.url}/dashboard/`);
    await top.getByTestId('signin-screen').waitFor();
    await top.close();
  });

  it('an origin the setting does not name cannot frame it: Chromium refuses', async () => {
    consoleLines.length = 0;
    await page.goto(unlisted.page(await linkOf(portal, account.account_id)));
    await assertRefused(allowed.origin);
  });

  it("without HAREPOST_PORTAL_FRAME_ANCESTORS the same embedding is refused (frame-ancestors 'none')", async () => {
    const other = await plain.createAccount('not framed');
    consoleLines.length = 0;
    await page.goto(allowed.page(await linkOf(plain, other.account_id)));
    await assertRefused("'none'");
    await page.screenshot({ path: join(SHOTS, 'portal-03-refused.png') });
  });
});
