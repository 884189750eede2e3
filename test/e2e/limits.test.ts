/**
 * Per-account limits (issue 15, items 3 and 4), through the API on the real service: what an
 * account may hold (403 limit_exceeded naming the limit, nothing made), its backlog of pending
 * deliveries (429 backlog_full with Retry-After, nothing accepted, room again once one is final),
 * and the rate limit, one bucket per account shared by all its keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiResponse, type Stack, type TestAccount, startStack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { ID_PREFIX, newId } from '../../src/core/ids.js';
import { issueKey } from '../../src/cli/issue-key.js';
import type { AccountLimits } from '../../src/store/store.js';

function assertLimit(res: ApiResponse, limit: string, max: number, what: string): void {
  const ctx = `${what}: ${res.status} ${res.text}`;
  assert.equal(res.status, 403, ctx);
  assert.equal(res.body.error.code, 'limit_exceeded', ctx);
  assert.ok(res.body.error.message.includes(`${limit} (${max.toLocaleString('en-US')} `), ctx);
  assert.match(res.body.error.message, /ask the operator to raise the limit/, ctx);
  assert.equal(res.body.error.field, undefined, ctx);
}

function assertBacklogFull(res: ApiResponse, what: string): void {
  const ctx = `${what}: ${res.status} ${res.text}`;
  assert.equal(res.status, 429, ctx);
  assert.equal(res.body.error.code, 'backlog_full', ctx);
  assert.match(res.body.error.message, /max_pending_deliveries \(2\)/, ctx);
  assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/, ctx);
}

/** An account made the way the operator API makes one, with its own limits. */
async function accountWith(stack: Stack, limits: AccountLimits | null, name = 'limited'): Promise<TestAccount> {
  const id = newId(ID_PREFIX.account);
  await stack.hp.store.createAccount({ id, name, created_at: Date.now(), limits });
  const live = await issueKey(stack.hp.store, id, 'live');
  const test = await issueKey(stack.hp.store, id, 'test');
  return { account_id: id, live_key: live.key, test_key: test.key };
}

