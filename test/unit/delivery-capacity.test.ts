/**
 * The dispatcher's capacity: the caps in all, per origin and per account, a lane's own allowance
 * (its breaker and throttle, on a fake clock), fair shares of a claim, buffering one cap deep
 * behind a full origin, and who gets a freed slot of the total.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Capacity } from '../../src/delivery/capacity.js';
import { LaneBook, type LaneState } from '../../src/delivery/lanes.js';
import { OriginHealth } from '../../src/delivery/origin-health.js';

const A = 'https://a.example.test';
const B = 'https://b.example.test';

function setup(caps = { total: 10, perOrigin: 4, perAccount: 6 }) {
  let t = 0;
  const book = new LaneBook();
  const health = new OriginHealth({ failureThreshold: 2, probeBaseMs: 1000, probeMaxMs: 10_000, now: () => t });
  const cap = new Capacity(book, health, caps);
  const start = (lane: LaneState, n = 1): void => {
    for (let i = 0; i < n; i++) book.started(lane);
  };
  return { book, health, cap, start, advance: (ms: number) => (t += ms) };
}

const asObject = (plan: Map<LaneState, number> | null): Record<string, number> | null =>
  plan === null ? null : Object.fromEntries([...plan].map(([l, n]) => [l.key, n]));

describe('Capacity', () => {
  it('canStart: a slot free in all, at the origin and for the account', () => {
    const { book, cap, start } = setup({ total: 5, perOrigin: 3, perAccount: 4 });
    const a1 = book.lane('acct_1', A);
    const b1 = book.lane('acct_1', B);
    const a2 = book.lane('acct_2', A);
    start(a1, 3);
    assert.equal(cap.canStart(a1), false, 'origin A full');
    assert.equal(cap.canStart(a2), false, 'origin A full for every account');
    assert.equal(cap.canStart(b1), true);
    start(b1);
    assert.equal(cap.canStart(b1), false, 'account 1 full (4)');
    const b2 = book.lane('acct_2', B);
    assert.equal(cap.canStart(b2), true);
    start(b2);
    assert.equal(cap.canStart(book.lane('acct_3', 'https://c.example.test')), false, 'total full (5)');
  });

  it('canStart and roomOf: an open lane lets one probe through after its backoff; a throttled one none', () => {
    const { book, health, cap, advance } = setup();
    const a1 = book.lane('acct_1', A);
    health.finished(a1.key, 'down');
    health.finished(a1.key, 'down'); // threshold 2: open, first probe after 1 s
    assert.equal(cap.canStart(a1), false);
    assert.deepEqual(cap.roomOf({ account_id: 'acct_1', origin: A }), { lane: 0, origin: 4, account: 6 });
    advance(1000);
    assert.equal(cap.canStart(a1), true);
    assert.equal(cap.roomOf({ account_id: 'acct_1', origin: A }).lane, 1);
    const b1 = book.lane('acct_1', B);
    health.finished(b1.key, 'throttled', 5000);
    assert.equal(cap.canStart(b1), false);
    advance(5000);
    assert.equal(cap.canStart(b1), true);
  });

  it('roomOf counts buffered deliveries against the lane, origin and account', () => {
    const { book, cap, start } = setup();
    const a1 = book.lane('acct_1', A);
    start(a1);
    book.buffer(a1, { d: {} as never, claimedAt: 0 });
    assert.deepEqual(cap.roomOf({ account_id: 'acct_1', origin: A }), { lane: 2, origin: 2, account: 4 });
    assert.deepEqual(cap.roomOf({ account_id: 'acct_2', origin: B }), { lane: 4, origin: 4, account: 6 });
  });

  it('planClaim: nothing due, nothing asked; a blocked or buffering lane is skipped', () => {
    const { book, health, cap } = setup();
    book.lane('acct_1', A);
    assert.equal(cap.planClaim(100), null);
    const a1 = book.lane('acct_1', A);
    a1.due = true;
    health.finished(a1.key, 'throttled', 1000);
    assert.equal(cap.planClaim(100), null, 'throttled');
    const b1 = book.lane('acct_1', B);
    b1.due = true;
    book.buffer(b1, { d: {} as never, claimedAt: 0 });
    assert.equal(cap.planClaim(100), null, 'buffering');
  });

  it('planClaim: shares of the batch among accounts, the least loaded first', () => {
    const { book, cap, start } = setup({ total: 10, perOrigin: 10, perAccount: 10 });
    const a1 = book.lane('acct_1', A);
    const c2 = book.lane('acct_2', 'https://c.example.test');
    a1.due = c2.due = true;
    assert.deepEqual(asObject(cap.planClaim(4)), { [a1.key]: 2, [c2.key]: 2 });
    start(book.lane('acct_1', 'https://d.example.test'), 3);
    assert.deepEqual(asObject(cap.planClaim(3)), { [c2.key]: 2, [a1.key]: 1 }, 'the idle account first, and the odd one');
  });

  it('planClaim: what can start, then behind the full account a buffer one cap deep', () => {
    const { book, cap } = setup({ total: 10, perOrigin: 4, perAccount: 6 });
    const a1 = book.lane('acct_1', A);
    const b1 = book.lane('acct_1', B);
    a1.due = b1.due = true;
    // 4 + 2 can start (origin A's cap, then the account's); then up to twice the caps: A 8, the account 12
    assert.deepEqual(asObject(cap.planClaim(100)), { [a1.key]: 8, [b1.key]: 4 });
    assert.deepEqual(asObject(cap.planClaim(5)), { [a1.key]: 3, [b1.key]: 2 }, 'within the batch');
  });

  it('planClaim: behind a full origin a lane buffers one cap deep; behind the full total it does not', () => {
    const { book, cap, start } = setup({ total: 10, perOrigin: 2, perAccount: 10 });
    const a1 = book.lane('acct_1', A);
    start(a1, 2);
    a1.due = true;
    assert.deepEqual(asObject(cap.planClaim(100)), { [a1.key]: 2 }, 'one origin cap deep');
    const t = setup({ total: 2, perOrigin: 5, perAccount: 10 });
    const b1 = t.book.lane('acct_1', B);
    t.start(t.book.lane('acct_2', A), 2);
    b1.due = true;
    assert.equal(t.cap.planClaim(100), null);
  });

  it('hungriestDueLoad: the least loaded account with a lane due, unbuffered and unblocked', () => {
    const { book, health, cap, start } = setup();
    assert.equal(cap.hungriestDueLoad(), Infinity);
    const a1 = book.lane('acct_1', A);
    const b2 = book.lane('acct_2', B);
    start(a1, 3);
    start(b2, 1);
    a1.due = b2.due = true;
    assert.equal(cap.hungriestDueLoad(), 1);
    health.finished(b2.key, 'throttled', 1000);
    assert.equal(cap.hungriestDueLoad(), 3, 'a blocked lane is not hungry');
  });
});
