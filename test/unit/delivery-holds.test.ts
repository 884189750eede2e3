/**
 * Origin parking: a held lane is timed from when it was first seen held (on the monotonic clock);
 * past the hold bound its expired deliveries are dead-lettered in batches, at most once a second
 * unless a batch came back full; a lane no longer held is forgotten. Fake store and clocks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Holds } from '../../src/delivery/holds.js';
import { laneKey } from '../../src/delivery/lanes.js';
import { OriginHealth } from '../../src/delivery/origin-health.js';
import type { Store } from '../../src/store/store.js';

type ExpireHeldRequest = Parameters<Store['expireHeld']>[0];

const ORIGIN = 'https://held.example.test';
const KEY = laneKey('acct_1', ORIGIN);
const WALL0 = Date.UTC(2026, 11, 7, 10, 0, 0);

function setup(answers: number[]) {
  let clock = 0;
  const calls: ExpireHeldRequest[] = [];
  const warned: object[] = [];
  const health = new OriginHealth({ failureThreshold: 1, probeBaseMs: 1000, probeMaxMs: 1000, now: () => clock });
  const holds = new Holds({
    store: {
      expireHeld: async (r: ExpireHeldRequest) => {
        calls.push(r);
        return answers.shift() ?? 0;
      },
    },
    logger: { warn: (obj: object) => void warned.push(obj) },
    health,
    now: () => WALL0 + clock,
    clock: () => clock,
    holdMaxMs: 10_000,
  });
  return { holds, health, calls, warned, advance: (ms: number) => (clock += ms), at: () => clock };
}

describe('Holds', () => {
  it('nothing held: nothing to wake for, nothing expired', async () => {
    const { holds, calls } = setup([]);
    holds.notice(WALL0, 0);
    assert.equal(holds.nextWakeAt(), Infinity);
    assert.equal(await holds.expire(), false);
    assert.equal(calls.length, 0);
  });

  it('a lane held past the bound has its expired deliveries dead-lettered, once a second', async () => {
    const { holds, health, calls, warned, advance, at } = setup([3, 0]);
    health.finished(KEY, 'down'); // threshold 1: open
    holds.notice(WALL0, 0);
    assert.equal(holds.nextWakeAt(), 10_000, 'when the bound passes');
    advance(9_999);
    holds.notice(WALL0 + at(), at());
    assert.equal(await holds.expire(), false);
    assert.equal(calls.length, 0, 'not before the bound');
    advance(1);
    assert.equal(await holds.expire(), false);
    assert.equal(calls.length, 1);
    const req = calls[0]!;
    assert.equal(req.account_id, 'acct_1');
    assert.equal(req.origin, ORIGIN);
    assert.equal(req.now, WALL0 + 10_000);
    assert.equal(req.dueBefore, WALL0, 'due longer ago than the bound');
    assert.equal(req.limit, 500);
    assert.match(req.error, /held\.example\.test/);
    assert.equal(warned.length, 1, 'what was ended is logged');
    assert.equal(holds.nextWakeAt(), 11_000, 'the next batch a second later');
    advance(999);
    await holds.expire();
    assert.equal(calls.length, 1, 'not within the second');
    advance(1);
    await holds.expire();
    assert.equal(calls.length, 2);
    assert.equal(warned.length, 1, 'nothing ended: nothing logged');
  });

  it('a full batch asks for the next at once', async () => {
    const { holds, health, calls, advance } = setup([500, 20]);
    health.finished(KEY, 'down');
    holds.notice(WALL0, 0);
    advance(10_000);
    assert.equal(await holds.expire(), true, 'more may be waiting');
    assert.equal(await holds.expire(), false);
    assert.equal(calls.length, 2);
  });

  it('a lane no longer held is forgotten; held again, it is timed afresh', async () => {
    const { holds, health, calls, advance, at } = setup([]);
    health.finished(KEY, 'down');
    holds.notice(WALL0, 0);
    advance(5_000);
    health.finished(KEY, 'up');
    holds.notice(WALL0 + at(), at());
    assert.equal(holds.nextWakeAt(), Infinity);
    health.finished(KEY, 'down');
    holds.notice(WALL0 + at(), at());
    assert.equal(holds.nextWakeAt(), 15_000);
    advance(5_000);
    await holds.expire();
    assert.equal(calls.length, 0, 'its first hold does not count');
  });
});
