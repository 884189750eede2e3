import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  admitByInFlight,
  admitByRate,
  gateAllowance,
  rateBurst,
  tatAfter,
} from '../../src/core/flow-control.js';

describe('rateBurst', () => {
  it('is a tenth of the rate, at least 1', () => {
    assert.deepEqual([1, 5, 10, 11, 100, 10_000].map(rateBurst), [1, 1, 1, 2, 10, 1000]);
  });
});

describe('admitByRate', () => {
  it('an idle destination starts a burst at once, then one per interval', () => {
    const first = admitByRate(100, 0, 10_000, 50);
    assert.equal(first.admitted, 10); // burst of ceil(100/10)
    assert.equal(first.tat, 10_000 + 10 * 10);
    assert.equal(first.nextAt, 10_010); // one more after one interval (10 ms)
    const again = admitByRate(100, first.tat, 10_000, 50);
    assert.equal(again.admitted, 0);
    const later = admitByRate(100, first.tat, 10_050, 50);
    assert.equal(later.admitted, 5); // 50 ms later: one each at 10, 20, 30, 40 and 50 ms
  });

  it('a rate of 1 per second admits one per second', () => {
    let tat = 0;
    const starts: number[] = [];
    for (let now = 0; now < 5_000; now += 100) {
      const a = admitByRate(1, tat, now, 10);
      for (let i = 0; i < a.admitted; i++) starts.push(now);
      tat = tatAfter(1, tat, now, a.admitted);
    }
    assert.deepEqual(starts, [0, 1000, 2000, 3000, 4000]);
  });

  it('never more than N + burst in any one-second window, and N per second over a long backlog', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 20, maxLength: 120 }),
        fc.integer({ min: 1, max: 200 }),
        (perSecond, gaps, wanted) => {
          let tat = 0;
          let now = 1_000_000;
          const starts: number[] = [];
          for (const gap of gaps) {
            now += gap;
            const a = admitByRate(perSecond, tat, now, wanted);
            assert.ok(a.admitted >= 0 && a.admitted <= wanted);
            assert.ok(a.nextAt >= now);
            for (let i = 0; i < a.admitted; i++) starts.push(now);
            tat = tatAfter(perSecond, tat, now, a.admitted);
          }
          const cap = perSecond + rateBurst(perSecond);
          for (let i = 0, j = 0; i < starts.length; i++) {
            while (starts[j]! <= starts[i]! - 1000) j++;
            assert.ok(i - j + 1 <= cap, `${i - j + 1} starts within 1 s at ${perSecond}/s`);
          }
          const span = now - 1_000_000;
          assert.ok(starts.length <= rateBurst(perSecond) + (span * perSecond) / 1000 + 1e-6);
        },
      ),
    );
  });
});

describe('admitByInFlight', () => {
  it('is what is left under the cap; no cap is unbounded', () => {
    assert.equal(admitByInFlight(3, 0), 3);
    assert.equal(admitByInFlight(3, 2), 1);
    assert.equal(admitByInFlight(3, 5), 0);
    assert.equal(admitByInFlight(null, 1_000), Number.POSITIVE_INFINITY);
  });
});

describe('gateAllowance', () => {
  const base = { perSecond: null, tat: 0, maxInFlight: null, leased: 0 };
  it('no limits: what the caller has room for', () => {
    assert.deepEqual(gateAllowance(base, 7, 0), { take: 7, inFlightBound: false, rateNextAt: null });
  });
  it('in-flight cap below the room binds', () => {
    assert.deepEqual(gateAllowance({ ...base, maxInFlight: 4, leased: 3 }, 10, 0), { take: 1, inFlightBound: true, rateNextAt: null });
    assert.deepEqual(gateAllowance({ ...base, maxInFlight: 4, leased: 4 }, 10, 0), { take: 0, inFlightBound: true, rateNextAt: null });
  });
  it('the rate binds: it says when the next may start', () => {
    // 10/s: a burst of 1, one every 100 ms; the last one went out at 4_950
    const a = gateAllowance({ ...base, perSecond: 10, tat: 5_050 }, 10, 5_000);
    assert.equal(a.take, 0);
    assert.equal(a.rateNextAt, 5_050);
    const b = gateAllowance({ ...base, perSecond: 10, tat: 5_050 }, 10, 5_060);
    assert.equal(b.take, 1);
    assert.equal(b.rateNextAt, 5_160); // 100 ms after the one it just let go
  });
  it('no room: nothing, and no rate wake-up (a free slot brings it back)', () => {
    assert.deepEqual(gateAllowance({ ...base, perSecond: 10 }, 0, 0), { take: 0, inFlightBound: false, rateNextAt: null });
  });
});
