import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, POLICY_BOUNDS, resolvePolicy, type DeliveryPolicy } from '../../src/core/policy.js';

function ok(input: unknown, base?: DeliveryPolicy): DeliveryPolicy {
  const r = base ? resolvePolicy(input, base) : resolvePolicy(input);
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}
function bad(input: unknown): { field: string; message: string } {
  const r = resolvePolicy(input);
  assert.equal(r.ok, false);
  if (r.ok) throw new Error('unreachable');
  return r;
}

describe('DEFAULT_POLICY and POLICY_BOUNDS', () => {
  it('match the seed', () => {
    assert.deepEqual({ ...DEFAULT_POLICY }, {
      max_attempts: 5,
      backoff: 'exponential',
      base_delay_ms: 1000,
      max_delay_ms: 3_600_000,
      jitter: 'full',
      timeout_ms: 10_000,
      respect_retry_after: true,
    });
    assert.deepEqual(POLICY_BOUNDS.max_attempts, { min: 1, max: 25 });
    assert.deepEqual(POLICY_BOUNDS.base_delay_ms, { min: 100, max: 60_000 });
    assert.deepEqual(POLICY_BOUNDS.max_delay_ms, { min: 1000, max: 43_200_000 });
    assert.deepEqual(POLICY_BOUNDS.timeout_ms, { min: 1000, max: 30_000 });
  });
});

describe('resolvePolicy', () => {
  it('undefined and null give the base (a copy)', () => {
    assert.deepEqual(ok(undefined), { ...DEFAULT_POLICY });
    assert.deepEqual(ok(null), { ...DEFAULT_POLICY });
    assert.notEqual(ok(undefined), DEFAULT_POLICY);
    assert.deepEqual(ok({}), { ...DEFAULT_POLICY });
  });

  it('refuses non-objects with field delivery', () => {
    for (const v of [[], [1], 'x', 5, true, new Date(), () => 1]) {
      assert.equal(bad(v).field, 'delivery', String(v));
    }
  });

  const numeric = ['max_attempts', 'base_delay_ms', 'max_delay_ms', 'timeout_ms'] as const;
  for (const name of numeric) {
    const { min, max } = POLICY_BOUNDS[name];
    it(`clamps ${name} to [${min}, ${max}]`, () => {
      assert.equal(ok({ [name]: min - 1 })[name], min, 'below min');
      assert.equal(ok({ [name]: min })[name], min, 'at min');
      assert.equal(ok({ [name]: max })[name], max, 'at max');
      assert.equal(ok({ [name]: max + 1 })[name], max, 'above max');
      assert.equal(ok({ [name]: -5 })[name], min, 'negative');
      assert.equal(ok({ [name]: 0 })[name], min, 'zero');
      assert.equal(ok({ [name]: -0 })[name], min, 'negative zero');
      assert.equal(ok({ [name]: 1e300 })[name], max, 'huge');
      assert.equal(ok({ [name]: Number.MAX_VALUE })[name], max, 'MAX_VALUE');
      assert.equal(ok({ [name]: min + 1.9 })[name], min + 1, 'fraction truncated');
      assert.equal(ok({ [name]: max + 0.5 })[name], max, 'fraction above max');
      assert.equal(ok({ [name]: min - 0.5 })[name], min, 'fraction below min');
    });

    it(`refuses non-numbers for ${name}`, () => {
      for (const v of ['5', '', null, true, false, {}, [], [5], NaN, Infinity, -Infinity, 5n]) {
        const e = bad({ [name]: v });
        assert.equal(e.field, `delivery.${name}`, String(v));
        assert.match(e.message, /must be a number/);
      }
    });
  }

  it('truncates toward zero (not floor) before clamping', () => {
    assert.equal(ok({ max_attempts: 7.99 }).max_attempts, 7);
    assert.equal(ok({ base_delay_ms: 2500.5 }).base_delay_ms, 2500);
    assert.equal(ok({ max_attempts: 1.5 }).max_attempts, 1);
    assert.equal(ok({ max_attempts: 25.9 }).max_attempts, 25);
    assert.equal(ok({ max_attempts: 0.9 }).max_attempts, 1);
    assert.equal(ok({ max_attempts: -0.9 }).max_attempts, 1);
  });

  it('accepts each backoff word', () => {
    assert.equal(ok({ backoff: 'exponential' }).backoff, 'exponential');
    assert.equal(ok({ backoff: 'fixed' }).backoff, 'fixed');
  });

  it('refuses other backoff values and lists the words', () => {
    for (const v of ['linear', 'Fixed', 'EXPONENTIAL', '', ' fixed', 1, null, true, {}, []]) {
      const e = bad({ backoff: v });
      assert.equal(e.field, 'delivery.backoff');
      assert.match(e.message, /exponential/);
      assert.match(e.message, /fixed/);
    }
  });

  it('accepts each jitter word', () => {
    assert.equal(ok({ jitter: 'full' }).jitter, 'full');
    assert.equal(ok({ jitter: 'none' }).jitter, 'none');
  });

  it('refuses other jitter values and lists the words', () => {
    for (const v of ['equal', 'Full', 'NONE', '', 0, null, false]) {
      const e = bad({ jitter: v });
      assert.equal(e.field, 'delivery.jitter');
      assert.match(e.message, /full/);
      assert.match(e.message, /none/);
    }
  });

  it('respect_retry_after must be a boolean', () => {
    assert.equal(ok({ respect_retry_after: false }).respect_retry_after, false);
    assert.equal(ok({ respect_retry_after: true }).respect_retry_after, true);
    for (const v of ['true', 1, 0, null, {}]) {
      assert.equal(bad({ respect_retry_after: v }).field, 'delivery.respect_retry_after');
    }
  });

  it('ignores unknown keys', () => {
    assert.deepEqual(ok({ foo: 1, max_attempt: 'x', Backoff: 3 }), { ...DEFAULT_POLICY });
  });

  it('takes missing fields from base', () => {
    const base: DeliveryPolicy = {
      max_attempts: 3,
      backoff: 'fixed',
      base_delay_ms: 500,
      max_delay_ms: 5000,
      jitter: 'none',
      timeout_ms: 2000,
      respect_retry_after: false,
    };
    assert.deepEqual(ok(undefined, base), base);
    assert.deepEqual(ok({ max_attempts: 8 }, base), { ...base, max_attempts: 8 });
  });

  it('combines several fields (seed example)', () => {
    assert.deepEqual(ok({ max_attempts: 8, base_delay_ms: 2000 }), {
      ...DEFAULT_POLICY,
      max_attempts: 8,
      base_delay_ms: 2000,
    });
  });

  it('reports the first bad field in policy order', () => {
    assert.equal(bad({ timeout_ms: 'x', max_attempts: 'y' }).field, 'delivery.max_attempts');
    assert.equal(bad({ jitter: 'x', backoff: 'y' }).field, 'delivery.backoff');
  });

  it('accepts a null-prototype object', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.max_attempts = 2;
    assert.equal(ok(o).max_attempts, 2);
  });
});
