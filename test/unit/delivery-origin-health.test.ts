/**
 * The breaker's judgement of "down": which attempts count toward opening a lane, and what the
 * breaker and throttle do with each verdict (driven by a fake clock).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTEMPT_OUTCOMES, UNAVAILABLE_STATUSES, classifyHttpStatus, targetAvailability } from '../../src/core/outcome.js';
import { verdictOf } from '../../src/core/attempt-decision.js';
import { OriginHealth } from '../../src/delivery/origin-health.js';
import { laneKey } from '../../src/delivery/lanes.js';
import { duration, heldErrorText } from '../../src/delivery/held-error.js';

describe('targetAvailability: what counts toward opening the breaker', () => {
  it('no answer (connection, DNS, TLS errors and timeouts) and 429, 502, 503, 504 say the target is unavailable', () => {
    assert.equal(targetAvailability('network_error', null), 'unavailable');
    assert.equal(targetAvailability('timeout', null), 'unavailable');
    for (const status of [429, 502, 503, 504]) assert.equal(targetAvailability(classifyHttpStatus(status), status), 'unavailable', String(status));
    assert.deepEqual([...UNAVAILABLE_STATUSES].sort(), [429, 502, 503, 504]);
  });

  it('every other answer shows the target is there: 500, the other 5xx, 408, 425, 3xx, 4xx, 2xx', () => {
    for (const status of [500, 501, 505, 507, 511, 599, 408, 425, 300, 301, 302, 304, 307, 308, 400, 401, 404, 410, 422, 200, 201, 204]) {
      assert.equal(targetAvailability(classifyHttpStatus(status), status), 'answered', String(status));
    }
  });

  it('an attempt the address guard refused says nothing about the target', () => {
    assert.equal(targetAvailability('blocked', null), 'unknown');
  });

  it('is total over every outcome', () => {
    for (const o of ATTEMPT_OUTCOMES) assert.ok(['answered', 'unavailable', 'unknown'].includes(targetAvailability(o, o === 'failed' ? 500 : null)));
  });

  it('verdictOf: answered → up, unavailable → down (throttled with a Retry-After), unknown → neutral', () => {
    assert.equal(verdictOf('answered', null), 'up');
    assert.equal(verdictOf('answered', 5000), 'up');
    assert.equal(verdictOf('unavailable', null), 'down');
    assert.equal(verdictOf('unavailable', 5000), 'throttled');
    assert.equal(verdictOf('unknown', null), 'neutral');
  });
});

describe('OriginHealth per lane', () => {
  const setup = () => {
    let now = 1_000_000;
    const health = new OriginHealth({ failureThreshold: 3, probeBaseMs: 1000, probeMaxMs: 10_000, now: () => now });
    return { health, advance: (ms: number) => (now += ms), at: () => now };
  };
  const A = laneKey('acct_a', 'https://shared.example.test');
  const B = laneKey('acct_b', 'https://shared.example.test');

  it('opens a lane after the threshold of unavailable verdicts; another account’s lane at the same origin stays open to traffic', () => {
    const { health } = setup();
    for (let i = 0; i < 3; i++) health.finished(A, 'down');
    assert.equal(health.blocked(A), true);
    assert.equal(health.held(A), true);
    assert.equal(health.allowance(A, 8, 0), 0);
    assert.equal(health.blocked(B), false);
    assert.equal(health.allowance(B, 8, 0), 8);
    assert.deepEqual(health.heldKeys(), [A]);
  });

  it('500s (answered) never open it, and an answer resets the count of consecutive failures', () => {
    const { health } = setup();
    for (let i = 0; i < 50; i++) health.finished(A, verdictOf(targetAvailability('failed', 500), null));
    assert.equal(health.blocked(A), false);
    assert.equal(health.tracking(A), false, 'nothing to track for a target that answers');
    health.finished(A, 'down');
    health.finished(A, 'down');
    health.finished(A, 'up');
    health.finished(A, 'down');
    health.finished(A, 'down');
    assert.equal(health.blocked(A), false, 'two, an answer, two: never three in a row');
  });

  it('an open lane lets one probe through after the backoff; a failed probe doubles it; an answered probe closes it and ramps 1, 2, 4 …', () => {
    const { health, advance } = setup();
    for (let i = 0; i < 3; i++) health.finished(A, 'down');
    assert.equal(health.allowance(A, 8, 0), 0);
    advance(1000);
    assert.equal(health.allowance(A, 8, 0), 1, 'a probe after 1 s');
    health.started(A);
    assert.equal(health.allowance(A, 8, 1), 0, 'one probe at a time');
    assert.equal(health.finished(A, 'down'), false);
    advance(1000);
    assert.equal(health.allowance(A, 8, 0), 0, 'the next probe waits 2 s');
    advance(1000);
    assert.equal(health.allowance(A, 8, 0), 1);
    health.started(A);
    assert.equal(health.finished(A, 'up'), true, 'closed');
    assert.equal(health.held(A), false);
    assert.equal(health.allowance(A, 8, 0), 1, 'ramp 1');
    health.finished(A, 'up');
    assert.equal(health.allowance(A, 8, 0), 2, 'ramp 2');
  });

  it('a probe the address guard refused (neutral) ends its turn without counting', () => {
    const { health, advance } = setup();
    for (let i = 0; i < 3; i++) health.finished(A, 'down');
    advance(1000);
    health.started(A);
    assert.equal(health.finished(A, 'neutral'), false);
    assert.equal(health.held(A), true, 'still open');
    advance(1000);
    assert.equal(health.allowance(A, 8, 0), 1, 'the next probe on the same backoff (not doubled)');
  });

  it('a Retry-After throttles that lane only, until then', () => {
    const { health, advance } = setup();
    health.finished(A, 'throttled', 2000);
    assert.equal(health.blocked(A), true);
    assert.equal(health.held(A), true);
    assert.equal(health.blocked(B), false);
    assert.equal(health.nextChange(), 1_002_000);
    advance(2000);
    assert.equal(health.blocked(A), false);
    assert.equal(health.held(A), false);
  });
});

describe('the error of a delivery held past the bound', () => {
  it('says its target was unavailable and since when, and for how long it was held', () => {
    const text = heldErrorText('https://down.example.test', Date.UTC(2026, 11, 7, 10, 0, 0), 3_600_000);
    assert.match(text, /https:\/\/down\.example\.test has been unavailable since 2026-12-07T10:00:00\.000Z/);
    assert.match(text, /held 1 h past its scheduled attempt/);
    assert.equal(duration(90_000), '90 s');
    assert.equal(duration(120_000), '2 min');
    assert.equal(duration(1500), '1500 ms');
  });
});

describe('OriginHealth times its holds on a monotonic clock', () => {
  const A = laneKey('acct_a', 'https://jumpy.example.test');

  it('a wall clock that jumps an hour ahead does not end a probe backoff early; one that jumps back does not stretch it', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const health = new OriginHealth({ failureThreshold: 1, probeBaseMs: 200, probeMaxMs: 200 }); // its own default clock
    health.finished(A, 'down');
    assert.equal(health.blocked(A), true, 'open: the next probe is 200 ms away');
    t.mock.timers.setTime(Date.now() + 3_600_000);
    assert.equal(health.blocked(A), true, 'an hour later by the wall clock, but not by the monotonic one: still waiting');
    t.mock.timers.setTime(Date.now() - 2 * 3_600_000);
    await new Promise((r) => setTimeout(r, 250)); // real time (only Date is mocked)
    assert.equal(health.blocked(A), false, '200 ms later by the monotonic clock the probe is let through, though the wall clock went back an hour');
    assert.equal(health.allowance(A, 8, 0), 1);
  });

  it('a throttle lasts its Retry-After on the injected clock, whatever the wall clock does', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    let mono = 5_000;
    const health = new OriginHealth({ failureThreshold: 5, probeBaseMs: 1000, probeMaxMs: 10_000, now: () => mono });
    health.finished(A, 'throttled', 2000);
    t.mock.timers.setTime(10 * 3_600_000);
    assert.equal(health.blocked(A), true);
    assert.equal(health.nextChange(), 7_000, 'next change on the injected clock');
    mono += 2000;
    assert.equal(health.blocked(A), false);
  });
});
