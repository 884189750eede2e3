import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ID_PREFIX, isId, newId, newIdAt } from '../../src/core/ids.js';

const CROCKFORD = /^[0-9a-hjkmnp-tv-z]{26}$/;

/** Decodes the 48-bit timestamp of an id (first 10 chars after the prefix). */
function timeOf(id: string): number {
  const body = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  let t = 0;
  for (const c of body) t = t * 32 + '0123456789abcdefghjkmnpqrstvwxyz'.indexOf(c);
  return t;
}

describe('ID_PREFIX', () => {
  it('has the documented prefixes', () => {
    assert.deepEqual({ ...ID_PREFIX }, {
      delivery: 'hr',
      account: 'acct',
      key: 'key',
      event: 'evt',
      destination: 'dest',
      subscription: 'sub',
    });
  });
});

describe('newId', () => {
  it('is prefix_ + 26 lower-case Crockford base32 chars', () => {
    for (const prefix of Object.values(ID_PREFIX)) {
      const id = newId(prefix);
      assert.ok(id.startsWith(`${prefix}_`), id);
      const rest = id.slice(prefix.length + 1);
      assert.match(rest, CROCKFORD);
      assert.equal(isId(id, prefix), true);
    }
  });

  it('encodes the current time in the first 10 chars', () => {
    const before = Date.now();
    const id = newId('hr');
    const after = Date.now();
    const t = timeOf(id);
    assert.ok(t >= before && t <= after + 1, `${before} <= ${t} <= ${after}`);
  });

  it('sorts by creation, including many in the same millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => newId('hr'));
    const sorted = [...ids].sort();
    assert.deepEqual(sorted, ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('increments within one ms and never goes backwards with the clock', () => {
    const t = Date.now() + 10_000_000; // beyond anything issued so far
    const a = newIdAt('hr', t);
    const b = newIdAt('hr', t);
    const c = newIdAt('hr', t - 5000); // clock stepped back
    const d = newIdAt('hr', t + 1);
    assert.ok(a < b && b < c && c < d, [a, b, c, d].join(' '));
    assert.equal(timeOf(b), t);
    assert.equal(timeOf(c), t);
    assert.equal(timeOf(d), t + 1);
    // Ids after this test still sort after d.
    assert.ok(newId('hr') > d);
  });

  it('different ms differ in random part too (not a counter)', () => {
    const t = Date.now() + 20_000_000;
    const a = newIdAt('x', t).slice(12);
    const b = newIdAt('x', t + 1).slice(12);
    assert.notEqual(a, b);
  });

  it('isId refuses other shapes', () => {
    assert.equal(isId('hr_' + 'a'.repeat(26), 'hr'), true);
    assert.equal(isId('hr_' + 'a'.repeat(25), 'hr'), false);
    assert.equal(isId('hr_' + 'A'.repeat(26), 'hr'), false);
    assert.equal(isId('hr_' + 'u'.repeat(26), 'hr'), false);
    assert.equal(isId('evt_' + 'a'.repeat(26), 'hr'), false);
  });
});
