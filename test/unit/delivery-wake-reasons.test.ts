/**
 * The dispatcher's wake-up reasons: each is set through its method, taken once by the loop, and a
 * kick or a due time before the end of a sleep ends it early.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LaneState } from '../../src/delivery/lanes.js';
import { WakeReasons } from '../../src/delivery/wake-reasons.js';

const lane = (): LaneState => ({ key: 'a o', account: 'a', origin: 'o', inFlight: 0, waiting: [], due: false });

function taken(w: WakeReasons): { look: boolean; gated: boolean; claim: boolean } {
  return { look: w.takeLook(), gated: w.takeGated(), claim: w.takeClaim() };
}

describe('WakeReasons', () => {
  it('a new dispatcher looks, claims gated work and claims; each reason is taken once', () => {
    const w = new WakeReasons();
    assert.deepEqual(taken(w), { look: true, gated: true, claim: true });
    assert.deepEqual(taken(w), { look: false, gated: false, claim: false });
    assert.equal(w.pressing(), false);
  });

  it('laneDue marks the lane and asks for a claim; dueLater marks it only; drained clears it', () => {
    const w = new WakeReasons();
    taken(w);
    const l = lane();
    w.dueLater(l);
    assert.equal(l.due, true);
    assert.deepEqual(taken(w), { look: false, gated: false, claim: false });
    w.drained(l);
    assert.equal(l.due, false);
    w.laneDue(l);
    assert.equal(l.due, true);
    assert.equal(w.pressing(), true);
    assert.deepEqual(taken(w), { look: false, gated: false, claim: true });
  });

  it('each want sets its own reason', () => {
    const w = new WakeReasons();
    taken(w);
    w.wantLook();
    assert.deepEqual(taken(w), { look: true, gated: false, claim: false });
    w.wantGated();
    assert.deepEqual(taken(w), { look: false, gated: true, claim: false });
    w.wantClaim();
    assert.deepEqual(taken(w), { look: false, gated: false, claim: true });
    w.failed();
    assert.deepEqual(taken(w), { look: true, gated: false, claim: true });
    w.timerRang(false);
    assert.deepEqual(taken(w), { look: false, gated: true, claim: true });
    w.timerRang(true);
    assert.deepEqual(taken(w), { look: true, gated: true, claim: true });
  });

  it('a kick presses until the next round begins', () => {
    const w = new WakeReasons();
    taken(w);
    w.kick();
    assert.equal(w.pressing(), true);
    w.beginRound();
    assert.equal(w.pressing(), false);
  });

  it('a sleep runs out on its own (false) or ends early on a kick (true)', async () => {
    const w = new WakeReasons();
    assert.equal(await w.sleep(5), false);
    const woken = w.sleep(60_000);
    w.kick();
    assert.equal(await woken, true);
  });

  it('dueAt wakes a loop sleeping past that time only, and only while it sleeps on its timer', async () => {
    const w = new WakeReasons();
    taken(w);
    const later = w.sleep(60_000, 1000);
    w.dueAt(1500); // after the sleep ends: it wakes on its own in time
    w.dueAt(1000);
    assert.equal(w.pressing(), false, 'not kicked');
    w.dueAt(999);
    assert.equal(await later, true, 'woken early');
    w.awake();
    w.beginRound();
    w.dueAt(0);
    assert.equal(w.pressing(), false, 'awake: nothing to wake');
    // a pause with no timer end (after a failed round) is not cut short by a due time
    const pause = w.sleep(20);
    w.dueAt(0);
    assert.equal(await pause, false);
  });
});
