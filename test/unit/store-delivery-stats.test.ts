import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MINUTE_MS, StatsTally, minutesOf, summarizeStats } from '../../src/store/delivery-stats.js';

describe('StatsTally', () => {
  it('adds up one row per account, mode and minute', () => {
    const t = new StatsTally();
    const m = 1000 * MINUTE_MS;
    t.accepted('a', 'live', m + 5, 3);
    t.accepted('a', 'live', m + 59_999, 1);
    t.accepted('a', 'test', m, 1);
    t.attempt('a', 'live', m + 1, 'delivered', 'delivered');
    t.attempt('a', 'live', m + MINUTE_MS, 'failed', 'retrying');
    t.attempt('a', 'live', m + MINUTE_MS, 'timeout', 'dead_letter');
    t.attempt('b', 'live', m, 'failed', 'rejected');
    const rows = t.all.map((r) => ({ ...r }));
    assert.deepEqual(rows, [
      { account_id: 'a', mode: 'live', minute: 1000, accepted: 4, attempts: 1, failures: 0, delivered: 1, retrying: 0, rejected: 0, dead_letter: 0 },
      { account_id: 'a', mode: 'test', minute: 1000, accepted: 1, attempts: 0, failures: 0, delivered: 0, retrying: 0, rejected: 0, dead_letter: 0 },
      { account_id: 'a', mode: 'live', minute: 1001, accepted: 0, attempts: 2, failures: 2, delivered: 0, retrying: 1, rejected: 0, dead_letter: 1 },
      { account_id: 'b', mode: 'live', minute: 1000, accepted: 0, attempts: 1, failures: 1, delivered: 0, retrying: 0, rejected: 1, dead_letter: 0 },
    ]);
  });
});

describe('summarizeStats', () => {
  it('totals the window and puts each minute in its bucket', () => {
    const since = 2000 * MINUTE_MS;
    const row = (minute: number, attempts: number, failures: number, accepted = 0) => ({
      minute,
      accepted,
      attempts,
      failures,
      delivered: attempts - failures,
      retrying: failures,
      rejected: 0,
      dead_letter: 0,
    });
    const s = summarizeStats([row(2000, 2, 1, 5), row(2004, 1, 0), row(2005, 3, 3), row(2059, 1, 0, 1)], since, 5 * MINUTE_MS, 12);
    assert.deepEqual(s.totals, { accepted: 6, delivered: 3, retrying: 4, rejected: 0, dead_letter: 0 });
    assert.equal(s.buckets.length, 12);
    assert.deepEqual(s.buckets[0], { attempts: 3, failures: 1 });
    assert.deepEqual(s.buckets[1], { attempts: 3, failures: 3 });
    assert.deepEqual(s.buckets[11], { attempts: 1, failures: 0 });
    assert.equal(s.buckets.reduce((n, b) => n + b.attempts, 0), 7);
  });

  it('minutesOf covers every minute the window touches', () => {
    assert.deepEqual(minutesOf(10 * MINUTE_MS, 20 * MINUTE_MS), { first: 10, end: 20 });
    assert.deepEqual(minutesOf(10 * MINUTE_MS + 1, 20 * MINUTE_MS + 1), { first: 10, end: 21 });
  });
});
