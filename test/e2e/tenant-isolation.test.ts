/**
 * Many accounts on one Harepost, none able to hurt another (issue 15, items 5 and 6): the breaker
 * and throttle are per (account, origin); only "unavailable" answers open it and 500s follow
 * their own policy; holds are bounded; claims are fair across accounts under a per-account cap;
 * a suspended account's deliveries wait and go out once it is resumed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_POLICY, type DeliveryPolicy } from '../../src/core/policy.js';
import type { NewDelivery } from '../../src/store/store.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

const MAX_IN_FLIGHT = 32;
const PER_ACCOUNT = 8;
const HOLD_MAX_MS = 2000;

/** A stack with these settings, and the helpers every case here uses. */
function tenantHarness(env: Record<string, string>) {
  let stack!: Stack;
  const receivers: Receiver[] = [];
  let seq = 0;
  before(async () => {
    stack = await startStack({ env });
  });
  after(async () => {
    await stack.close();
    for (const r of receivers) await r.close();
  });
  const receiver = async () => {
    const r = await startReceiver({ tls: { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem } });
    receivers.push(r);
    return r;
  };
  const account = async (name: string) => {
    const acct = await stack.createAccount(name);
    await stack.verifyDomain(acct.live_key, 'example.test');
    return acct;
  };
  const send = async (acct: TestAccount, target: string, delivery: Record<string, unknown> = {}) => {
    const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target, body: { n: ++seq }, delivery } });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  };
  const get = async (acct: TestAccount, id: string) => (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body;
  const statuses = async (acct: TestAccount, ids: readonly string[]) => {
    const out: Record<string, number> = {};
    for (const id of ids) {
      const s = (await get(acct, id)).status as string;
      out[s] = (out[s] ?? 0) + 1;
    }
    return out;
  };
  /** Deliveries written straight to the store (a backlog in one commit), due now. */
  const enqueue = async (acct: TestAccount, targets: readonly string[], policy: Partial<DeliveryPolicy> = {}) => {
    const now = Date.now();
    const items: NewDelivery[] = targets.map((target) => ({
      id: `hr_tenant${String(++seq).padStart(8, '0')}${Math.random().toString(36).slice(2, 8)}`,
      account_id: acct.account_id,
      mode: 'live',
      target,
      origin: new URL(target).origin,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{}'),
      policy: { ...DEFAULT_POLICY, jitter: 'none', ...policy },
      idempotency_key: null,
      metadata: null,
      sign: false,
      created_at: now,
    }));
    for (let i = 0; i < items.length; i += 500) await stack.hp.store.enqueueDeliveries(acct.account_id, 'live', items.slice(i, i + 500));
    return items.map((d) => d.id);
  };

  return { stack: () => stack, receiver, account, send, get, statuses, enqueue };
}

const byAccount = (r: Receiver, prefix: string) => r.requests.filter((q) => q.path.startsWith(prefix));

