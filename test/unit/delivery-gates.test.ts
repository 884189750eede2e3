/**
 * When the dispatcher claims for destinations with flow control (gates.ts): on new work (always
 * while some destination has flow control, else at most once per GATE_LOOK_MS), after a completion
 * that may have freed room for gated work, and at the time a gated claim's answer names (its
 * wall-clock nextAt carried onto the monotonic clock, GATE_LOOK_MS while in-flight bound). Pure:
 * the times are a fake monotonic clock and a wall clock set apart from it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GATE_LOOK_MS, type GatedClaimAnswer, Gates } from '../../src/delivery/gates.js';

/** The wall clock runs this far ahead of the monotonic one (as Date.now does of performance.now). */
const WALL0 = Date.UTC(2026, 11, 7, 10, 0, 0);

const answer = (a: Partial<GatedClaimAnswer> = {}): GatedClaimAnswer => ({
  claimed: [],
  anyGates: true,
  nextAt: null,
  inFlightBound: false,
  ...a,
});

const noneFull = { gated: false, totalWasFull: false, originWasFull: false, accountWasFull: false };

describe('Gates', () => {
  it('a new dispatcher claims gated work on new work and wakes for nothing', () => {
    const g = new Gates();
    assert.equal(g.wantedOnNewWork(0), true);
    assert.equal(g.nextWakeAt(), Infinity);
  });

  it('while some destination has flow control, every signal of new work claims gated work', () => {
    const g = new Gates();
    g.claimAsked(1_000);
    g.claimAnswered(answer({ anyGates: true }), 10, 1_001, WALL0 + 1_001);
    assert.equal(g.wantedOnNewWork(1_001), true);
    assert.equal(g.wantedOnNewWork(1_002), true);
  });

  it('with none under flow control, new work claims gated work at most once per GATE_LOOK_MS from the last asking', () => {
    const g = new Gates();
    g.claimAsked(1_000);
    g.claimAnswered(answer({ anyGates: false }), 10, 1_020, WALL0 + 1_020);
    assert.equal(g.wantedOnNewWork(1_000 + GATE_LOOK_MS - 1), false, 'timed from when it was asked, not answered');
    assert.equal(g.wantedOnNewWork(1_000 + GATE_LOOK_MS), true);
    g.claimAsked(1_300);
    assert.equal(g.wantedOnNewWork(1_301), false);
    g.claimAnswered(answer({ anyGates: true }), 10, 1_302, WALL0 + 1_302);
    assert.equal(g.wantedOnNewWork(1_303), true, 'a destination came under flow control');
  });

  it('a gate held back by its rate is looked at again when its wall-clock nextAt comes, on the monotonic clock', () => {
    const g = new Gates();
    g.claimAsked(500);
    g.claimAnswered(answer({ nextAt: WALL0 + 2_000 }), 10, 600, WALL0 + 1_000);
    assert.equal(g.nextWakeAt(), 600 + 1_000, '1 s after the answer came back');
  });

  it('a gate bound by in flight elsewhere is looked at again GATE_LOOK_MS later, or at its nextAt if sooner', () => {
    const g = new Gates();
    g.claimAnswered(answer({ inFlightBound: true }), 10, 600, WALL0);
    assert.equal(g.nextWakeAt(), 600 + GATE_LOOK_MS);
    g.claimAnswered(answer({ inFlightBound: true, nextAt: WALL0 + 5_000 }), 10, 700, WALL0);
    assert.equal(g.nextWakeAt(), 700 + GATE_LOOK_MS, 'the rate is later: the in-flight look comes first');
    g.claimAnswered(answer({ inFlightBound: true, nextAt: WALL0 + 100 }), 10, 800, WALL0);
    assert.equal(g.nextWakeAt(), 800 + 100, 'the rate is sooner');
  });

  it('each answer replaces the last look it set; a claim turn drops it', () => {
    const g = new Gates();
    g.claimAnswered(answer({ nextAt: WALL0 + 2_000 }), 10, 0, WALL0);
    assert.equal(g.nextWakeAt(), 2_000);
    g.claimAnswered(answer(), 10, 100, WALL0 + 100);
    assert.equal(g.nextWakeAt(), Infinity, 'nothing held back any more');
    g.claimAnswered(answer({ nextAt: WALL0 + 2_000 }), 10, 0, WALL0);
    g.claimTurn();
    assert.equal(g.nextWakeAt(), Infinity, 'with no room, a completion asks again');
  });

  it('an answer that took all its room asks for more at once', () => {
    const g = new Gates();
    assert.equal(g.claimAnswered(answer({ claimed: [1, 2] }), 3, 0, WALL0), false);
    assert.equal(g.claimAnswered(answer({ claimed: [1, 2, 3] }), 3, 0, WALL0), true);
  });

  it('a completion claims gated work for its own gate, a full total, or (with gates) a full origin or account', () => {
    const g = new Gates();
    assert.equal(g.wantedAfterCompletion(noneFull), false);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, gated: true }), true);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, totalWasFull: true }), true);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, originWasFull: true }), true);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, accountWasFull: true }), true);
    g.claimAnswered(answer({ anyGates: false }), 10, 0, WALL0);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, originWasFull: true }), false, 'no gates: a full origin has none behind it');
    assert.equal(g.wantedAfterCompletion({ ...noneFull, accountWasFull: true }), false);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, totalWasFull: true }), true);
    assert.equal(g.wantedAfterCompletion({ ...noneFull, gated: true }), true);
  });
});
