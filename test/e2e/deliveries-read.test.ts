/**
 * Reading deliveries (harepost-deliveries-reference, SPEC §6): paging, filters, the 400s, and
 * tenancy — another account's or another mode's delivery is 404, never its data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('reading deliveries', () => {
  let stack: Stack;
  let acct: TestAccount;
  let other: TestAccount;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('reader');
    other = await stack.createAccount('other');
    await stack.verifyDomain(acct.live_key, 'example.test');
    await stack.verifyDomain(other.live_key, 'example.test');
  });
  after(async () => stack.close());

  const send = async (key: string, path = '/p') => {
    const r = await stack.api('POST', '/v1/send', { key, body: { target: stack.target(path), body: 'x' } });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  };

  it('pages through 60 deliveries with limit=7: each exactly once, newest first, even while new ones arrive', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await send(acct.test_key, `/page/${i}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    const late: string[] = [];
    do {
      const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const r = await stack.api('GET', `/v1/deliveries?limit=7${q}`, { key: acct.test_key });
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.data.length <= 7);
      for (const row of r.body.data) {
        assert.equal(typeof row.attempts, 'number', 'in a list, attempts is a count');
        seen.push(row.queue_id);
      }
      cursor = r.body.next_cursor;
      pages++;
      if (pages === 3) for (let i = 0; i < 5; i++) late.push(await send(acct.test_key, '/late'));
    } while (cursor !== null);
    assert.equal(pages, 9);
    assert.equal(seen.length, 60);
    assert.equal(new Set(seen).size, 60);
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, every delivery once');
    for (const id of late) assert.ok(!seen.includes(id));
  });

  it('filters by status', async () => {
    const id = await send(acct.live_key, '/filter');
    await waitFor(async () => {
      const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
      return r.body.status === 'delivered';
    });
    const delivered = await stack.api('GET', '/v1/deliveries?status=delivered&limit=100', { key: acct.live_key });
    assert.equal(delivered.status, 200);
    assert.ok(delivered.body.data.some((d: { queue_id: string }) => d.queue_id === id));
    assert.ok(delivered.body.data.every((d: { status: string }) => d.status === 'delivered'));
    const dead = await stack.api('GET', '/v1/deliveries?status=dead_letter', { key: acct.live_key });
    assert.equal(dead.status, 200);
    assert.deepEqual(dead.body.data, []);
    assert.equal(dead.body.next_cursor, null);
  });

  it('shows the list row shape of the reference', async () => {
    const id = await send(acct.live_key, '/shape');
    const r = await stack.api('GET', '/v1/deliveries?limit=1', { key: acct.live_key });
    const row = r.body.data[0];
    assert.equal(row.queue_id, id);
    for (const k of ['queue_id', 'target', 'method', 'status', 'attempts', 'last_status', 'idempotency_key', 'created_at', 'updated_at']) {
      assert.ok(k in row, `list row has ${k}`);
    }
    assert.equal(row.target, stack.target('/shape'));
    assert.equal(row.method, 'POST');
  });

  for (const [query, field] of [
    ['status=done', 'status'],
    ['status=', 'status'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=2.5', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
  ] as const) {
    it(`400 for ${query}`, async () => {
      const r = await stack.api('GET', `/v1/deliveries?${query}`, { key: acct.live_key });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.field, field);
      assert.equal(typeof r.body.error.message, 'string');
    });
  }

  it('limit defaults to 25 and accepts 1 and 100', async () => {
    for (let i = 0; i < 30; i++) await send(acct.live_key, '/many');
    const d = await stack.api('GET', '/v1/deliveries', { key: acct.live_key });
    assert.equal(d.body.data.length, 25);
    assert.notEqual(d.body.next_cursor, null);
    assert.equal((await stack.api('GET', '/v1/deliveries?limit=1', { key: acct.live_key })).body.data.length, 1);
    assert.equal((await stack.api('GET', '/v1/deliveries?limit=100', { key: acct.live_key })).status, 200);
  });

  it("another account's delivery is 404 and never listed", async () => {
    const mine = await send(acct.live_key, '/mine');
    const theirs = await stack.api('GET', `/v1/deliveries/${mine}`, { key: other.live_key });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, 'not_found');
    assert.ok(!theirs.text.includes('/mine'));
    const list = await stack.api('GET', '/v1/deliveries?limit=100', { key: other.live_key });
    assert.ok(list.body.data.every((d: { queue_id: string }) => d.queue_id !== mine));
  });

  it('a test key never sees live deliveries and vice versa', async () => {
    const live = await send(acct.live_key, '/live');
    const test = await send(acct.test_key, '/test');
    assert.equal((await stack.api('GET', `/v1/deliveries/${live}`, { key: acct.test_key })).status, 404);
    assert.equal((await stack.api('GET', `/v1/deliveries/${test}`, { key: acct.live_key })).status, 404);
    assert.equal((await stack.api('GET', `/v1/deliveries/${test}`, { key: acct.test_key })).status, 200);
    const testList = await stack.api('GET', '/v1/deliveries?limit=100', { key: acct.test_key });
    assert.ok(testList.body.data.every((d: { queue_id: string }) => d.queue_id !== live));
  });

  it('test-mode deliveries are really delivered', async () => {
    const id = await send(acct.test_key, '/test-mode-delivered');
    await waitFor(() => stack.receiver.requests.some((r) => r.headers['x-harepost-queue-id'] === id));
  });

  it('an unknown delivery is 404', async () => {
    const r = await stack.api('GET', '/v1/deliveries/hr_doesnotexist', { key: acct.live_key });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'not_found');
  });

  it('health probes answer without a key', async () => {
    assert.deepEqual((await stack.api('GET', '/healthz')).body, { status: 'ok' });
    const ready = await stack.api('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
  });
});