describe('tenant isolation: lanes and fair claims', () => {
  const { stack, receiver, account, send, get, statuses, enqueue } = tenantHarness({
    HAREPOST_BREAKER_FAILURES: '3',
    HAREPOST_BREAKER_PROBE_MS: '400',
    HAREPOST_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    HAREPOST_MAX_IN_FLIGHT_PER_ACCOUNT: String(PER_ACCOUNT),
    HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: '16',
  });

  it("account A's failing target never holds account B's deliveries to the same origin", async () => {
    const a = await account('A');
    const b = await account('B');
    const shared = await receiver();
    // one origin, two accounts: A's requests find it unavailable, B's are answered (after a second)
    let bOpen = 0;
    let bMost = 0;
    shared.respond(async (req) => {
      if (req.path.startsWith('/a/')) return { status: 503, body: 'down for A' };
      bMost = Math.max(bMost, ++bOpen);
      await sleep(1000);
      bOpen--;
      return { status: 200, body: 'ok' };
    });
    const host = 'chat.example.test';
    const policy = { max_attempts: 25, backoff: 'fixed', base_delay_ms: 100, jitter: 'none' };
    const aIds: string[] = [];
    for (let i = 0; i < 20; i++) aIds.push(await send(a, shared.url(`/a/${i}`, host), policy));
    await waitFor(() => byAccount(shared, '/a/').length >= 3, { message: "A's first failures never arrived" });
    await sleep(500);
    const aBefore = byAccount(shared, '/a/').length;
    // A's lane is open now; B sends to the very same origin while A's outage goes on
    const bIds = await Promise.all(Array.from({ length: 10 }, (_, i) => send(b, shared.url(`/b/${i}`, host), policy)));
    await waitFor(async () => (await statuses(b, bIds)).delivered === 10, {
      timeoutMs: 15_000,
      message: "B's deliveries were held by A's open breaker",
    });
    for (const id of bIds) assert.equal((await get(b, id)).attempts.length, 1, 'each of B’s went out at its first attempt');
    // held behind A's breaker they would have gone one probe at a time, then 1, 2, 4 … in flight
    assert.ok(bMost >= PER_ACCOUNT - 1, `B had ${bMost} requests open at once: never held to A's probes`);
    const aDuring = byAccount(shared, '/a/').length - aBefore;
    // without A's breaker: 20 deliveries retried every 100 ms ≈ 200 attempts a second
    assert.ok(aDuring <= 6, `${aDuring} attempts of A reached the origin meanwhile: its lane was held`);
  });

  it('500s (the target answered) never open the breaker: each delivery retries on its policy’s exact schedule', async () => {
    const a = await account('A500');
    const failing = await receiver();
    failing.respond(() => ({ status: 500, body: 'bug' }));
    const policy = { max_attempts: 5, backoff: 'exponential', base_delay_ms: 200, max_delay_ms: 10_000, jitter: 'none' };
    const delays = [200, 400, 800, 1600];
    // four deliveries at once: 20 failures in all, far past the breaker's 3
    const ids = await Promise.all([0, 1, 2, 3].map((i) => send(a, failing.url(`/e/${i}`, 'buggy.example.test'), policy)));
    for (const id of ids) {
      const d = await waitFor(async () => {
        const r = await get(a, id);
        return r.status === 'dead_letter' ? r : undefined;
      }, { timeoutMs: 20_000, message: `${id} never used up its 5 attempts` });
      assert.equal(d.attempts.length, 5);
      const starts = d.attempts.map((x: { created_at: string }) => Date.parse(x.created_at));
      for (let i = 1; i < starts.length; i++) {
        const gap = starts[i] - starts[i - 1] - d.attempts[i - 1].latency_ms;
        assert.ok(gap >= delays[i - 1]! - 5, `attempt ${i + 1} of ${id} came ${gap} ms after the last ended: not before the policy's ${delays[i - 1]} ms`);
        assert.ok(gap <= delays[i - 1]! + 400, `attempt ${i + 1} of ${id} came ${gap} ms after the last ended: held past the policy's ${delays[i - 1]} ms`);
      }
    }
  });

  it("one account's deep backlog does not delay another's fresh sends, and no account holds more than its share of slots", async () => {
    const a = await account('Aflood');
    const b = await account('Bfresh');
    const slow = await receiver();
    let current = 0;
    let most = 0;
    slow.respond(async () => {
      current++;
      most = Math.max(most, current);
      await sleep(150);
      current--;
      return { status: 200 };
    });
    const fast = await receiver();
    // A: 1,500 due deliveries over 10 origins (each far under its per-origin cap), all older than B's
    const targets = Array.from({ length: 1500 }, (_, i) => slow.url(`/a/${i}`, `slow${i % 10}.example.test`));
    const aIds = await enqueue(a, targets);
    await waitFor(() => slow.requests.length >= PER_ACCOUNT, { message: 'A’s backlog never started' });
    const bIds: string[] = [];
    for (let i = 0; i < 20; i++) bIds.push(await send(b, fast.url(`/b/${i}`, 'fresh.example.test')));
    await waitFor(async () => (await statuses(b, bIds)).delivered === 20, { timeoutMs: 15_000, message: 'B’s fresh sends waited behind A’s backlog' });
    const aDone = slow.requests.length;
    assert.ok(aDone < aIds.length / 2, `B's 20 were delivered while A's backlog was still mostly waiting (${aDone} of ${aIds.length} of A's arrived)`);
    // A alone, with all 32 slots free: it never had more than its share in flight
    await waitFor(() => slow.requests.length >= 200, { timeoutMs: 20_000, message: 'A’s backlog stalled' });
    assert.ok(most <= PER_ACCOUNT, `A had ${most} requests open at once (cap ${PER_ACCOUNT} per account of ${MAX_IN_FLIGHT})`);
    assert.ok(most >= PER_ACCOUNT / 2, `A used its slots (${most} at most at once)`);
  });

  it("a suspended account's deliveries wait (nothing attempted, nothing lost) and are delivered after it is resumed", async () => {
    const c = await account('Csuspended');
    const target = await receiver();
    await stack().hp.store.updateAccount(c.account_id, { suspended: true }, Date.now());
    const ids = await enqueue(c, Array.from({ length: 5 }, (_, i) => target.url(`/c/${i}`, 'suspended.example.test')));
    await sleep(1500); // past the dispatcher's slow look (1 s): it has looked, and left them
    assert.equal(target.requests.length, 0, 'nothing attempted while suspended');
    for (const id of ids) {
      const d = await stack().hp.store.getDelivery(c.account_id, 'live', id);
      assert.deepEqual([d?.delivery.status, d?.attempts.length], ['queued', 0]);
    }
    await stack().hp.store.updateAccount(c.account_id, { suspended: false }, Date.now());
    await target.waitForRequests(5, 10_000);
    await waitFor(async () => (await statuses(c, ids)).delivered === 5, { message: 'not delivered after resume' });
  });
});