describe('limits per account (defaults from HAREPOST_MAX_*)', () => {
  let stack: Stack;
  let flaky = true;

  before(async () => {
    stack = await startStack({
      env: {
        HAREPOST_MAX_DESTINATIONS: '3',
        HAREPOST_MAX_KEYS: '4',
        HAREPOST_MAX_DOMAINS: '2',
        HAREPOST_MAX_PENDING_DELIVERIES: '2',
      },
    });
    stack.receiver.respond((req) => {
      if (req.path.startsWith('/busy')) return { status: 503 };
      if (req.path.startsWith('/flaky') && flaky) return { status: 503 };
      return { status: 200, body: 'ok' };
    });
  });

  after(async () => {
    await stack?.close();
  });

  const destinationsOf = async (a: TestAccount) => {
    const live = await stack.api('GET', '/v1/destinations', { key: a.live_key });
    const test = await stack.api('GET', '/v1/destinations', { key: a.test_key });
    return live.body.data.length + test.body.data.length;
  };

  it('destinations: up to max_destinations through /v1/destinations and /v1/webhooks, live and test together; then 403 and nothing made', async () => {
    const a = await stack.createAccount('destinations');
    const url = stack.target('/d');
    assert.equal((await stack.api('POST', '/v1/destinations', { key: a.live_key, body: { url, events: ['a.*'] } })).status, 201);
    assert.equal((await stack.api('POST', '/v1/webhooks', { key: a.live_key, body: { url, events: ['b'] } })).status, 201);
    assert.equal((await stack.api('POST', '/v1/destinations', { key: a.test_key, body: { url } })).status, 201);
    assertLimit(await stack.api('POST', '/v1/destinations', { key: a.test_key, body: { url } }), 'max_destinations', 3, '4th (test)');
    assertLimit(await stack.api('POST', '/v1/webhooks', { key: a.live_key, body: { url, events: ['c'] } }), 'max_destinations', 3, '4th (webhooks)');
    assert.equal(await destinationsOf(a), 3);
    // deleting one makes room for one
    const first = (await stack.api('GET', '/v1/destinations', { key: a.test_key })).body.data[0].id as string;
    assert.equal((await stack.api('DELETE', `/v1/destinations/${first}`, { key: a.test_key })).status, 200);
    assert.equal((await stack.api('POST', '/v1/destinations', { key: a.live_key, body: { url } })).status, 201);
    // another account is not affected
    const b = await stack.createAccount('bystander');
    assert.equal((await stack.api('POST', '/v1/destinations', { key: b.live_key, body: { url } })).status, 201);
  });

  it("an account's own limits beat the defaults, higher or lower", async () => {
    const url = stack.target('/d');
    const roomy = await accountWith(stack, { max_destinations: 5 });
    for (let i = 0; i < 5; i++) {
      const r = await stack.api('POST', '/v1/destinations', { key: i % 2 ? roomy.live_key : roomy.test_key, body: { url } });
      assert.equal(r.status, 201, `#${i + 1}: ${r.text}`);
    }
    assertLimit(await stack.api('POST', '/v1/destinations', { key: roomy.live_key, body: { url } }), 'max_destinations', 5, '6th');
    const tight = await accountWith(stack, { max_domains: 1, max_keys: 2 });
    assert.equal((await stack.api('POST', '/v1/domains', { key: tight.live_key, body: { domain: 'one.example.test' } })).status, 201);
    assertLimit(await stack.api('POST', '/v1/domains', { key: tight.live_key, body: { domain: 'two.example.test' } }), 'max_domains', 1, '2nd domain');
    assertLimit(await stack.api('POST', '/v1/keys', { key: tight.live_key, body: { mode: 'test' } }), 'max_keys', 2, '3rd key');
  });

  it('keys: unrevoked keys count, both modes; revoking one makes room', async () => {
    const a = await stack.createAccount('keys'); // a live and a test key: 2 of 4
    const made = await stack.api('POST', '/v1/keys', { key: a.live_key, body: { mode: 'live' } });
    assert.equal(made.status, 201, made.text);
    assert.equal((await stack.api('POST', '/v1/keys', { key: a.test_key, body: { mode: 'test' } })).status, 201);
    const over = await stack.api('POST', '/v1/keys', { key: a.test_key, body: { mode: 'test' } });
    assertLimit(over, 'max_keys', 4, '5th key');
    assert.equal((await stack.api('GET', '/v1/keys', { key: a.live_key })).body.data.length, 4, 'nothing made');
    assert.equal((await stack.api('DELETE', `/v1/keys/${made.body.id}`, { key: a.live_key })).status, 200);
    assert.equal((await stack.api('POST', '/v1/keys', { key: a.live_key, body: { mode: 'test' } })).status, 201);
  });

  it('domains: a new one past max_domains is refused; re-adding one the account has is not a new one', async () => {
    const a = await stack.createAccount('domains');
    const add = (domain: string) => stack.api('POST', '/v1/domains', { key: a.live_key, body: { domain } });
    assert.equal((await add('one.example.test')).status, 201);
    assert.equal((await add('two.example.test')).status, 201);
    assertLimit(await add('three.example.test'), 'max_domains', 2, '3rd domain');
    const again = await add('one.example.test');
    assert.equal(again.status, 200, `re-adding at the limit: ${again.text}`);
    assert.deepEqual(
      (await stack.api('GET', '/v1/domains', { key: a.live_key })).body.data.map((d: { domain: string }) => d.domain).sort(),
      ['one.example.test', 'two.example.test'],
    );
  });

  it('concurrent creates at the limit: exactly the room left is made', async () => {
    const a = await stack.createAccount('concurrent');
    const url = stack.target('/d');
    assert.equal((await stack.api('POST', '/v1/destinations', { key: a.live_key, body: { url } })).status, 201);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stack.api('POST', '/v1/destinations', { key: i % 2 ? a.live_key : a.test_key, body: { url } })),
    );
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 403, 403, 403, 403, 403, 403], answers.map((r) => r.text).join('\n'));
    assert.equal(await destinationsOf(a), 3);
    const keys = await Promise.all(Array.from({ length: 6 }, () => stack.api('POST', '/v1/keys', { key: a.live_key, body: {} })));
    assert.deepEqual(keys.map((r) => r.status).sort(), [201, 201, 403, 403, 403, 403]);
  });

  it('pending deliveries: past max_pending_deliveries a send or an event is 429 backlog_full with Retry-After, and nothing is accepted; a final delivery makes room', async () => {
    const a = await stack.createAccount('backlog');
    await stack.verifyDomain(a.live_key, 'hooks.example.test');
    const retrySoon = { backoff: 'fixed', base_delay_ms: 200, jitter: 'none', max_attempts: 25 };
    const send = (path: string, key = a.live_key, headers: Record<string, string> = {}) =>
      stack.api('POST', '/v1/send', { key, body: { target: stack.target(path), delivery: retrySoon }, headers });
    const busy = await send('/busy');
    const flakyOne = await send('/flaky');
    assert.deepEqual([busy.status, flakyOne.status], [202, 202]);

    // the limit counts both modes; the answer is all or nothing, and leaves no trace
    assertBacklogFull(await send('/more', a.test_key), 'a test-mode send');
    const keyed = await send('/busy-more', a.live_key, { 'idempotency-key': 'after-the-backlog' });
    assertBacklogFull(keyed, 'a keyed send');
    const dest = await stack.api('POST', '/v1/destinations', { key: a.live_key, body: { url: stack.target('/events'), events: ['order.*'] } });
    assert.equal(dest.status, 201, dest.text);
    assertBacklogFull(await stack.api('POST', '/v1/events', { key: a.live_key, body: { type: 'order.paid', body: { id: 1 } } }), 'an event');
    const listed = await stack.api('GET', '/v1/deliveries?limit=100', { key: a.live_key });
    assert.deepEqual(listed.body.data.map((d: { queue_id: string }) => d.queue_id).sort(), [busy.body.queue_id, flakyOne.body.queue_id].sort());
    assert.deepEqual((await stack.api('GET', '/v1/events', { key: a.live_key })).body.data, [], 'no event was stored');
    assert.deepEqual((await stack.api('GET', '/v1/deliveries', { key: a.test_key })).body.data, []);
    // an event that no destination takes adds nothing: accepted even now
    const none = await stack.api('POST', '/v1/events', { key: a.live_key, body: { type: 'user.created', body: {} } });
    assert.equal(none.status, 202, none.text);

    // another account is not held by this one's backlog
    const b = await stack.createAccount('other');
    await stack.verifyDomain(b.live_key, 'hooks.example.test');
    assert.equal((await stack.api('POST', '/v1/send', { key: b.live_key, body: { target: stack.target('/b') } })).status, 202);

    // the flaky target answers now: its delivery ends, and makes room for exactly one
    flaky = false;
    await waitFor(
      async () => (await stack.api('GET', `/v1/deliveries/${flakyOne.body.queue_id}`, { key: a.live_key })).body.status === 'delivered',
      { message: 'the flaky delivery is delivered' },
    );
    const retried = await send('/busy-more', a.live_key, { 'idempotency-key': 'after-the-backlog' });
    assert.equal(retried.status, 202, `the same key, now that there is room: ${retried.text}`);
    assertBacklogFull(await send('/more'), 'full again');
  });
});

