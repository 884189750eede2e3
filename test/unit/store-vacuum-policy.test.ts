import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_UPKEEP, upkeepPlan } from '../../src/store/vacuum-policy.js';

const table = (live: number, dead: number, modifiedSinceAnalyze = 0, analyzed = true) => ({ table: 't', live, dead, modifiedSinceAnalyze, analyzed });

describe('upkeepPlan', () => {
  it('vacuums at the floor of dead rows on a small table, at its share on a large one', () => {
    assert.equal(upkeepPlan(table(1_000, DEFAULT_UPKEEP.minDead - 1)).vacuum, false);
    assert.equal(upkeepPlan(table(1_000, DEFAULT_UPKEEP.minDead)).vacuum, true);
    const live = 1_000_000;
    const share = DEFAULT_UPKEEP.deadFraction * live; // 20,000
    assert.equal(upkeepPlan(table(live, share - 1)).vacuum, false);
    assert.equal(upkeepPlan(table(live, share)).vacuum, true);
  });

  it('analyzes a table never analyzed, or one changed past its thresholds', () => {
    assert.equal(upkeepPlan(table(0, 0, 0, false)).analyze, false, 'empty: nothing to learn');
    assert.equal(upkeepPlan(table(10, 0, 0, false)).analyze, true);
    assert.equal(upkeepPlan(table(10, 0, DEFAULT_UPKEEP.minModified - 1)).analyze, false);
    assert.equal(upkeepPlan(table(10, 0, DEFAULT_UPKEEP.minModified)).analyze, true);
    assert.equal(upkeepPlan(table(1_000_000, 0, 99_999)).analyze, false);
    assert.equal(upkeepPlan(table(1_000_000, 0, 100_000)).analyze, true);
  });

  it('takes thresholds of its own', () => {
    const strict = { minDead: 1, deadFraction: 0, minModified: 1, modifiedFraction: 0 };
    assert.deepEqual(upkeepPlan(table(5, 1, 1), strict), { vacuum: true, analyze: true });
    assert.deepEqual(upkeepPlan(table(5, 0, 0), strict), { vacuum: false, analyze: false });
  });
});
