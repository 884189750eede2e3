import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBody } from '../../src/core/body.js';

function ok(method: string, body: unknown, headers: Record<string, string> = {}) {
  const r = encodeBody(method, body, headers);
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}

describe('encodeBody', () => {
  it('string → UTF-8 bytes, no Content-Type added', () => {
    const r = ok('POST', 'héllo ☃');
    assert.deepEqual(r.body, Buffer.from('héllo ☃', 'utf8'));
    assert.deepEqual(r.headers, {});
  });

  it('a JSON-looking string is sent byte for byte', () => {
    const r = ok('POST', '{"a": 1 }', { 'X-A': '1' });
    assert.equal(r.body?.toString('utf8'), '{"a": 1 }');
    assert.deepEqual(r.headers, { 'X-A': '1' });
  });

  it('empty string → empty (non-null) body', () => {
    const r = ok('POST', '');
    assert.ok(r.body);
    assert.equal(r.body.length, 0);
  });

  it('object → JSON with Content-Type: application/json', () => {
    const r = ok('POST', { event: 'order.paid', id: 'ord_123', n: [1, 2] });
    assert.equal(r.body?.toString('utf8'), '{"event":"order.paid","id":"ord_123","n":[1,2]}');
    assert.deepEqual(r.headers, { 'Content-Type': 'application/json' });
  });

  it('array → JSON with Content-Type', () => {
    const r = ok('PUT', [1, 'two', { three: 3 }]);
    assert.equal(r.body?.toString('utf8'), '[1,"two",{"three":3}]');
    assert.deepEqual(r.headers, { 'Content-Type': 'application/json' });
    assert.equal(ok('POST', []).body?.toString(), '[]');
    assert.equal(ok('POST', {}).body?.toString(), '{}');
  });

  it('keeps a caller-given content-type in any case', () => {
    for (const name of ['content-type', 'Content-Type', 'CONTENT-TYPE', 'cOnTeNt-TyPe']) {
      const r = ok('POST', { a: 1 }, { [name]: 'application/cloudevents+json' });
      assert.deepEqual(r.headers, { [name]: 'application/cloudevents+json' });
    }
  });

  it('does not mutate the given headers', () => {
    const h = { 'X-A': '1' };
    const r = ok('POST', { a: 1 }, h);
    assert.deepEqual(h, { 'X-A': '1' });
    assert.notEqual(r.headers, h);
  });

  it('null / undefined → no body', () => {
    assert.deepEqual(ok('POST', null), { body: null, headers: {} });
    assert.deepEqual(ok('POST', undefined), { body: null, headers: {} });
  });

  it('refuses numbers, booleans and other values', () => {
    for (const v of [0, 1, -1.5, NaN, true, false, 5n, new Date(0), Buffer.from('x'), new Map(), () => 1, Symbol('s')]) {
      const r = encodeBody('POST', v, {});
      assert.equal(r.ok, false, String(typeof v));
      if (!r.ok) {
        assert.equal(r.field, 'body');
        assert.equal(r.message, 'body must be a string, an object or an array');
      }
    }
  });

  it('uses the given field', () => {
    const r = encodeBody('POST', 1, {}, 'payload');
    assert.equal(!r.ok && r.field, 'payload');
  });

  it('refuses objects that cannot be encoded', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(encodeBody('POST', cyclic, {}).ok, false);
    assert.equal(encodeBody('POST', { n: 1n }, {}).ok, false);
  });

  it('GET: body ignored, no Content-Type added', () => {
    assert.deepEqual(ok('GET', 'text'), { body: null, headers: {} });
    assert.deepEqual(ok('GET', { a: 1 }), { body: null, headers: {} });
    assert.deepEqual(ok('GET', [1]), { body: null, headers: {} });
    assert.deepEqual(ok('GET', null, { 'X-A': '1' }), { body: null, headers: { 'X-A': '1' } });
  });

  it('GET still refuses numbers and booleans', () => {
    assert.equal(encodeBody('GET', 5, {}).ok, false);
    assert.equal(encodeBody('GET', true, {}).ok, false);
  });

  it('DELETE, PATCH and PUT carry a body', () => {
    for (const m of ['DELETE', 'PATCH', 'PUT']) {
      assert.equal(ok(m, { a: 1 }).body?.toString(), '{"a":1}');
    }
  });
});
