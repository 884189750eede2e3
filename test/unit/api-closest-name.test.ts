/** "Did you mean …?" for a misspelt field: the nearest known name within two edits, case ignored, or none. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestName } from '../../src/api/closest-name.js';

const SEND = ['target', 'method', 'headers', 'body', 'delivery', 'idempotency_key', 'sign', 'metadata'];
const POLICY = ['max_attempts', 'backoff', 'base_delay_ms', 'max_delay_ms', 'jitter', 'timeout_ms', 'respect_retry_after'];

describe('closestName', () => {
  it('finds the field a typo meant: a letter missing, extra, swapped or changed, or another case', () => {
    assert.equal(closestName('max_attemps', POLICY), 'max_attempts');
    assert.equal(closestName('max_atttempts', POLICY), 'max_attempts');
    assert.equal(closestName('bakcoff', POLICY), 'backoff');
    assert.equal(closestName('timeout', POLICY), null); // three edits from timeout_ms
    assert.equal(closestName('Target', SEND), 'target');
    assert.equal(closestName('idempotencyKey', SEND), 'idempotency_key');
    assert.equal(closestName('idempotency-key', SEND), 'idempotency_key');
  });

  it('suggests nothing for a name that is far from every known one, or short enough to match anything', () => {
    assert.equal(closestName('foo', SEND), null);
    assert.equal(closestName('data', ['type', 'body', 'idempotency_key', 'metadata']), null);
    assert.equal(closestName('id', ['ab', 'to']), null);
    assert.equal(closestName('', SEND), null);
    assert.equal(closestName('x'.repeat(10_000), SEND), null);
    assert.equal(closestName('target', []), null);
  });

  it('picks the nearest of several candidates', () => {
    assert.equal(closestName('max_delay', ['max_delay_ms', 'base_delay_ms']), null); // 3 edits
    assert.equal(closestName('max_delay_m', ['max_delay_ms', 'base_delay_ms']), 'max_delay_ms');
    assert.equal(closestName('bas_delay_ms', ['max_delay_ms', 'base_delay_ms']), 'base_delay_ms');
  });
});