describe('the rate limit is per account, shared by all its keys', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_RATE_LIMIT_PER_SECOND: '1', HAREPOST_RATE_LIMIT_BURST: '3' } });
  });

  after(async () => {
    await stack?.close();
  });

  it('two keys of one account draw on one bucket; another account has its own', async () => {
    const a = await stack.createAccount('shared bucket');
    const b = await stack.createAccount('own bucket');
    const call = (key: string) => stack.api('GET', '/v1/deliveries', { key });
    const statuses = [await call(a.live_key), await call(a.test_key), await call(a.live_key)].map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200]);
    for (const key of [a.test_key, a.live_key]) {
      const limited = await call(key);
      assert.equal(limited.status, 429, limited.text);
      assert.equal(limited.body.error.code, 'rate_limited');
      assert.match(limited.body.error.message, /account/);
      assert.match(String(limited.headers['retry-after']), /^[1-9]\d*$/);
    }
    // a key minted now is the same account's: no fresh bucket
    const minted = await stack.hp.store.listApiKeys(a.account_id);
    assert.equal(minted.length, 2);
    const extra = await issueKey(stack.hp.store, a.account_id, 'live');
    assert.equal((await call(extra.key)).status, 429, 'a new key of the account');
    assert.equal((await call(b.live_key)).status, 200, 'another account');
    assert.equal((await call(b.test_key)).status, 200);
  });
});