describe('tenant isolation: the hold bound', () => {
  const { receiver, account, send, get, statuses } = tenantHarness({
    HAREPOST_BREAKER_FAILURES: '3',
    HAREPOST_BREAKER_PROBE_MS: '400',
    HAREPOST_HOLD_MAX_MS: String(HOLD_MAX_MS),
  });

  it('a delivery held longer than HAREPOST_HOLD_MAX_MS past its schedule is dead-lettered, saying since when its target was unavailable', async () => {
    const a = await account('Aheld');
    const b = await account('Bheld');
    const down = await receiver();
    down.respond((req) => (req.path.startsWith('/b/') ? { status: 200 } : { status: 503 }));
    const host = 'held.example.test';
    const policy = { max_attempts: 25, backoff: 'fixed', base_delay_ms: 100, jitter: 'none' };
    const ids: string[] = [];
    const t0 = Date.now();
    // the run of failures that opens the breaker (3), their results recorded — the attempts run on
    // their own thread, so a send right behind them could be claimed before their answers are
    // known — then the rest, which the open breaker holds
    for (let i = 0; i < 3; i++) ids.push(await send(a, down.url(`/a/${i}`, host), policy));
    await waitFor(async () => {
      for (const id of ids) if ((await get(a, id)).attempts.length === 0) return false;
      return true;
    }, { message: 'the first three attempts were never recorded' });
    for (let i = 3; i < 20; i++) ids.push(await send(a, down.url(`/a/${i}`, host), policy));
    const ended = await waitFor(async () => {
      const s = await statuses(a, ids);
      return (s.dead_letter ?? 0) >= 15 ? s : undefined;
    }, { timeoutMs: 20_000, message: 'the held deliveries were never dead-lettered' });
    const endedAfter = Date.now() - t0;
    assert.ok(endedAfter >= HOLD_MAX_MS, `dead-lettered only past the bound (${endedAfter} ms)`);
    const heldOnes = [];
    for (const id of ids) {
      const d = await get(a, id);
      if (d.status === 'dead_letter' && d.attempts.length === 0) heldOnes.push(d);
    }
    assert.ok(heldOnes.length >= 10, `${heldOnes.length} were held without an attempt, then ended (statuses ${JSON.stringify(ended)})`);
    for (const d of heldOnes) {
      assert.match(d.error, /^The target https:\/\/held\.example\.test:\d+ has been unavailable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
      const since = Date.parse(/since (\S+?):? /.exec(d.error)![1]!);
      assert.ok(since >= t0 - 1000 && since <= Date.now(), 'since: when its lane was first held');
      assert.ok(Date.parse(d.updated_at) - Math.max(since, Date.parse(d.created_at)) >= HOLD_MAX_MS, 'held at least the bound');
      assert.equal(d.next_attempt_at, null);
    }
    // the same origin, another account: never held, never ended
    const bId = await send(b, down.url('/b/1', host), policy);
    await waitFor(async () => (await get(b, bId)).status === 'delivered', { message: 'B was held by A’s lane' });
  });
});
