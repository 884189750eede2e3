/**
 * A destination's lifecycle (SPEC §10, issue 4): disabled ones get nothing new and their pending
 * deliveries wait; deleted ones' pending deliveries end as dead letters and are never attempted;
 * a 410 Gone disables the destination; and test/live modes and accounts never see each other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RecordedRequest, Reply } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

/** Short fixed retries so "pending" means a retry a few hundred ms away. */
const RETRY_FAST = { max_attempts: 25, backoff: 'fixed', base_delay_ms: 250, jitter: 'none', timeout_ms: 2000 };

describe('events: destination lifecycle and isolation', () => {
  let stack: Stack;
  const scripts = new Map<string, (req: RecordedRequest) => Reply>();

  before(async () => {
    stack = await startStack();
    stack.receiver.respond((req) => {
      const script = scripts.get(req.path.split('?')[0]!);
      return script ? script(req) : { status: 200, body: 'ok' };
    });
  });
  after(async () => stack.close());

  const hits = (path: string) => stack.receiver.requests.filter((r) => r.path.split('?')[0] === path);

  async function newDestination(key: string, path: string, host: string, body: Record<string, unknown> = {}) {
    const r = await stack.api('POST', '/v1/destinations', { key, body: { url: stack.target(path, host), ...body } });
    assert.equal(r.status, 201, r.text);
    return r.body as { id: string; signing_secret: string; [k: string]: unknown };
  }

  async function publish(key: string, type: string, body: unknown = { type }) {
    const r = await stack.api('POST', '/v1/events', { key, body: { type, body } });
    assert.equal(r.status, 202, r.text);
    return r.body as { id: string; deliveries: { queue_id: string; destination_id: string }[] };
  }

  const delivery = async (key: string, id: string) => {
    const r = await stack.api('GET', `/v1/deliveries/${id}`, { key });
    assert.equal(r.status, 200, r.text);
    return r.body;
  };

  it('a disabled destination gets no new deliveries; its pending ones wait and are delivered once it is re-enabled', async () => {
    const acct = await stack.createAccount('disable');
    const key = acct.live_key;
    let failing = true;
    scripts.set('/disable', () => (failing ? { status: 500, body: 'down' } : { status: 200, body: 'ok' }));
    const d = await newDestination(key, '/disable', 'disable.example.test', { events: ['dis.*'], delivery: RETRY_FAST });
    const e1 = await publish(key, 'dis.one', { n: 1 });
    const e2 = await publish(key, 'dis.two', { n: 2 });
    assert.equal(e1.deliveries.length, 1);
    assert.equal(e2.deliveries.length, 1);
    const pendingIds = [e1.deliveries[0]!.queue_id, e2.deliveries[0]!.queue_id];
    // both have failed at least twice: they are retrying
    await waitFor(() => pendingIds.every((id) => hits('/disable').filter((r) => r.headers['x-harepost-queue-id'] === id).length >= 2), {
      message: 'the failing deliveries were not retried',
    });

    const off = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { enabled: false } });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.enabled, false);
    const atDisable = hits('/disable').length;
    await sleep(150); // an attempt already on the wire may still land
    const settledCount = hits('/disable').length;
    assert.ok(settledCount <= atDisable + pendingIds.length, `at most the attempts in flight land: ${atDisable} → ${settledCount}`);

    // a new event skips the disabled destination
    const e3 = await publish(key, 'dis.three');
    assert.deepEqual(e3.deliveries, []);
    // created disabled: the same
    const born = await newDestination(key, '/disable-born', 'disable.example.test', { events: ['dis.*'], enabled: false });
    assert.equal(born.enabled, false);
    assert.deepEqual((await publish(key, 'dis.three')).deliveries, []);
    const got = await stack.api('GET', `/v1/destinations/${d.id}`, { key });
    assert.equal(got.body.enabled, false);

    // many retry intervals pass: nothing is attempted, the deliveries stay retrying
    await sleep(1500);
    assert.equal(hits('/disable').length, settledCount, 'no attempts while the destination is disabled');
    for (const id of pendingIds) {
      const dl = await delivery(key, id);
      assert.equal(dl.status, 'retrying', `${id} waits as retrying`);
      assert.equal(dl.last_status, 500);
    }

    failing = false;
    const on = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { enabled: true } });
    assert.equal(on.status, 200, on.text);
    assert.equal(on.body.enabled, true);
    assert.equal(on.body.disabled_reason, null);
    for (const id of pendingIds) {
      const done = await waitFor(async () => {
        const dl = await delivery(key, id);
        return dl.status === 'delivered' ? dl : undefined;
      }, { timeoutMs: 5000, message: `${id} was not delivered after re-enabling` });
      assert.equal(done.last_status, 200);
    }
    // and new events reach it again
    const e4 = await publish(key, 'dis.four');
    assert.deepEqual(e4.deliveries.map((x) => x.destination_id), [d.id]);
  });

  it("a deleted destination's pending deliveries end dead_letter with the reason and are never attempted again", async () => {
    const acct = await stack.createAccount('delete');
    const key = acct.live_key;
    scripts.set('/deleted', () => ({ status: 503, body: 'down' }));
    const d = await newDestination(key, '/deleted', 'deleted.example.test', { events: ['del.*'], delivery: RETRY_FAST });
    const e = await publish(key, 'del.one');
    const id = e.deliveries[0]!.queue_id;
    await waitFor(() => hits('/deleted').length >= 1, { message: 'first attempt never arrived' });

    const del = await stack.api('DELETE', `/v1/destinations/${d.id}`, { key });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { id: d.id, deleted: true });
    const atDelete = hits('/deleted').length;

    const dead = await waitFor(async () => {
      const dl = await delivery(key, id);
      return dl.status === 'dead_letter' ? dl : undefined;
    }, { timeoutMs: 3000, message: 'the pending delivery did not end dead_letter' });
    assert.equal(typeof dead.error, 'string', JSON.stringify(dead));
    assert.match(dead.error, /delet/i);
    assert.equal(dead.next_attempt_at, null);
    assert.equal(dead.destination_id, d.id, 'the delivery keeps naming its (deleted) destination');

    await sleep(1200);
    assert.ok(hits('/deleted').length <= atDelete + 1, 'at most an attempt already in flight');
    const after1 = hits('/deleted').length;
    await sleep(600);
    assert.equal(hits('/deleted').length, after1, 'never attempted again');
    assert.equal((await delivery(key, id)).status, 'dead_letter');

    const gone = await stack.api('GET', `/v1/destinations/${d.id}`, { key });
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.body.error.code, 'not_found');
    assert.equal((await stack.api('DELETE', `/v1/destinations/${d.id}`, { key })).status, 404);
    assert.equal((await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { name: 'x' } })).status, 404);
    assert.deepEqual((await stack.api('GET', `/v1/subscriptions?destination_id=${d.id}`, { key })).body.data, []);
    assert.ok(!(await stack.api('GET', '/v1/destinations', { key })).body.data.some((x: any) => x.id === d.id));
    const sub = await stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: d.id, event_type: 'del.two' } });
    assert.equal(sub.status, 404, sub.text);
    assert.deepEqual((await publish(key, 'del.two')).deliveries, []);
  });

  it('disabling and re-enabling while an attempt is in flight does not start a second, concurrent attempt', async () => {
    const acct = await stack.createAccount('toggle in flight');
    const key = acct.live_key;
    scripts.set('/toggle', () => ({ status: 500, body: 'slow failure', delayMs: 2200 }));
    const d = await newDestination(key, '/toggle', 'toggle.example.test', { events: ['tog.*'], delivery: { ...RETRY_FAST, timeout_ms: 5000 } });
    const e = await publish(key, 'tog.one');
    const id = e.deliveries[0]!.queue_id;
    await waitFor(() => hits('/toggle').length >= 1, { message: 'first attempt never arrived' });
    // the receiver is now holding attempt 1 open
    assert.equal((await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { enabled: false } })).status, 200);
    assert.equal((await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { enabled: true } })).status, 200);
    await sleep(1500); // attempt 1 still in flight; longer than the dispatcher's idle poll
    assert.equal(hits('/toggle').length, 1, 'a delivery is attempted by one dispatcher at a time: no second attempt while the first runs');
    // attempt 1 finishes and is recorded
    scripts.set('/toggle', () => ({ status: 200 }));
    const dl = await waitFor(async () => {
      const x = await delivery(key, id);
      return x.status === 'delivered' ? x : undefined;
    }, { timeoutMs: 6000, message: 'the delivery was never delivered' });
    assert.deepEqual(dl.attempts.map((a: any) => a.http_status), [500, 200], 'every attempt is recorded, in order');
  });

  it('an attempt that was in flight when its destination was deleted is still recorded', async () => {
    const acct = await stack.createAccount('delete in flight');
    const key = acct.live_key;
    scripts.set('/del-flight', () => ({ status: 500, body: 'slow failure', delayMs: 800 }));
    const d = await newDestination(key, '/del-flight', 'delflight.example.test', { events: ['df.*'], delivery: RETRY_FAST });
    const e = await publish(key, 'df.one');
    const id = e.deliveries[0]!.queue_id;
    await waitFor(() => hits('/del-flight').length >= 1, { message: 'first attempt never arrived' });
    const del = await stack.api('DELETE', `/v1/destinations/${d.id}`, { key });
    assert.deepEqual(del.body, { id: d.id, deleted: true });
    await sleep(1300); // the receiver has answered the attempt
    const dl = await delivery(key, id);
    assert.equal(dl.status, 'dead_letter');
    assert.match(dl.error ?? '', /delet/i);
    assert.equal(hits('/del-flight').length, 1);
    assert.deepEqual(
      dl.attempts.map((a: any) => [a.attempt, a.http_status]),
      [[1, 500]],
      'SPEC §1 "every attempt is recorded": the request that reached the receiver is in the history',
    );
  });

  it('a destination that answers 410 Gone is disabled automatically with the reason, and the delivery is rejected', async () => {
    const acct = await stack.createAccount('gone');
    const key = acct.live_key;
    scripts.set('/gone', () => ({ status: 410, body: 'gone' }));
    const d = await newDestination(key, '/gone', 'gone.example.test', { events: ['gone.*'], delivery: RETRY_FAST });
    const e = await publish(key, 'gone.one');
    const id = e.deliveries[0]!.queue_id;
    const done = await waitFor(async () => {
      const dl = await delivery(key, id);
      return dl.status !== 'queued' ? dl : undefined;
    }, { message: 'the 410 delivery never finished' });
    assert.equal(done.status, 'rejected');
    assert.equal(done.last_status, 410);
    assert.equal(done.attempts.length, 1);
    assert.equal(done.attempts[0].outcome, 'rejected');

    const disabled = await waitFor(async () => {
      const r = await stack.api('GET', `/v1/destinations/${d.id}`, { key });
      return r.body.enabled === false ? r.body : undefined;
    }, { timeoutMs: 3000, message: 'the destination was not disabled after 410' });
    assert.equal(typeof disabled.disabled_reason, 'string');
    assert.match(disabled.disabled_reason, /410/);
    const wh = await stack.api('GET', `/v1/webhooks/${d.id}`, { key });
    assert.equal(wh.body.enabled, false);

    assert.deepEqual((await publish(key, 'gone.two')).deliveries, []);
    await sleep(300);
    assert.equal(hits('/gone').length, 1);

    // the owner turns it back on: the reason is cleared
    scripts.set('/gone', () => ({ status: 200 }));
    const on = await stack.api('PATCH', `/v1/destinations/${d.id}`, { key, body: { enabled: true } });
    assert.equal(on.body.enabled, true);
    assert.equal(on.body.disabled_reason, null);
    assert.deepEqual((await publish(key, 'gone.three')).deliveries.map((x) => x.destination_id), [d.id]);
  });

  it('test and live never see or trigger each other; another account gets 404 for everything', async () => {
    const acct: TestAccount = await stack.createAccount('modes');
    const stranger: TestAccount = await stack.createAccount('stranger');
    const live = await newDestination(acct.live_key, '/mode-live', 'live.example.test', { events: ['*'] });
    const test = await newDestination(acct.test_key, '/mode-test', 'test.example.test', { events: ['*'] });
    assert.notEqual(live.signing_secret, test.signing_secret);
    const liveSub = (await stack.api('GET', `/v1/subscriptions?destination_id=${live.id}`, { key: acct.live_key })).body.data[0];
    const testSub = (await stack.api('GET', `/v1/subscriptions?destination_id=${test.id}`, { key: acct.test_key })).body.data[0];
    assert.match(liveSub.id, /^sub_/);
    assert.match(testSub.id, /^sub_/);

    const te = await publish(acct.test_key, 'mode.check', { from: 'test' });
    assert.deepEqual(te.deliveries.map((d) => d.destination_id), [test.id]);
    const le = await publish(acct.live_key, 'mode.check', { from: 'live' });
    assert.deepEqual(le.deliveries.map((d) => d.destination_id), [live.id]);
    await waitFor(() => hits('/mode-test').length >= 1 && hits('/mode-live').length >= 1);
    await sleep(300);
    assert.deepEqual(hits('/mode-test').map((r) => JSON.parse(r.body.toString())), [{ from: 'test' }]);
    assert.deepEqual(hits('/mode-live').map((r) => JSON.parse(r.body.toString())), [{ from: 'live' }]);

    const objects = (mine: { dest: string; sub: string; evt: string; queue: string }) => [
      ['GET', `/v1/destinations/${mine.dest}`, undefined],
      ['PATCH', `/v1/destinations/${mine.dest}`, { name: 'hijack' }],
      ['POST', `/v1/destinations/${mine.dest}/rotate-secret`, undefined],
      ['POST', `/v1/destinations/${mine.dest}/test`, undefined],
      ['GET', `/v1/webhooks/${mine.dest}`, undefined],
      ['PATCH', `/v1/webhooks/${mine.dest}`, { description: 'hijack' }],
      ['POST', `/v1/webhooks/${mine.dest}/test`, undefined],
      ['POST', '/v1/subscriptions', { destination_id: mine.dest, event_type: 'x.y' }],
      ['DELETE', `/v1/subscriptions/${mine.sub}`, undefined],
      ['GET', `/v1/events/${mine.evt}`, undefined],
      ['GET', `/v1/deliveries/${mine.queue}`, undefined],
      ['DELETE', `/v1/webhooks/${mine.dest}`, undefined],
      ['DELETE', `/v1/destinations/${mine.dest}`, undefined],
    ] as const;
    const liveObjs = { dest: live.id, sub: liveSub.id, evt: le.id, queue: le.deliveries[0]!.queue_id };
    const testObjs = { dest: test.id, sub: testSub.id, evt: te.id, queue: te.deliveries[0]!.queue_id };
    const before = stack.receiver.requests.length;
    for (const [who, key, objs] of [
      ['test key on live objects', acct.test_key, liveObjs],
      ['live key on test objects', acct.live_key, testObjs],
      ['stranger live key on live objects', stranger.live_key, liveObjs],
      ['stranger test key on test objects', stranger.test_key, testObjs],
    ] as const) {
      for (const [method, path, body] of objects(objs)) {
        const r = await stack.api(method, path, body === undefined ? { key } : { key, body });
        assert.equal(r.status, 404, `${who}: ${method} ${path} → ${r.status} ${r.text}`);
        assert.equal(r.body?.error?.code, 'not_found', `${who}: ${method} ${path}`);
        assert.ok(!r.text.includes('example.test') && !r.text.includes('whsec_'), `${who}: no data leaked: ${r.text}`);
      }
    }
    assert.equal(stack.receiver.requests.length, before, 'no test request was made for a foreign destination');

    // lists never show the other side
    const idsOf = async (key: string, path: string, pick: (x: any) => string = (x) => x.id) => {
      const r = await stack.api('GET', path, { key });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      return (Array.isArray(r.body) ? r.body : r.body.data).map(pick) as string[];
    };
    assert.deepEqual(await idsOf(acct.test_key, '/v1/destinations'), [test.id]);
    assert.deepEqual(await idsOf(acct.live_key, '/v1/destinations'), [live.id]);
    assert.deepEqual(await idsOf(acct.test_key, '/v1/webhooks'), [test.id]);
    assert.deepEqual(await idsOf(acct.live_key, '/v1/webhooks'), [live.id]);
    assert.deepEqual(await idsOf(acct.test_key, '/v1/subscriptions'), [testSub.id]);
    assert.deepEqual(await idsOf(acct.live_key, '/v1/subscriptions'), [liveSub.id]);
    assert.deepEqual(await idsOf(acct.test_key, `/v1/subscriptions?destination_id=${live.id}`), []);
    assert.deepEqual(await idsOf(acct.live_key, `/v1/subscriptions?destination_id=${test.id}`), []);
    assert.deepEqual(await idsOf(acct.test_key, '/v1/events'), [te.id]);
    assert.deepEqual(await idsOf(acct.live_key, '/v1/events'), [le.id]);
    assert.deepEqual(await idsOf(acct.test_key, '/v1/deliveries', (x) => x.queue_id), [testObjs.queue]);
    assert.deepEqual(await idsOf(acct.live_key, '/v1/deliveries', (x) => x.queue_id), [liveObjs.queue]);
    assert.deepEqual(await idsOf(acct.test_key, `/v1/deliveries?destination_id=${live.id}`, (x) => x.queue_id), []);
    assert.deepEqual(await idsOf(acct.test_key, `/v1/deliveries?event_id=${le.id}`, (x) => x.queue_id), []);
    for (const key of [stranger.live_key, stranger.test_key]) {
      for (const path of ['/v1/destinations', '/v1/webhooks', '/v1/subscriptions', '/v1/events', '/v1/deliveries']) {
        assert.deepEqual(await idsOf(key, path, (x) => x.id ?? x.queue_id), [], `stranger sees nothing at ${path}`);
      }
      // a stranger's event never reaches this account's destinations
      assert.deepEqual((await publish(key, 'mode.check')).deliveries, []);
    }

    // nothing was changed by the failed attempts
    const liveNow = await stack.api('GET', `/v1/destinations/${live.id}`, { key: acct.live_key });
    assert.equal(liveNow.status, 200);
    assert.equal(liveNow.body.name, null);
    assert.deepEqual(liveNow.body.events, ['*']);
    await sleep(200);
    assert.equal(hits('/mode-live').length, 1);
    assert.equal(hits('/mode-test').length, 1);
  });
});
