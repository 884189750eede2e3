/**
 * decideAfterAttempt: everything one attempt's result decides (outcome, next status, retry time,
 * the lane's breaker verdict and throttle, disabling the destination), branch by branch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AttemptFacts, type AttemptedDelivery, decideAfterAttempt } from '../../src/core/attempt-decision.js';
import { DEFAULT_POLICY, type DeliveryPolicy } from '../../src/core/policy.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const noJitter: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'none' };

function delivery(over: Partial<AttemptedDelivery> = {}): AttemptedDelivery {
  return { id: 'q_1', attempt_count: 0, attempt_base: 0, policy: noJitter, destination_id: null, ...over };
}
const response = (status: number, retryAfter: string | null = null): AttemptFacts => ({ kind: 'response', status, retryAfter });
/** A random source that fails the test if drawn from. */
const noDraw = (): number => assert.fail('the jitter was drawn for an attempt with no retry');

describe('decideAfterAttempt', () => {
  it('2xx: delivered, no retry, the lane is up', () => {
    for (const status of [200, 201, 204, 299]) {
      assert.deepEqual(decideAfterAttempt(response(status), delivery(), NOW, noDraw), {
        outcome: 'delivered',
        httpStatus: status,
        status: 'delivered',
        retryInMs: null,
        nextAttemptAt: null,
        verdict: 'up',
        throttleMs: null,
        disableReason: null,
      });
    }
  });

  it('a terminal 4xx is rejected: no retry, the target answered; its Retry-After is ignored', () => {
    for (const status of [400, 401, 403, 404, 422]) {
      const v = decideAfterAttempt(response(status, '30'), delivery(), NOW, noDraw);
      assert.equal(v.outcome, 'rejected', String(status));
      assert.equal(v.status, 'rejected');
      assert.equal(v.retryInMs, null);
      assert.equal(v.nextAttemptAt, null);
      assert.equal(v.verdict, 'up');
      assert.equal(v.throttleMs, null);
      assert.equal(v.disableReason, null);
    }
  });

  it('a retryable 4xx (408, 425) fails and is retried on the schedule; the target answered', () => {
    for (const status of [408, 425]) {
      const v = decideAfterAttempt(response(status), delivery({ attempt_count: 1 }), NOW, noDraw);
      assert.equal(v.outcome, 'failed', String(status));
      assert.equal(v.status, 'retrying');
      assert.equal(v.retryInMs, 2000, 'second attempt: base · 2');
      assert.equal(v.nextAttemptAt, NOW + 2000);
      assert.equal(v.verdict, 'up');
      assert.equal(v.throttleMs, null);
    }
  });

  it('410 Gone to a destination’s delivery disables the destination (and is rejected)', () => {
    const v = decideAfterAttempt(response(410), delivery({ destination_id: 'dst_1', id: 'q_gone' }), NOW, noDraw);
    assert.equal(v.outcome, 'rejected');
    assert.equal(v.status, 'rejected');
    assert.equal(v.disableReason, 'The destination answered 410 Gone to delivery q_gone at 2026-01-15T12:00:00.000Z');
  });

  it('410 Gone to a send (no destination) disables nothing; no other status disables', () => {
    assert.equal(decideAfterAttempt(response(410), delivery(), NOW, noDraw).disableReason, null);
    for (const status of [200, 404, 500, 503]) {
      assert.equal(decideAfterAttempt(response(status), delivery({ destination_id: 'dst_1' }), NOW, () => 0).disableReason, null, String(status));
    }
  });

  it('429 / 503 with an honoured Retry-After: retried no sooner, and the lane is throttled for it', () => {
    for (const status of [429, 503]) {
      const v = decideAfterAttempt(response(status, '30'), delivery(), NOW, noDraw);
      assert.equal(v.outcome, 'failed');
      assert.equal(v.status, 'retrying');
      assert.equal(v.retryInMs, 30_000, 'Retry-After over the 1 s backoff');
      assert.equal(v.nextAttemptAt, NOW + 30_000);
      assert.equal(v.verdict, 'throttled');
      assert.equal(v.throttleMs, 30_000);
    }
  });

  it('an HTTP-date Retry-After counts from the time the attempt ended', () => {
    const v = decideAfterAttempt(response(503, 'Thu, 15 Jan 2026 12:00:45 GMT'), delivery(), NOW, noDraw);
    assert.equal(v.retryInMs, 45_000);
    assert.equal(v.throttleMs, 45_000);
  });

  it('the throttle (and the retry) are capped at max_delay_ms', () => {
    const v = decideAfterAttempt(response(429, '7200'), delivery({ policy: { ...noJitter, max_delay_ms: 60_000 } }), NOW, noDraw);
    assert.equal(v.throttleMs, 60_000);
    assert.equal(v.retryInMs, 60_000);
  });

  it('429 / 503 whose Retry-After the delivery does not honour: the schedule alone, the lane is down', () => {
    const policy = { ...noJitter, respect_retry_after: false };
    for (const status of [429, 503]) {
      const v = decideAfterAttempt(response(status, '30'), delivery({ policy }), NOW, noDraw);
      assert.equal(v.retryInMs, 1000);
      assert.equal(v.verdict, 'down');
      assert.equal(v.throttleMs, null);
    }
  });

  it('429 / 502 / 503 / 504 with no (or an unreadable) Retry-After: the lane is down, not throttled', () => {
    for (const [status, retryAfter] of [[429, null], [502, null], [503, 'soon'], [504, '-5']] as const) {
      const v = decideAfterAttempt(response(status, retryAfter), delivery(), NOW, noDraw);
      assert.equal(v.outcome, 'failed', String(status));
      assert.equal(v.retryInMs, 1000);
      assert.equal(v.verdict, 'down');
      assert.equal(v.throttleMs, null);
    }
  });

  it('500 with Retry-After: the delivery waits for it, the lane is neither throttled nor down', () => {
    const v = decideAfterAttempt(response(500, '20'), delivery(), NOW, noDraw);
    assert.equal(v.outcome, 'failed');
    assert.equal(v.status, 'retrying');
    assert.equal(v.retryInMs, 20_000);
    assert.equal(v.verdict, 'up');
    assert.equal(v.throttleMs, null);
  });

  it('a Retry-After on a 2xx or terminal 4xx is not read', () => {
    assert.equal(decideAfterAttempt(response(200, '30'), delivery(), NOW, noDraw).throttleMs, null);
    assert.equal(decideAfterAttempt(response(404, '30'), delivery(), NOW, noDraw).retryInMs, null);
  });

  it('timeouts and network errors: retried on the schedule, the lane is down', () => {
    for (const kind of ['timeout', 'network_error'] as const) {
      const v = decideAfterAttempt({ kind }, delivery({ attempt_count: 2 }), NOW, noDraw);
      assert.deepEqual(v, {
        outcome: kind,
        httpStatus: null,
        status: 'retrying',
        retryInMs: 4000,
        nextAttemptAt: NOW + 4000,
        verdict: 'down',
        throttleMs: null,
        disableReason: null,
      });
    }
  });

  it('blocked by the address guard: dead-lettered at once, the lane is told nothing', () => {
    const v = decideAfterAttempt({ kind: 'blocked' }, delivery({ destination_id: 'dst_1' }), NOW, noDraw);
    assert.equal(v.outcome, 'blocked');
    assert.equal(v.status, 'dead_letter');
    assert.equal(v.retryInMs, null);
    assert.equal(v.nextAttemptAt, null);
    assert.equal(v.verdict, 'neutral');
    assert.equal(v.disableReason, null);
  });

  it('the last attempt allowed: a retryable failure is dead-lettered (a throttle still holds the lane)', () => {
    const policy = { ...noJitter, max_attempts: 3 };
    for (const facts of [{ kind: 'timeout' }, { kind: 'network_error' }, response(500), response(503, '10')] as AttemptFacts[]) {
      const v = decideAfterAttempt(facts, delivery({ attempt_count: 2, policy }), NOW, noDraw);
      assert.equal(v.status, 'dead_letter', facts.kind);
      assert.equal(v.retryInMs, null);
      assert.equal(v.nextAttemptAt, null);
    }
    assert.equal(decideAfterAttempt(response(503, '10'), delivery({ attempt_count: 2, policy }), NOW, noDraw).throttleMs, 10_000);
    // one short of the last: still retried
    assert.equal(decideAfterAttempt({ kind: 'timeout' }, delivery({ attempt_count: 1, policy }), NOW, noDraw).status, 'retrying');
  });

  it('attempts are counted from attempt_base (a replay has its budget afresh)', () => {
    const policy = { ...noJitter, max_attempts: 2 };
    const v = decideAfterAttempt({ kind: 'timeout' }, delivery({ attempt_count: 5, attempt_base: 5, policy }), NOW, noDraw);
    assert.equal(v.status, 'retrying');
    assert.equal(v.retryInMs, 1000, 'the first retry of the replay');
    assert.equal(decideAfterAttempt({ kind: 'timeout' }, delivery({ attempt_count: 6, attempt_base: 5, policy }), NOW, noDraw).status, 'dead_letter');
  });

  it('full jitter draws once per retry, never below an honoured Retry-After', () => {
    const policy: DeliveryPolicy = { ...DEFAULT_POLICY, jitter: 'full' };
    let draws = 0;
    const half = (): number => {
      draws++;
      return 0.5;
    };
    assert.equal(decideAfterAttempt({ kind: 'timeout' }, delivery({ attempt_count: 3, policy }), NOW, half).retryInMs, 4000);
    assert.equal(draws, 1);
    assert.equal(decideAfterAttempt(response(429, '7'), delivery({ attempt_count: 3, policy }), NOW, half).retryInMs, 7000);
    assert.equal(draws, 2);
  });
});
