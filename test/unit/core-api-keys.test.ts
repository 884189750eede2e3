import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateApiKey, hashApiKey, keyMode, keyPrefix } from '../../src/core/api-keys.js';

describe('generateApiKey', () => {
  it('hp_live_ / hp_test_ + 40 base62', () => {
    const live = generateApiKey('live');
    const test = generateApiKey('test');
    assert.match(live, /^hp_live_[A-Za-z0-9]{40}$/);
    assert.match(test, /^hp_test_[A-Za-z0-9]{40}$/);
  });

  it('is random', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey('live')));
    assert.equal(keys.size, 200);
  });

  it('uses the whole alphabet roughly evenly', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 500; i++) {
      for (const c of generateApiKey('test').slice(8)) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.size, 62);
    // 20 000 draws / 62 ≈ 322 each; allow wide margins.
    for (const [c, n] of counts) assert.ok(n > 200 && n < 450, `${c}: ${n}`);
  });

  it('refuses an unknown mode', () => {
    assert.throws(() => generateApiKey('prod' as never), TypeError);
  });
});

describe('keyMode', () => {
  it('reads the mode of well-formed keys', () => {
    assert.equal(keyMode(generateApiKey('live')), 'live');
    assert.equal(keyMode(generateApiKey('test')), 'test');
    assert.equal(keyMode(`hp_live_${'a'.repeat(32)}`), 'live');
    assert.equal(keyMode(`hp_test_${'Z9'.repeat(50)}`), 'test');
  });
  it('null for anything else', () => {
    for (const k of [
      '',
      'hp_live_',
      `hp_live_${'a'.repeat(31)}`,
      `hp_prod_${'a'.repeat(40)}`,
      `HP_LIVE_${'a'.repeat(40)}`,
      `hp_live_${'a'.repeat(39)}-`,
      `hp_live_${'a'.repeat(39)}_`,
      ` hp_live_${'a'.repeat(40)}`,
      `hp_live_${'a'.repeat(40)}\n`,
      `sk_live_${'a'.repeat(40)}`,
      `hp_live${'a'.repeat(40)}`,
    ]) {
      assert.equal(keyMode(k), null, JSON.stringify(k));
    }
  });
});

describe('keyPrefix and hashApiKey', () => {
  it('prefix is the first 12 chars', () => {
    assert.equal(keyPrefix('hp_live_AbCdEfGhIjKl'), 'hp_live_AbCd');
    const k = generateApiKey('test');
    assert.equal(keyPrefix(k), k.slice(0, 12));
    assert.equal(keyPrefix(k).length, 12);
  });
  it('hash is sha256 hex, deterministic, distinct', () => {
    const k = generateApiKey('live');
    assert.equal(hashApiKey(k), createHash('sha256').update(k).digest('hex'));
    assert.match(hashApiKey(k), /^[0-9a-f]{64}$/);
    assert.equal(hashApiKey(k), hashApiKey(k));
    assert.notEqual(hashApiKey(k), hashApiKey(generateApiKey('live')));
    assert.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
