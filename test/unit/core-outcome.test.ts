import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ATTEMPT_OUTCOMES,
  DELIVERY_STATUSES,
  MAX_RETRY_AFTER_MS,
  classifyHttpStatus,
  isDeliveryStatus,
  parseHttpDate,
  parseRetryAfter,
  statusAfterAttempt,
} from '../../src/core/outcome.js';

describe('classifyHttpStatus', () => {
  const table: Array<[number, string]> = [
    [100, 'failed'],
    [101, 'failed'],
    [199, 'failed'],
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [300, 'failed'],
    [301, 'failed'],
    [302, 'failed'],
    [304, 'failed'],
    [307, 'failed'],
    [399, 'failed'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [404, 'rejected'],
    [408, 'failed'],
    [409, 'rejected'],
    [410, 'rejected'],
    [413, 'rejected'],
    [422, 'rejected'],
    [425, 'failed'],
    [429, 'failed'],
    [499, 'rejected'],
    [500, 'failed'],
    [502, 'failed'],
    [503, 'failed'],
    [504, 'failed'],
    [599, 'failed'],
    [600, 'failed'],
    [999, 'failed'],
    [0, 'failed'],
    [-1, 'failed'],
    [200.5, 'failed'],
    [NaN, 'failed'],
  ];
  for (const [status, expected] of table) {
    it(`${status} → ${expected}`, () => assert.equal(classifyHttpStatus(status), expected));
  }
});

describe('delivery statuses', () => {
  it('lists the five statuses', () => {
    assert.deepEqual([...DELIVERY_STATUSES], ['queued', 'retrying', 'delivered', 'rejected', 'dead_letter']);
  });
  it('isDeliveryStatus', () => {
    for (const s of DELIVERY_STATUSES) assert.equal(isDeliveryStatus(s), true);
    for (const s of ['', 'Queued', 'dead-letter', 'failed', 'timeout', 'toString', 'constructor']) {
      assert.equal(isDeliveryStatus(s), false, s);
    }
  });
});

describe('statusAfterAttempt', () => {
  const max = 5;
  it('delivered is terminal at any attempt', () => {
    assert.deepEqual(statusAfterAttempt('delivered', 1, max), { status: 'delivered', retry: false });
    assert.deepEqual(statusAfterAttempt('delivered', max, max), { status: 'delivered', retry: false });
  });
  it('rejected is terminal at any attempt', () => {
    assert.deepEqual(statusAfterAttempt('rejected', 1, max), { status: 'rejected', retry: false });
    assert.deepEqual(statusAfterAttempt('rejected', max, max), { status: 'rejected', retry: false });
  });
  it('blocked goes straight to dead_letter', () => {
    assert.deepEqual(statusAfterAttempt('blocked', 1, max), { status: 'dead_letter', retry: false });
    assert.deepEqual(statusAfterAttempt('blocked', max, max), { status: 'dead_letter', retry: false });
  });
  for (const outcome of ['failed', 'timeout', 'network_error'] as const) {
    it(`${outcome} retries until the last attempt, then dead_letter`, () => {
      assert.deepEqual(statusAfterAttempt(outcome, 1, max), { status: 'retrying', retry: true });
      assert.deepEqual(statusAfterAttempt(outcome, max - 1, max), { status: 'retrying', retry: true });
      assert.deepEqual(statusAfterAttempt(outcome, max, max), { status: 'dead_letter', retry: false });
      assert.deepEqual(statusAfterAttempt(outcome, max + 1, max), { status: 'dead_letter', retry: false });
      assert.deepEqual(statusAfterAttempt(outcome, 1, 1), { status: 'dead_letter', retry: false });
    });
  }
  it('covers every outcome', () => {
    for (const o of ATTEMPT_OUTCOMES) assert.ok(isDeliveryStatus(statusAfterAttempt(o, 1, 3).status));
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 5, 10, 14, 22, 10); // Wed, 10 Jun 2026 14:22:10 GMT

  it('delta-seconds', () => {
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('1', now), 1000);
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('  30  ', now), 30_000);
    assert.equal(parseRetryAfter('\t5\t', now), 5000);
    assert.equal(parseRetryAfter('007', now), 7000);
  });

  it('caps absurd delta-seconds', () => {
    assert.equal(parseRetryAfter('99999999999', now), MAX_RETRY_AFTER_MS);
    assert.equal(parseRetryAfter('9'.repeat(400), now), MAX_RETRY_AFTER_MS);
    assert.ok(Number.isFinite(parseRetryAfter('9'.repeat(400), now)));
  });

  it('IMF-fixdate in the future and in the past', () => {
    assert.equal(parseRetryAfter('Wed, 10 Jun 2026 14:23:10 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 10 Jun 2026 14:22:10 GMT', now), 0);
    assert.equal(parseRetryAfter('Tue, 09 Jun 2026 14:22:10 GMT', now), 0);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(' Wed, 10 Jun 2026 14:22:15 GMT ', now), 5000);
  });

  it('caps far-future dates', () => {
    assert.equal(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', now), MAX_RETRY_AFTER_MS);
  });

  it('RFC 850 and asctime dates', () => {
    assert.equal(parseRetryAfter('Wednesday, 10-Jun-26 14:22:40 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed Jun 10 14:22:40 2026', now), 30_000);
    assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', now), 0);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', now), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('garbage → null', () => {
    for (const v of [
      '',
      '   ',
      '-1',
      '1.5',
      '+5',
      '5s',
      '1e3',
      'soon',
      'Infinity',
      'NaN',
      '0x10',
      '2026-06-10T14:23:10Z',
      'Wed, 10 Jun 2026 14:23:10',
      'Wed, 10 Jun 2026 14:23:10 UTC',
      'Wed, 31 Feb 2026 14:23:10 GMT',
      'Wed, 10 Jun 2026 25:23:10 GMT',
      'Xyz, 10 Jun 2026 14:23:10 GMT',
      'Wed, 10 Foo 2026 14:23:10 GMT',
      '5 5',
    ]) {
      assert.equal(parseRetryAfter(v, now), null, JSON.stringify(v));
    }
    assert.equal(parseRetryAfter(undefined, now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });

  it('never returns NaN for a bad clock', () => {
    assert.equal(parseRetryAfter('Wed, 10 Jun 2026 14:23:10 GMT', NaN), null);
    assert.equal(parseRetryAfter('5', NaN), 5000);
  });
});
