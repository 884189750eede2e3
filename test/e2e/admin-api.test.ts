/**
 * The operator API (/admin/v1, issue 15 item 1) on the real service: enabled only by
 * HAREPOST_ADMIN_TOKEN (unset: an ordinary 404 everywhere, and not in the OpenAPI document),
 * guarded by that token alone; accounts made, listed, shown with their usage and changed; keys
 * made and revoked; sign-in links that open the customer's dashboard; and suspension: its keys get
 * 403 account_suspended, its dashboard session ends, and a send accepted before it waits — not
 * attempted, nothing lost — and is delivered once the account is resumed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { type Harepost, startHarepost } from '../../src/cli/compose.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { capturedLogger } from '../support/captured-logger.js';
import { assertShape, documentedShape, parseShell, readCurl } from '../support/doc-commands.js';
import { PROJECT_ROOT } from '../support/run-cli.js';
import { startStack, type ApiResponse, type Stack } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const TOKEN = 'op-token-4f1c9a7e2b6d8e0f3a5c7b9d1e2f4a6c';
const HOST = 'admin.example.test';

describe('operator API', () => {
  const lines: string[] = [];
  let stack: Stack;
  /** The same store served by a Harepost without HAREPOST_ADMIN_TOKEN. */
  let plain: Harepost;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_ADMIN_TOKEN: TOKEN }, logger: capturedLogger(lines) });
    plain = await startHarepost(loadConfig({ ...stack.env, HAREPOST_ADMIN_TOKEN: '', HAREPOST_ROLE: 'api' }));
  });
  after(async () => {
    await plain?.close();
    await stack?.close();
  });

  /** Calls the operator API with the admin token (or `token`). */
  const admin = (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<ApiResponse> =>
    stack.api(method, `/admin/v1${path}`, { ...(token !== null ? { key: token } : {}), ...(body !== undefined ? { body } : {}) });

  async function makeAccount(name: string, limits?: unknown) {
    const r = await admin('POST', '/accounts', { name, ...(limits !== undefined ? { limits } : {}) });
    assert.equal(r.status, 201, r.text);
    return r.body as { id: string; live_key: string; test_key: string };
  }

  /** Signs a browser in through a sign-in link, as its page's button does: the session cookie. */
  async function signIn(url: string): Promise<string> {
    const u = new URL(url);
    const page = await stack.api('GET', u.pathname + u.search);
    assert.equal(page.status, 200, page.text);
    const r = await stack.api('POST', '/dashboard/login', {
      rawBody: new URLSearchParams({ token: u.searchParams.get('token')! }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url!, 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(r.status, 303, r.text);
    const id = /harepost_session=([^;]+);/.exec(String(r.headers['set-cookie']))?.[1];
    assert.ok(id, String(r.headers['set-cookie']));
    return `harepost_session=${id}`;
  }

  it('without HAREPOST_ADMIN_TOKEN no /admin route exists: a plain 404 with or without a token, and the OpenAPI document says nothing of it', async () => {
    const base = plain.url!;
    const unknown = await fetch(`${base}/no/such/route`);
    assert.equal(unknown.status, 404);
    for (const [method, path] of [
      ['GET', '/admin/v1/accounts'],
      ['POST', '/admin/v1/accounts'],
      ['GET', '/admin/v1/accounts/acct_x'],
      ['DELETE', '/admin/v1/keys/key_x'],
    ] as const) {
      for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }] as Array<Record<string, string>>) {
        const r = await fetch(base + path, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{"name":"x"}' } : {}) });
        assert.equal(r.status, 404, `${method} ${path}`);
        const body = (await r.json()) as { error: { code: string; message: string } };
        assert.deepEqual(body, { error: { code: 'not_found', message: `No route for ${method} ${path}` } }, 'the same answer as any unknown path');
      }
    }
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } };
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/admin')), []);
    assert.equal(doc.components.securitySchemes.adminToken, undefined);
    assert.equal(JSON.stringify(doc).includes('HAREPOST_ADMIN_TOKEN'), false);
  });

  it('takes only the admin token: none, a wrong one (shorter, longer, same length) or an API key is 401', async () => {
    const acct = await stack.createAccount('key holder');
    const wrong = [
      null,
      'x',
      `${TOKEN}x`,
      TOKEN.slice(0, -1) + (TOKEN.endsWith('a') ? 'b' : 'a'),
      TOKEN.toUpperCase(),
      acct.live_key,
    ];
    for (const token of wrong) {
      const r = await admin('GET', '/accounts', undefined, token);
      assert.equal(r.status, 401, `${token}: ${r.text}`);
      assert.equal(r.body.error.code, 'unauthorized');
      assert.ok(!r.text.includes(TOKEN), 'the answer never shows the token');
    }
    // X-API-Key is an API key's header, not the admin token's
    const header = await stack.api('GET', '/admin/v1/accounts', { key: TOKEN, auth: 'x-api-key' });
    assert.equal(header.status, 401);
    // the token comes before anything else: a bad body with a wrong token is still 401
    assert.equal((await admin('POST', '/accounts', { nope: 1 }, 'wrong')).status, 401);
    // and the admin token is no API key
    assert.equal((await stack.api('GET', '/v1/domains', { key: TOKEN })).status, 401);
    assert.equal((await admin('GET', '/accounts')).status, 200);
  });

  it('makes an account: 201 with its keys (once), effective limits, not suspended; the keys work at once', async () => {
    const r = await admin('POST', '/accounts', { name: '  Acme  ', limits: { max_keys: 5, max_destinations: null } });
    assert.equal(r.status, 201, r.text);
    const a = r.body;
    assert.match(a.id, /^acct_[0-9a-z]{26}$/);
    assert.equal(a.name, 'Acme');
    assert.match(a.live_key, /^hp_live_[A-Za-z0-9]{40}$/);
    assert.match(a.test_key, /^hp_test_[A-Za-z0-9]{40}$/);
    assert.deepEqual(a.limits, { ...DEFAULT_LIMITS, max_keys: 5 });
    assert.deepEqual(a.limit_overrides, { max_keys: 5 });
    assert.equal(a.suspended, false);
    assert.equal(a.suspended_at, null);
    assert.equal(a.erasing, false);
    assert.ok(Math.abs(Date.parse(a.created_at) - Date.now()) < 60_000);
    for (const key of [a.live_key, a.test_key]) assert.equal((await stack.api('GET', '/v1/domains', { key })).status, 200);

    const shown = await admin('GET', `/accounts/${a.id}`);
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.live_key, undefined, 'keys are shown once');
    assert.deepEqual(shown.body.usage, { destinations: 0, keys: 2, domains: 0, pending_deliveries: 0 });
    assert.deepEqual(shown.body.limits, a.limits);
    assert.equal((await admin('GET', '/accounts/acct_not_there')).status, 404);
  });

  it('refuses what it does not know, naming the field: 400', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x', nmae: 'y' }, 'nmae'],
      [{ name: 'x', limits: { max_keyz: 3 } }, 'limits.max_keyz'],
      [{ name: 'x', limits: { max_keys: 0 } }, 'limits.max_keys'],
      [{ name: 'x', limits: { max_keys: 2.5 } }, 'limits.max_keys'],
      [{ name: 'x', limits: { max_domains: '3' } }, 'limits.max_domains'],
      [{ name: 'x', limits: [] }, 'limits'],
    ];
    for (const [body, field] of cases) {
      const r = await admin('POST', '/accounts', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.error.code, 'invalid_request');
      assert.equal(r.body.error.field, field, JSON.stringify(body));
    }
    const id = (await makeAccount('to patch')).id;
    const patch = await admin('PATCH', `/accounts/${id}`, { suspend: true });
    assert.equal(patch.status, 400);
    assert.equal(patch.body.error.field, 'suspend');
    assert.match(patch.body.error.message, /did you mean suspended/);
    assert.equal((await admin('GET', '/accounts?limit=0')).body.error.field, 'limit');
    assert.equal((await admin('GET', '/accounts?limit=101')).status, 400);
    assert.equal((await admin('GET', '/accounts?cursor=abc')).body.error.field, 'cursor');
    assert.equal((await admin('GET', '/accounts?everything=1')).body.error.field, 'everything');
    assert.equal((await admin('POST', `/accounts/${id}/keys`, { mode: 'both' })).body.error.field, 'mode');
    assert.equal((await admin('DELETE', `/accounts/${id}`, { now: true })).body.error.field, 'now');
  });

  it('lists accounts newest first, a page at a time', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await makeAccount(`listed ${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const r: ApiResponse = await admin('GET', `/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.data.length <= 2);
      for (const a of r.body.data) assert.equal(a.live_key, undefined);
      seen.push(...r.body.data.map((a: { id: string }) => a.id));
      cursor = r.body.next_cursor;
      if (cursor === null) break;
    }
    assert.equal(new Set(seen).size, seen.length, 'each account once');
    assert.deepEqual(seen.slice(0, 3), [...made].reverse(), 'the newest first');
    const first = await admin('GET', '/accounts');
    assert.ok(first.body.data.length <= 25);
  });

  it('changes an account: name, limits (one at a time, null back to the default), 404 for none', async () => {
    const { id } = await makeAccount('before', { max_keys: 5, max_domains: 7 });
    const r = await admin('PATCH', `/accounts/${id}`, { name: 'after', limits: { max_keys: null, max_destinations: 9 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'after');
    assert.deepEqual(r.body.limit_overrides, { max_domains: 7, max_destinations: 9 });
    assert.deepEqual(r.body.limits, { ...DEFAULT_LIMITS, max_domains: 7, max_destinations: 9 });
    const cleared = await admin('PATCH', `/accounts/${id}`, { limits: null });
    assert.deepEqual(cleared.body.limit_overrides, {});
    assert.deepEqual(cleared.body.limits, DEFAULT_LIMITS);
    assert.equal((await admin('GET', `/accounts/${id}`)).body.name, 'after');
    assert.equal((await admin('PATCH', '/accounts/acct_not_there', { name: 'x' })).status, 404);
  });

  it('makes keys for an account and revokes any key by id', async () => {
    const { id } = await makeAccount('keys');
    const made = await admin('POST', `/accounts/${id}/keys`, { mode: 'test' });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.account_id, id);
    assert.equal(made.body.mode, 'test');
    assert.match(made.body.key, /^hp_test_/);
    assert.equal(made.body.prefix, made.body.key.slice(0, 12));
    const byDefault = await admin('POST', `/accounts/${id}/keys`);
    assert.equal(byDefault.status, 201);
    assert.equal(byDefault.body.mode, 'live');
    assert.equal((await stack.api('GET', '/v1/keys', { key: made.body.key })).status, 200);
    assert.equal((await admin('GET', `/accounts/${id}`)).body.usage.keys, 4);

    const revoked = await admin('DELETE', `/keys/${made.body.id}`);
    assert.equal(revoked.status, 200, revoked.text);
    assert.deepEqual(revoked.body, { id: made.body.id, revoked: true });
    assert.equal((await stack.api('GET', '/v1/keys', { key: made.body.key })).status, 401);
    assert.equal((await admin('DELETE', `/keys/${made.body.id}`)).status, 404, 'already revoked');
    assert.equal((await admin('DELETE', '/keys/key_not_there')).status, 404);
    assert.equal((await admin('POST', '/accounts/acct_not_there/keys', { mode: 'live' })).status, 404);
    assert.equal((await admin('GET', `/accounts/${id}`)).body.usage.keys, 3);
  });

  it("makes a sign-in link that opens the customer's dashboard, in the mode asked", async () => {
    const { id } = await makeAccount('portal');
    const r = await admin('POST', `/accounts/${id}/login-links`, { mode: 'test' });
    assert.equal(r.status, 201, r.text);
    assert.match(r.body.url, new RegExp(`^${stack.hp.url}/dashboard/login\\?token=[A-Za-z0-9_-]{43}$`));
    assert.equal(r.body.account_id, id);
    assert.equal(r.body.mode, 'test');
    const expires = Date.parse(r.body.expires_at) - Date.now();
    assert.ok(expires > 14 * 60_000 && expires <= 15 * 60_000, `expires in ${expires} ms`);
    const cookie = await signIn(r.body.url);
    const session = await stack.api('GET', '/dashboard/api/session', { headers: { cookie } });
    assert.equal(session.status, 200, session.text);
    assert.equal(session.body.account_id, id);
    assert.equal(session.body.mode, 'test');
    assert.equal((await admin('POST', '/accounts/acct_not_there/login-links')).status, 404);
  });

  it('suspends: 403 account_suspended on its keys, its dashboard session ends, no sign-in link; a send accepted before waits, unattempted, and is delivered after resume', async () => {
    const a = await makeAccount('suspended one');
    const other = await makeAccount('unaffected');
    await stack.verifyDomain(a.live_key, HOST);
    await stack.verifyDomain(other.live_key, HOST);
    const link = await admin('POST', `/accounts/${a.id}/login-links`, {});
    const cookie = await signIn(link.body.url);

    // the first attempt fails, and the retry is due 1.5 s later
    let open = false;
    stack.receiver.respond((req) => (req.path === '/held' && !open ? { status: 503, body: 'not yet' } : { status: 200, body: 'ok' }));
    const sent = await stack.api('POST', '/v1/send', {
      key: a.live_key,
      body: { target: stack.target('/held', HOST), body: { n: 1 }, delivery: { max_attempts: 5, base_delay_ms: 1500, jitter: 'none' } },
    });
    assert.equal(sent.status, 202, sent.text);
    const queueId = sent.body.queue_id as string;
    await waitFor(async () => (await stack.hp.store.getDelivery(a.id, 'live', queueId))?.attempts.length === 1, { message: 'the first attempt' });

    const suspended = await admin('PATCH', `/accounts/${a.id}`, { suspended: true });
    assert.equal(suspended.status, 200, suspended.text);
    assert.equal(suspended.body.suspended, true);
    assert.ok(Date.parse(suspended.body.suspended_at) <= Date.now());

    for (const key of [a.live_key, a.test_key]) {
      const r = await stack.api('GET', '/v1/deliveries', { key });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, 'account_suspended');
      assert.match(r.body.error.message, /suspended/);
      assert.match(r.body.error.message, /operator/);
    }
    const refusedSend = await stack.api('POST', '/v1/send', { key: a.live_key, body: { target: stack.target('/held', HOST) } });
    assert.equal(refusedSend.status, 403);
    assert.equal((await stack.api('GET', '/dashboard/api/session', { headers: { cookie } })).status, 401, 'its dashboard session ended');
    const noLink = await admin('POST', `/accounts/${a.id}/login-links`, {});
    assert.equal(noLink.status, 409);
    assert.equal(noLink.body.error.code, 'account_suspended');
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: other.live_key })).status, 200, 'another account is unaffected');

    // well past its retry time: not attempted, and not given up on
    await sleep(4000);
    assert.equal(stack.receiver.requests.filter((r) => r.path === '/held').length, 1, 'no attempt while suspended');
    const waiting = await stack.hp.store.getDelivery(a.id, 'live', queueId);
    assert.equal(waiting?.delivery.status, 'retrying');
    assert.equal(waiting?.attempts.length, 1);
    assert.equal((await admin('GET', `/accounts/${a.id}`)).body.usage.pending_deliveries, 1);

    open = true;
    const resumed = await admin('PATCH', `/accounts/${a.id}`, { suspended: false });
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.suspended, false);
    assert.equal(resumed.body.suspended_at, null);
    const done = await waitFor(
      async () => {
        const r = await stack.api('GET', `/v1/deliveries/${queueId}`, { key: a.live_key });
        return r.status === 200 && r.body.status === 'delivered' ? r : null;
      },
      { message: 'delivered after resume', timeoutMs: 15_000 },
    );
    assert.equal(done.body.attempts.length, 2);
    assert.equal(stack.receiver.requests.filter((r) => r.path === '/held').length, 2);
    const again = await admin('POST', `/accounts/${a.id}/login-links`, {});
    assert.equal(again.status, 201, 'sign-in links work again');
  });

  it('erases: 202 at once, its keys and session stop working from the first moment, and the account is gone when it is done', async () => {
    const a = await makeAccount('to erase');
    const link = await admin('POST', `/accounts/${a.id}/login-links`, {});
    const cookie = await signIn(link.body.url);
    const r = await admin('DELETE', `/accounts/${a.id}`);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body, { id: a.id, status: 'erasing' });
    assert.equal((await stack.api('GET', '/v1/domains', { key: a.live_key })).status, 401);
    assert.equal((await stack.api('GET', '/dashboard/api/session', { headers: { cookie } })).status, 401);
    await waitFor(async () => (await admin('GET', `/accounts/${a.id}`)).status === 404, { message: 'the account is gone' });
    assert.equal((await admin('DELETE', `/accounts/${a.id}`)).status, 404);
    assert.equal((await admin('PATCH', `/accounts/${a.id}`, { name: 'x' })).status, 404);
  });

  it('the README\'s operator API example, run as written, answers as it shows', async () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('\n### The operator API\n');
    assert.ok(start >= 0, 'the README has "### The operator API"');
    const end = readme.slice(start + 1).search(/\n##+ /);
    const section = readme.slice(start, end < 0 ? undefined : start + 1 + end);
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.equal(blocks.length, 1);
    let id: string | null = null;
    let last: ApiResponse | null = null;
    let checked = 0;
    for (const line of parseShell(blocks[0]!)) {
      if (line.kind === 'comment') {
        const shape = documentedShape(line.text);
        assert.ok(shape && last, line.text);
        assert.equal(last.status, shape.status, `${line.text}\n${last.text}`);
        assertShape(last.body, shape.shape);
        checked++;
        continue;
      }
      const words = line.words.map((w) =>
        w
          .replaceAll('http://127.0.0.1:8080', stack.hp.url!)
          .replaceAll('$HAREPOST_ADMIN_TOKEN', TOKEN)
          .replace(/acct_…/g, () => {
            assert.ok(id, 'an account id is used before one was made');
            return id;
          }),
      );
      const call = readCurl(words);
      last = await stack.api(call.method, call.url.slice(stack.hp.url!.length), {
        headers: call.headers,
        ...(call.body === undefined ? {} : { rawBody: call.body }),
      });
      id ??= last.body?.id ?? null;
    }
    assert.equal(checked, 3);
  });

  it('never logs the admin token or a key it makes', async () => {
    const made = await makeAccount('logged');
    await admin('GET', '/accounts', undefined, 'wrong-token');
    const all = lines.join('');
    assert.ok(all.includes('"route":"/admin/v1/accounts"'), 'admin requests are logged');
    assert.ok(!all.includes(TOKEN), 'the token is never logged');
    assert.ok(!all.includes('wrong-token'));
    assert.ok(!all.includes(made.live_key) && !all.includes(made.test_key));
  });
});
