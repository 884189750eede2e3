import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelayMs } from '../../src/core/retry.js';
import { DEFAULT_POLICY, type DeliveryPolicy } from '../../src/core/policy.js';

const noJitter: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'none' };
const zero = (): number => 0;
const almostOne = (): number => 0.9999999999999999;

describe('retryDelayMs', () => {
  it('exponential: base·2^(n-1)', () => {
    const seq = [1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(noJitter, n, null));
    assert.deepEqual(seq, [1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('fixed: always base', () => {
    const p: DeliveryPolicy = { ...noJitter, backoff: 'fixed', base_delay_ms: 750 };
    assert.deepEqual([1, 2, 3, 10, 25].map((n) => retryDelayMs(p, n, null)), [750, 750, 750, 750, 750]);
  });

  it('caps at max_delay_ms', () => {
    const p: DeliveryPolicy = { ...noJitter, max_delay_ms: 5000 };
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => retryDelayMs(p, n, null)), [1000, 2000, 4000, 5000, 5000]);
    const f: DeliveryPolicy = { ...noJitter, backoff: 'fixed', base_delay_ms: 60_000, max_delay_ms: 1000 };
    assert.equal(retryDelayMs(f, 1, null), 1000);
  });

  it('does not overflow for huge attempt numbers', () => {
    for (const n of [25, 60, 1024, 1e6, Number.MAX_SAFE_INTEGER, Infinity]) {
      const d = retryDelayMs(noJitter, n, null);
      assert.equal(d, DEFAULT_POLICY.max_delay_ms, String(n));
    }
  });

  it('treats n < 1 or NaN as the first retry', () => {
    assert.equal(retryDelayMs(noJitter, 0, null), 1000);
    assert.equal(retryDelayMs(noJitter, -3, null), 1000);
    assert.equal(retryDelayMs(noJitter, NaN, null), 1000);
    assert.equal(retryDelayMs(noJitter, 2.7, null), 2000);
  });

  it('full jitter draws in [0, delay], both ends reachable', () => {
    const p: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'full' };
    assert.equal(retryDelayMs(p, 1, null, zero), 0);
    assert.equal(retryDelayMs(p, 1, null, almostOne), 1000);
    assert.equal(retryDelayMs(p, 3, null, almostOne), 4000);
    assert.equal(retryDelayMs(p, 3, null, () => 0.5), 2000);
    assert.equal(retryDelayMs(p, 30, null, almostOne), p.max_delay_ms);
    // A misbehaving random never escapes the range.
    assert.equal(retryDelayMs(p, 1, null, () => 1), 1000);
    assert.equal(retryDelayMs(p, 1, null, () => -1), 0);
    assert.equal(retryDelayMs(p, 1, null, () => NaN), 0);
  });

  it('full jitter with Math.random stays in range and is an integer', () => {
    const p: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'full' };
    for (let i = 0; i < 500; i++) {
      const d = retryDelayMs(p, 4, null);
      assert.ok(Number.isInteger(d) && d >= 0 && d <= 8000, String(d));
    }
  });

  it('no jitter ignores random', () => {
    let called = false;
    retryDelayMs(noJitter, 1, null, () => ((called = true), 0));
    assert.equal(called, false);
  });

  it('Retry-After raises the delay when larger', () => {
    assert.equal(retryDelayMs(noJitter, 1, 30_000), 30_000);
    assert.equal(retryDelayMs(noJitter, 3, 500), 4000, 'smaller Retry-After does not lower it');
    assert.equal(retryDelayMs(noJitter, 1, 0), 1000);
  });

  it('Retry-After is a floor even under full jitter', () => {
    const p: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'full' };
    assert.equal(retryDelayMs(p, 1, 700, zero), 700);
    assert.equal(retryDelayMs(p, 1, 5000, almostOne), 5000);
  });

  it('Retry-After is still capped at max_delay_ms', () => {
    const p: DeliveryPolicy = { ...noJitter, max_delay_ms: 60_000 };
    assert.equal(retryDelayMs(p, 1, 3_600_000), 60_000);
    assert.equal(retryDelayMs(p, 1, Infinity), 60_000);
  });

  it('Retry-After is ignored when respect_retry_after is false', () => {
    const p: DeliveryPolicy = { ...noJitter, respect_retry_after: false };
    assert.equal(retryDelayMs(p, 1, 30_000), 1000);
  });

  it('Retry-After fractions round up; negative and NaN are ignored', () => {
    assert.equal(retryDelayMs(noJitter, 1, 1500.2), 1501);
    assert.equal(retryDelayMs(noJitter, 1, -5), 1000);
    assert.equal(retryDelayMs(noJitter, 1, NaN), 1000);
  });

  it('returns integers', () => {
    const p: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'full' };
    assert.ok(Number.isInteger(retryDelayMs(p, 2, null, () => 0.123456)));
  });
});
