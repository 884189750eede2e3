/** RFC 3339 date-times as deliveries cursors: what is accepted, the instant it names, what is refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRfc3339, strictlyBeforeBound } from '../../src/core/rfc3339.js';
import { decodeDeliveryCursor, encodeCursor, encodeDeliveryCursor } from '../../src/store/cursor.js';
import { InvalidCursorError } from '../../src/store/store.js';

const T = Date.UTC(2026, 5, 10, 14, 22, 10);

describe('parseRfc3339', () => {
  for (const [text, ms] of [
    ['2026-06-10T14:22:10Z', T],
    ['2026-06-10t14:22:10z', T],
    ['2026-06-10T14:22:10.5Z', T + 500],
    ['2026-06-10T14:22:10.123Z', T + 123],
    ['2026-06-10T14:22:10.1239999Z', T + 123],
    ['2026-06-10T16:22:10+02:00', T],
    ['2026-06-10T16:22:10 02:00', T], // an unencoded "+" in a query string arrives as a space
    ['2026-06-10T09:52:10-04:30', T],
    ['2026-06-10T14:22:10+00:00', T],
    ['2026-06-10T14:22:10-00:00', T],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
    ['0001-01-01T00:00:00Z', -62135596800000],
    ['1969-12-31T23:59:59.999Z', -1],
  ] as const) {
    it(`${text} → ${new Date(ms).toISOString()}`, () => {
      assert.equal(parseRfc3339(text)?.ms, ms);
    });
  }

  for (const text of [
    '',
    '2026-06-10',
    '2026-06-10T14:22:10',
    '2026-06-10T14:22Z',
    '2026-06-10 14:22:10Z',
    '2026-6-10T14:22:10Z',
    '2026-06-10T14:22:10.Z',
    '2026-06-10T14:22:10+0200',
    '2026-06-10T14:22:10+02',
    '2026-13-10T14:22:10Z',
    '2026-00-10T14:22:10Z',
    '2026-06-31T14:22:10Z',
    '2026-02-29T14:22:10Z',
    '1900-02-29T00:00:00Z',
    '2026-06-10T24:00:00Z',
    '2026-06-10T14:60:10Z',
    '2026-06-10T14:22:61Z',
    '2026-06-10T14:22:10+24:00',
    '2026-06-10T14:22:10+02:60',
    ' 2026-06-10T14:22:10Z',
    '2026-06-10T14:22:10Z ',
    '+2026-06-10T14:22:10Z',
    '１２３４-06-10T14:22:10Z',
    'yesterday',
  ]) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.equal(parseRfc3339(text), null);
    });
  }
});

describe('strictlyBeforeBound', () => {
  it('is the instant itself for whole milliseconds, and the next millisecond for a finer instant', () => {
    assert.equal(strictlyBeforeBound('2026-06-10T14:22:10Z'), T);
    assert.equal(strictlyBeforeBound('2026-06-10T14:22:10.000000Z'), T);
    assert.equal(strictlyBeforeBound('2026-06-10T14:22:10.0001Z'), T + 1, 'a delivery at T is before T + 0.1 ms');
    assert.equal(strictlyBeforeBound('2026-06-10T14:22:10.9999Z'), T + 1000);
    assert.equal(strictlyBeforeBound('garbage'), null);
  });
});

describe('deliveries cursors', () => {
  it('reads a time, a plain next_cursor and a time-bound next_cursor; refuses anything else', () => {
    assert.deepEqual(decodeDeliveryCursor('2026-06-10T14:22:10Z'), { before_seq: null, created_before: T });
    assert.deepEqual(decodeDeliveryCursor(encodeCursor(42)), { before_seq: 42, created_before: null });
    assert.deepEqual(decodeDeliveryCursor(encodeDeliveryCursor(42, null)), { before_seq: 42, created_before: null });
    assert.deepEqual(decodeDeliveryCursor(encodeDeliveryCursor(42, T)), { before_seq: 42, created_before: T });
    assert.deepEqual(decodeDeliveryCursor(encodeDeliveryCursor(7, -5)), { before_seq: 7, created_before: -5 });
    for (const bad of ['', 'not-a-cursor', '2026-06-10', Buffer.from('d2:1').toString('base64url'), Buffer.from('d2:x:1').toString('base64url')]) {
      assert.throws(() => decodeDeliveryCursor(bad), InvalidCursorError, bad);
    }
    // the same bytes with padding or a different alphabet are not ours
    const padded = `${encodeDeliveryCursor(42, T)}=`;
    assert.throws(() => decodeDeliveryCursor(padded), InvalidCursorError);
  });
});
