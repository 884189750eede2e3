import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucketLimiter } from '../../src/core/token-bucket.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

describe('TokenBucketLimiter', () => {
  it('allows a burst, then refuses', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 3, now: c.now });
    assert.deepEqual(l.take('a'), { ok: true });
    assert.deepEqual(l.take('a'), { ok: true });
    assert.deepEqual(l.take('a'), { ok: true });
    assert.deepEqual(l.take('a'), { ok: false, retryAfterSeconds: 1 });
  });

  it('keys are independent', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
    assert.equal(l.take('a').ok, true);
    assert.equal(l.take('a').ok, false);
    assert.equal(l.take('b').ok, true);
  });

  it('refills at ratePerSecond', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ ratePerSecond: 10, burst: 2, now: c.now });
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, false);
    c.advance(99);
    assert.equal(l.take('k').ok, false);
    c.advance(1); // 100 ms at 10/s = 1 token
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, false);
    c.advance(60_000); // long idle: refills to burst only
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, false);
  });

  it('refused takes do not spend tokens', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
    l.take('k');
    for (let i = 0; i < 10; i++) assert.equal(l.take('k').ok, false);
    c.advance(1000);
    assert.equal(l.take('k').ok, true);
  });

  it('retryAfterSeconds is the ceiling of the time to one token, at least 1', () => {
    const c = clock();
    const slow = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1, now: c.now });
    slow.take('k');
    assert.deepEqual(slow.take('k'), { ok: false, retryAfterSeconds: 10 });
    c.advance(2500);
    assert.deepEqual(slow.take('k'), { ok: false, retryAfterSeconds: 8 }); // 7.5 s left
    c.advance(7400);
    assert.deepEqual(slow.take('k'), { ok: false, retryAfterSeconds: 1 }); // 0.1 s left
    c.advance(100);
    assert.deepEqual(slow.take('k'), { ok: true });

    const fast = new TokenBucketLimiter({ ratePerSecond: 200, burst: 1, now: c.now });
    fast.take('k');
    assert.deepEqual(fast.take('k'), { ok: false, retryAfterSeconds: 1 });
  });

  it('tolerates the clock stepping back', () => {
    const c = clock(10_000);
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, now: c.now });
    l.take('k');
    c.set(5_000);
    const r = l.take('k');
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.retryAfterSeconds >= 1);
  });

  it('fractional burst rounds down in effect', () => {
    const c = clock();
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 2.5, now: c.now });
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, true);
    assert.equal(l.take('k').ok, false);
  });

  it('validates options', () => {
    assert.throws(() => new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 }), RangeError);
    assert.throws(() => new TokenBucketLimiter({ ratePerSecond: NaN, burst: 1 }), RangeError);
    assert.throws(() => new TokenBucketLimiter({ ratePerSecond: 1, burst: 0 }), RangeError);
    assert.throws(() => new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 0 }), RangeError);
  });

  it('uses Date.now by default', () => {
    const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1 });
    assert.equal(l.take('k').ok, true);
    const r = l.take('k');
    assert.equal(r.ok, false);
  });

  describe('bounded memory', () => {
    it('never tracks more than maxKeys', () => {
      const c = clock();
      const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 5, maxKeys: 100, now: c.now });
      for (let i = 0; i < 1000; i++) {
        l.take(`k${i}`);
        assert.ok(l.size <= 100, String(l.size));
      }
    });

    it('drops refilled (full) buckets first and keeps busy ones', () => {
      const c = clock();
      const l = new TokenBucketLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 10, now: c.now });
      // "hot" is drained and stays drained; the others refill.
      l.take('hot');
      l.take('hot');
      for (let i = 0; i < 9; i++) l.take(`idle${i}`);
      c.advance(1000); // idle buckets (1 token left) are full again; hot has 1 token
      l.take('hot'); // hot: 0 tokens
      assert.equal(l.size, 10);
      l.take('new'); // overflow → sweep
      assert.ok(l.size <= 10);
      // hot was not reset to full: still refused.
      assert.equal(l.take('hot').ok, false);
      assert.equal(l.take('new').ok, true);
    });

    it('falls back to dropping the least recently used', () => {
      const c = clock();
      const l = new TokenBucketLimiter({ ratePerSecond: 0.001, burst: 1, maxKeys: 10, now: c.now });
      for (let i = 0; i < 10; i++) l.take(`k${i}`); // all drained, none full
      l.take('k9'); // touch k9: most recently used
      l.take('k10'); // overflow
      assert.ok(l.size <= 10);
      assert.equal(l.take('k9').ok, false, 'recently used kept');
      assert.equal(l.take('k0').ok, true, 'oldest dropped (starts full again)');
    });
  });
});
