/** core/limits: which limits apply to an account, the boundary of each check, and what the API says. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKLOG_RETRY_AFTER_SECONDS,
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  PENDING_STATUSES,
  backlogAllows,
  backlogFullMessage,
  effectiveLimits,
  limitExceededMessage,
  withinCount,
} from '../../src/core/limits.js';
import { loadConfig } from '../../src/config.js';

const defaults = { max_destinations: 10, max_keys: 5, max_domains: 3, max_pending_deliveries: 100 };

describe('effectiveLimits', () => {
  it('is the defaults when the account has none of its own', () => {
    assert.deepEqual(effectiveLimits(null, defaults), defaults);
    assert.deepEqual(effectiveLimits(undefined, defaults), defaults);
    assert.deepEqual(effectiveLimits({}, defaults), defaults);
  });

  it("an account's own limit beats the default, each one alone; null or absent keeps the default", () => {
    for (const name of LIMIT_NAMES) {
      const own = effectiveLimits({ [name]: 7 }, defaults);
      assert.deepEqual(own, { ...defaults, [name]: 7 }, name);
      assert.deepEqual(effectiveLimits({ [name]: null }, defaults), defaults, `${name}: null`);
    }
    assert.deepEqual(effectiveLimits({ max_keys: 1, max_pending_deliveries: 1_000_000_000 }, defaults), {
      ...defaults,
      max_keys: 1,
      max_pending_deliveries: 1_000_000_000,
    });
  });

  it('an own limit may be lower or higher than the default', () => {
    assert.equal(effectiveLimits({ max_destinations: 1 }, defaults).max_destinations, 1);
    assert.equal(effectiveLimits({ max_destinations: 50_000 }, defaults).max_destinations, 50_000);
  });

  it('never changes the defaults it is given', () => {
    const d = { ...defaults };
    effectiveLimits({ max_domains: 99 }, d);
    assert.deepEqual(d, defaults);
  });
});

describe('the defaults and their settings', () => {
  it('are the issue\'s: 1,000 destinations, 100 keys, 100 domains, 1,000,000 pending deliveries', () => {
    assert.deepEqual(DEFAULT_LIMITS, { max_destinations: 1000, max_keys: 100, max_domains: 100, max_pending_deliveries: 1_000_000 });
    const c = loadConfig({});
    assert.deepEqual([c.maxDestinations, c.maxKeys, c.maxDomains, c.maxPendingDeliveries], [1000, 100, 100, 1_000_000]);
  });

  it('come from HAREPOST_MAX_* (flags mirror them), whole numbers from 1', () => {
    const c = loadConfig({
      HAREPOST_MAX_DESTINATIONS: '5',
      HAREPOST_MAX_KEYS: '6',
      HAREPOST_MAX_DOMAINS: '7',
      HAREPOST_MAX_PENDING_DELIVERIES: '8',
    });
    assert.deepEqual([c.maxDestinations, c.maxKeys, c.maxDomains, c.maxPendingDeliveries], [5, 6, 7, 8]);
    assert.equal(loadConfig({}, { 'max-keys': '9' }).maxKeys, 9);
    for (const env of ['HAREPOST_MAX_DESTINATIONS', 'HAREPOST_MAX_KEYS', 'HAREPOST_MAX_DOMAINS', 'HAREPOST_MAX_PENDING_DELIVERIES']) {
      for (const bad of ['0', '-1', '1.5', 'many']) {
        assert.throws(() => loadConfig({ [env]: bad }), new RegExp(env), `${env}=${bad}`);
      }
    }
  });
});

describe('count limits', () => {
  it('room for one more up to the limit, none at it', () => {
    assert.equal(withinCount(0, 1, 1), true);
    assert.equal(withinCount(9, 1, 10), true);
    assert.equal(withinCount(10, 1, 10), false);
    assert.equal(withinCount(11, 1, 10), false, 'past a lowered limit');
  });

  it('says which limit, its value, that both modes count, and what to do', () => {
    const m = limitExceededMessage('max_destinations', 1000);
    assert.match(m, /max_destinations \(1,000 destinations, live and test together\)/);
    assert.match(m, /delete one, or ask the operator to raise the limit/);
    assert.match(limitExceededMessage('max_keys', 100), /max_keys \(100 unrevoked API keys/);
    assert.match(limitExceededMessage('max_domains', 3), /max_domains \(3 domains/);
  });
});

describe('max_pending_deliveries', () => {
  it('counts queued and retrying deliveries: the statuses that are not final', () => {
    assert.deepEqual([...PENDING_STATUSES], ['queued', 'retrying']);
  });

  it('accepts what fits exactly, refuses one more, and all of a call or none', () => {
    assert.equal(backlogAllows(99, 1, 100), true);
    assert.equal(backlogAllows(100, 1, 100), false);
    assert.equal(backlogAllows(95, 5, 100), true);
    assert.equal(backlogAllows(96, 5, 100), false, 'an event to 5 destinations with room for 4');
  });

  it('a call adding nothing (an event no destination subscribes to) always fits, even past a lowered limit', () => {
    assert.equal(backlogAllows(100, 0, 100), true);
    assert.equal(backlogAllows(500, 0, 100), true);
    assert.equal(backlogAllows(500, 1, 100), false);
  });

  it('the 429 says how many wait, the limit, that nothing was accepted, and to retry later', () => {
    const one = backlogFullMessage(1_000_000, 1, 1_000_000);
    assert.match(one, /1,000,000 deliveries not final yet/);
    assert.match(one, /this delivery would take it past max_pending_deliveries \(1,000,000\)/);
    assert.match(one, /nothing was accepted/);
    assert.match(one, /Retry after Retry-After seconds/);
    assert.match(backlogFullMessage(3, 2500, 10), /these 2,500 deliveries/);
    assert.ok(Number.isInteger(BACKLOG_RETRY_AFTER_SECONDS) && BACKLOG_RETRY_AFTER_SECONDS >= 1);
  });

  it("a replay's 429 says it replays, how many it would add, and that nothing (or which part) was replayed", () => {
    const bulk = backlogFullMessage(4, 1500, 10, 0);
    assert.match(bulk, /4 deliveries not final yet/);
    assert.match(bulk, /replaying these 1,500 deliveries would take it past max_pending_deliveries \(10\)/);
    assert.match(bulk, /nothing was replayed/);
    assert.match(bulk, /narrow the filters/);
    assert.doesNotMatch(bulk, /accepted/);
    const one = backlogFullMessage(10, 1, 10, 0);
    assert.match(one, /replaying this delivery would take it past/);
    assert.doesNotMatch(one, /narrow the filters/, 'one delivery has no filters to narrow');
    const part = backlogFullMessage(9_000, 1000, 10_000, 2000);
    assert.match(part, /the first 2,000 of this replay were queued again/);
    assert.match(part, /the rest were not/);
  });
});
