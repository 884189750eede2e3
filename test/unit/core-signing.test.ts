import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { generateSigningSecret, signatureHeaders, signatureValue } from '../../src/core/signing.js';

describe('core/signing', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const a = generateSigningSecret();
    assert.match(a, /^whsec_/);
    assert.equal(Buffer.from(a.slice(6), 'base64').length, 32);
    assert.notEqual(a, generateSigningSecret());
  });

  it('signs as Standard Webhooks does (checked against the standardwebhooks package)', () => {
    const secret = generateSigningSecret();
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from('{"a":"ü"}');
    const expected = new Webhook(secret).sign('hr_1', new Date(ts * 1000), body.toString());
    assert.equal(signatureValue([secret], 'hr_1', ts, body), expected);
    const headers = signatureHeaders([secret], 'hr_1', ts, body);
    assert.deepEqual(new Webhook(secret).verify(body.toString(), headers), { a: 'ü' });
  });

  it('signs with every secret given, space-separated, in order', () => {
    const [a, b] = [generateSigningSecret(), generateSigningSecret()];
    const v = signatureValue([a, b], 'hr_2', 1700000000, null);
    const parts = v.split(' ');
    assert.equal(parts.length, 2);
    assert.equal(parts[0], signatureValue([a], 'hr_2', 1700000000, null));
    assert.equal(parts[1], signatureValue([b], 'hr_2', 1700000000, null));
  });

  it('an empty body signs the empty string', () => {
    const s = generateSigningSecret();
    assert.equal(signatureValue([s], 'm', 1, null), signatureValue([s], 'm', 1, Buffer.alloc(0)));
  });
});
