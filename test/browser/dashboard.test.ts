/// <reference lib="dom" />
/**
 * The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, installed by .ci/run)
 * driven by playwright-core against a whole Harepost on loopback. Screenshots of each main page
 * go to test-output/screenshots/ for a person to look at.
 *
 * The browser only ever talks to 127.0.0.1 (the service); every name it could try to resolve is
 * mapped to "not found", and background networking is off.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { issueLoginLink } from '../../src/cli/login-link.js';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';
import { launchChromium } from './chromium.js';

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const BUILT = join(process.cwd(), 'dist', 'dashboard', 'index.html');

describe('dashboard in Chromium', () => {
  let stack: Stack;
  let account: TestAccount;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const link = async (mode: 'live' | 'test' = 'live') =>
    (await issueLoginLink(stack.hp.store, account.account_id, mode, stack.hp.url!)).url;

  before(async () => {
    assert.ok(existsSync(BUILT), `${BUILT} is missing: npm run build`);
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack();
    account = await stack.createAccount('browser test');
    await stack.verifyDomain(account.live_key, 'example.test');
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('without a session: the sign-in screen, and the API answers 401', async () => {
    await page.goto(`${stack.hp.url}/dashboard/`);
    await page.getByTestId('signin-screen').waitFor();
    const status = await page.evaluate(async () => (await fetch('/dashboard/api/v1/deliveries')).status);
    assert.equal(status, 401);
    await shot('00-sign-in');
  });

  it('a login link signs in; the home page shows the last hour', async () => {
    await stack.api('POST', '/v1/send', {
      key: account.live_key,
      body: { target: stack.target('/ok'), body: { hello: 'dashboard' } },
    });
    await page.goto(await link());
    // the link opens a page with one button (opening it spends nothing); the button signs in
    await page.locator('#sign-in').click();
    await page.getByTestId('nav-home').waitFor();
    assert.match(page.url(), /\/dashboard\/(#.*)?$/);
    assert.doesNotMatch(page.url(), /token=/);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'harepost_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    await page.getByTestId('overview-chart').waitFor();
    await page.waitForFunction(
      () => Number(document.querySelector('[data-testid="overview-count-delivered"]')?.textContent ?? '0') >= 1,
    );
    await shot('01-home');
  });

  it('finds a dead-lettered delivery, reads its attempts, replays it and sees it delivered', async () => {
    stack.receiver.respond((req) => (req.path.startsWith('/flaky') ? { status: 503, body: 'down for now' } : { status: 200, body: 'ok' }));
    const sent = await stack.api('POST', '/v1/send', {
      key: account.live_key,
      body: {
        target: stack.target('/flaky'),
        body: { order: 42 },
        delivery: { max_attempts: 2, backoff: 'fixed', base_delay_ms: 100, jitter: 'none' },
      },
    });
    assert.equal(sent.status, 202);
    const id = sent.body.queue_id as string;

    await page.getByTestId('nav-dead-letters').click();
    const row = page.locator(`[data-testid="delivery-row"][data-queue-id="${id}"]`);
    await row.waitFor({ timeout: 20_000 }); // the list refreshes itself while open
    await shot('02-dead-letters');

    await row.locator('a').first().click();
    await page.getByTestId('attempt-row').nth(1).waitFor();
    assert.equal(await page.getByTestId('attempt-row').count(), 2);
    const outcomes = await page.getByTestId('attempt-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
    assert.deepEqual(outcomes, ['failed', 'failed']);
    assert.match((await page.getByTestId('attempt-row').first().textContent()) ?? '', /503/);
    await shot('03-delivery-dead-letter');

    stack.receiver.respond(() => ({ status: 200, body: 'ok now' }));
    await page.getByTestId('replay-button').click();
    const confirm = page.getByTestId('confirm-button');
    if (await confirm.isVisible().catch(() => false)) await confirm.click();
    await page.locator('[data-testid="delivery-status"][data-status="delivered"]').first().waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('attempt-row').count(), 3);
    await shot('04-delivery-replayed');

    const detail = await stack.api('GET', `/v1/deliveries/${id}`, { key: account.live_key });
    assert.equal(detail.body.status, 'delivered');
  });

  it('the deliveries table filters by status and finds one by queue id', async () => {
    await page.getByTestId('nav-deliveries').click();
    await page.getByTestId('delivery-row').first().waitFor();
    await page.getByTestId('status-filter').selectOption('delivered');
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('[data-testid="delivery-row"]')).every((r) => r.getAttribute('data-status') === 'delivered'),
    );
    await shot('05-deliveries');
    const first = await page.getByTestId('delivery-row').first().getAttribute('data-queue-id');
    await page.getByTestId('search-input').fill(first!);
    await page.getByTestId('search-input').press('Enter');
    await page.waitForURL(new RegExp(`#/deliveries/${first}$`));
  });

  it('creates a destination (secret shown once) and sends it a test', async () => {
    await page.getByTestId('nav-destinations').click();
    await page.getByTestId('destination-new-link').click();
    await page.getByTestId('destination-url-input').fill(stack.target('/dest-hook'));
    await page.getByTestId('destination-events-input').fill('order.created, order.paid');
    await shot('06-destination-new');
    await page.getByTestId('destination-submit').click();
    const secret = (await page.getByTestId('destination-secret').textContent()) ?? '';
    assert.match(secret, /whsec_/);
    await page.getByTestId('destination-open-link').click();
    await page.getByTestId('send-test-button').click();
    const result = page.getByTestId('test-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-success'), 'true');
    assert.ok(stack.receiver.requests.some((r) => r.path === '/dest-hook'), 'the receiver got the test request');
    await shot('07-destination');

    await page.getByTestId('nav-destinations').click();
    await page.getByTestId('destination-row').first().waitFor();
    await shot('08-destinations');
  });

  it('domains and events pages render', async () => {
    await page.getByTestId('nav-domains').click();
    await page.getByTestId('domain-row').first().waitFor();
    await shot('09-domains');
    await stack.api('POST', '/v1/events', { key: account.live_key, body: { type: 'order.created', body: { id: 7 } } });
    await page.getByTestId('nav-events').click();
    await page.getByTestId('event-row').first().waitFor({ timeout: 20_000 });
    await shot('10-events');
    await page.getByTestId('event-row').first().locator('a').first().click();
    await page.getByTestId('event-payload').waitFor();
    await shot('11-event');
  });

  it('the top bar says which mode it shows, and its switch moves every page to the other mode', async () => {
    const badge = page.getByTestId('mode-badge');
    const rowOf = (id: string) => page.locator(`[data-testid="delivery-row"][data-queue-id="${id}"]`);
    // example.test is verified (by the live key, in before): domains serve both modes
    const inTest = await stack.api('POST', '/v1/send', {
      key: account.test_key,
      body: { target: stack.target('/test-mode'), body: { mode: 'test' } },
    });
    assert.equal(inTest.status, 202, inTest.text);
    const testId = inTest.body.queue_id as string;
    const liveIds = (await stack.api('GET', '/v1/deliveries?limit=100', { key: account.live_key })).body.data.map(
      (d: { queue_id: string }) => d.queue_id,
    ) as string[];
    assert.ok(liveIds.length > 0);

    await page.getByTestId('nav-deliveries').click();
    await rowOf(liveIds[0]!).waitFor();
    assert.equal(await badge.getAttribute('data-mode'), 'live');
    assert.match((await badge.textContent()) ?? '', /LIVE/);
    assert.equal(await rowOf(testId).count(), 0, 'a test-mode delivery is not among the live ones');
    const cookieBefore = (await context.cookies()).find((c) => c.name === 'harepost_session')!;

    await page.getByTestId('mode-switch').click();
    await page.locator('[data-testid="mode-badge"][data-mode="test"]').waitFor();
    assert.match((await badge.textContent()) ?? '', /TEST MODE/);
    assert.match((await page.getByTestId('mode-switch').textContent()) ?? '', /Switch to live/);
    await rowOf(testId).waitFor();
    assert.equal(await page.getByTestId('delivery-row').count(), 1, 'only the test-mode delivery');
    const cookieAfter = (await context.cookies()).find((c) => c.name === 'harepost_session')!;
    assert.notEqual(cookieAfter.value, cookieBefore.value, 'a new session id');
    assert.equal(cookieAfter.httpOnly, true);
    assert.equal(cookieAfter.sameSite, 'Strict');
    assert.ok(Math.abs(cookieAfter.expires - cookieBefore.expires) < 10, 'it ends when the signed-in session does');
    assert.equal(await page.getByTestId('mode-switch').isEnabled(), true, 'the switch is ready again');
    await shot('13-test-mode-deliveries');

    // every page is test mode's: the live destination is not listed, home counts one accepted delivery
    await page.getByTestId('nav-destinations').click();
    await page.getByText('No destinations yet.').waitFor();
    assert.equal(await page.getByTestId('destination-row').count(), 0);
    await page.getByTestId('nav-home').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="overview-count-accepted"]')?.textContent?.trim() === '1');

    // a reload keeps the mode: it lives in the session, on the server
    await page.reload();
    await page.locator('[data-testid="mode-badge"][data-mode="test"]').waitFor();

    // a live delivery's page gives way to the deliveries list when switching
    await page.getByTestId('mode-switch').click();
    await page.locator('[data-testid="mode-badge"][data-mode="live"]').waitFor();
    await page.goto(`${stack.hp.url}/dashboard/#/deliveries/${liveIds[0]}`);
    await page.getByTestId('attempt-row').first().waitFor();
    await page.getByTestId('mode-switch').click();
    await page.waitForURL(/#\/deliveries$/);
    await rowOf(testId).waitFor();
    await page.getByTestId('mode-switch').click();
    await page.locator('[data-testid="mode-badge"][data-mode="live"]').waitFor();
    await rowOf(liveIds[0]!).waitFor();
    assert.equal(await rowOf(testId).count(), 0);
  });

  it('a narrow screen has no sideways scroll', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    await page.getByTestId('nav-deliveries').click();
    await page.getByTestId('delivery-row').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    await shot('12-deliveries-narrow');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('the keyboard alone reaches the navigation', async () => {
    await page.goto(`${stack.hp.url}/dashboard/#/`);
    await page.getByTestId('nav-home').waitFor();
    const reached = new Set<string>();
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
      if (id) reached.add(id);
    }
    for (const id of ['nav-deliveries', 'nav-dead-letters', 'nav-destinations', 'signout']) {
      assert.ok(reached.has(id), `Tab never reached ${id} (reached: ${[...reached].join(', ')})`);
    }
  });

  it('signing out ends the session: the API answers 401 again', async () => {
    await page.getByTestId('signout').click();
    await page.getByTestId('signin-screen').waitFor();
    const status = await page.evaluate(async () => (await fetch('/dashboard/api/session')).status);
    assert.equal(status, 401);
    // the used link does not sign in again
    await page.goto(`${stack.hp.url}/dashboard/`);
    await page.getByTestId('signin-screen').waitFor();
  });
});