describe('replays are held to max_pending_deliveries: all or nothing, and the pending count stays exact', () => {
  const TOKEN = 'op-token-replay-limits-7c2e9b4d1a6f3e8c';
  let stack: Stack;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_ADMIN_TOKEN: TOKEN } });
    stack.receiver.respond((req) => (req.path.startsWith('/dead') ? { status: 500 } : { status: 503 }));
  });

  after(async () => {
    await stack?.close();
  });

  const admin = (method: string, path: string, body?: unknown) =>
    stack.api(method, `/admin/v1${path}`, { key: TOKEN, ...(body !== undefined ? { body } : {}) });

  function assertReplayRefused(res: ApiResponse, pending: number, adding: number, what: string): void {
    const ctx = `${what}: ${res.status} ${res.text}`;
    assert.equal(res.status, 429, ctx);
    assert.equal(res.body.error.code, 'backlog_full', ctx);
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/, ctx);
    const message = res.body.error.message as string;
    assert.ok(message.includes(`has ${pending} deliveries not final yet`), ctx);
    assert.ok(message.includes(adding === 1 ? 'replaying this delivery' : `replaying these ${adding} deliveries`), ctx);
    assert.match(message, /max_pending_deliveries \(3\)/, ctx);
    assert.match(message, /nothing was replayed/, ctx);
  }

  it('bulk and single replays past the limit are 429 backlog_full and re-queue nothing; those that fit are 202; usage is exact throughout', async () => {
    const made = await admin('POST', '/accounts', { name: 'replayer', limits: { max_pending_deliveries: 3 } });
    assert.equal(made.status, 201, made.text);
    const acct = made.body as { id: string; live_key: string };
    await stack.verifyDomain(acct.live_key, 'hooks.example.test');
    const pendingNow = async () => {
      const r = await admin('GET', `/accounts/${acct.id}`);
      assert.equal(r.status, 200, r.text);
      return r.body.usage.pending_deliveries as number;
    };
    const statusOf = async (id: string) => (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body.status as string;
    const deadLetters = async () =>
      ((await stack.api('GET', '/v1/deliveries?status=dead_letter&limit=100', { key: acct.live_key })).body.data as Array<{ queue_id: string }>)
        .map((d) => d.queue_id)
        .sort();
    const send = async (path: string, delivery: Record<string, unknown>) => {
      const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target(path), delivery } });
      assert.equal(r.status, 202, r.text);
      return r.body.queue_id as string;
    };
    /** `count` sends to a target that answers 500, with one attempt each: dead letters. */
    const dead = async (count: number) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push(await send(`/dead/${i}`, { max_attempts: 1 }));
      for (const id of ids) {
        await waitFor(async () => (await statusOf(id)) === 'dead_letter', { timeoutMs: 15_000, message: `${id} is dead-lettered` });
      }
      return ids;
    };
    const cut = async () => {
      await new Promise((r) => setTimeout(r, 5));
      const at = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 5));
      return at;
    };
    const first = await dead(2);
    const c1 = await cut();
    const second = await dead(2);
    const c2 = await cut();
    const [third] = await dead(1);
    assert.equal(await pendingNow(), 0, 'dead letters are not pending');

    // from here the dispatcher is stopped, so what is pending stays pending while it is counted
    await stack.hp.dispatcher!.stop(0);
    const busy = await send('/busy', { max_attempts: 25, backoff: 'fixed', base_delay_ms: 60_000, jitter: 'none' });
    assert.equal(await pendingNow(), 1);
    const allDead = [...first, ...second, third!].sort();

    // 1 pending + 5 dead letters > 3: refused whole, nothing re-queued
    assertReplayRefused(await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { status: 'dead_letter' } }), 1, 5, 'bulk, every one');
    assertReplayRefused(await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_before: c2 } }), 1, 4, 'bulk, 4 of them');
    assert.deepEqual(await deadLetters(), allDead, 'nothing was re-queued');
    assert.equal(await pendingNow(), 1);

    // two replays that each fit alone (2 + 1 <= 3) but not together: exactly one is admitted
    const raced = await Promise.all([
      stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_before: c1 } }),
      stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_after: c1, created_before: c2 } }),
    ]);
    assert.deepEqual(raced.map((r) => r.status).sort(), [202, 429], raced.map((r) => r.text).join('\n'));
    const won = raced.findIndex((r) => r.status === 202);
    assert.deepEqual(raced[won]!.body, { count: 2 });
    assertReplayRefused(raced[1 - won]!, 3, 2, 'the replay that lost the race');
    const replayed = won === 0 ? first : second;
    for (const id of replayed) assert.equal(await statusOf(id), 'retrying', 'the admitted replay re-queued its deliveries');
    assert.deepEqual(await deadLetters(), allDead.filter((id) => !replayed.includes(id)));
    assert.equal(await pendingNow(), 3, '1 pending + 2 replayed');

    // at the limit: one more, alone, is refused; a replay that matches nothing still answers 202
    assertReplayRefused(await stack.api('POST', `/v1/deliveries/${third}/retry`, { key: acct.live_key }), 3, 1, 'single');
    assert.equal(await statusOf(third!), 'dead_letter');
    const nothing = await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { status: 'rejected' } });
    assert.deepEqual([nothing.status, nothing.body], [202, { count: 0 }], nothing.text);
    // the precedence of the single retry's answers is unchanged: 404 and 409 before the backlog
    assert.equal((await stack.api('POST', '/v1/deliveries/hr_not_there/retry', { key: acct.live_key })).status, 404);
    assert.equal((await stack.api('POST', `/v1/deliveries/${busy}/retry`, { key: acct.live_key })).status, 409);
    assert.equal(await pendingNow(), 3);

    // the dispatcher again: the replayed ones fail once more and end, and the count goes back down
    stack.hp.dispatcher!.start();
    await waitFor(async () => (await deadLetters()).length === 5, { timeoutMs: 15_000, message: 'the replayed deliveries end again' });
    assert.equal(await pendingNow(), 1, 'only the busy one is pending');
    const single = await stack.api('POST', `/v1/deliveries/${third}/retry`, { key: acct.live_key });
    assert.equal(single.status, 202, `now that there is room: ${single.text}`);
    await waitFor(async () => (await statusOf(third!)) === 'dead_letter', { timeoutMs: 15_000, message: 'the single replay ends' });
    const bulk = await stack.api('POST', '/v1/deliveries/retry', { key: acct.live_key, body: { created_after: c2 } });
    assert.deepEqual([bulk.status, bulk.body], [202, { count: 1 }], bulk.text);
    await waitFor(async () => (await statusOf(third!)) === 'dead_letter', { timeoutMs: 15_000, message: 'the bulk replay ends' });
    assert.equal(await pendingNow(), 1, 'every replay counted once, and uncounted once when it ended');
    assert.equal(await statusOf(busy), 'retrying');
  });
});
