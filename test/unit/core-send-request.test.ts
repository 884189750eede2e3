import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_METADATA_BYTES,
  parseIdempotencyKey,
  parseMetadata,
  parseSendRequest,
  type SendRequest,
} from '../../src/core/send-request.js';
import { DEFAULT_POLICY } from '../../src/core/policy.js';

const T = 'https://your-app.com/webhook';

function ok(input: unknown, allowHttp = false): SendRequest {
  const r = parseSendRequest(input, { allowHttp });
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}
function bad(input: unknown, allowHttp = false): { field: string; message: string } {
  const r = parseSendRequest(input, { allowHttp });
  assert.equal(r.ok, false, JSON.stringify(input));
  if (r.ok) throw new Error('unreachable');
  return r;
}

describe('parseSendRequest', () => {
  it('minimal request gets every default', () => {
    assert.deepEqual(ok({ target: T }), {
      target: T,
      host: 'your-app.com',
      ipLiteral: false,
      method: 'POST',
      headers: {},
      body: null,
      policy: { ...DEFAULT_POLICY },
      idempotency_key: null,
      metadata: null,
      sign: false,
    });
  });

  it('the seed example', () => {
    const r = ok({
      target: T,
      body: { event: 'order.paid', id: 'ord_123' },
      idempotency_key: 'ord_123-paid',
      delivery: { max_attempts: 8, base_delay_ms: 2000 },
    });
    assert.equal(r.body?.toString(), '{"event":"order.paid","id":"ord_123"}');
    assert.deepEqual(r.headers, { 'Content-Type': 'application/json' });
    assert.equal(r.idempotency_key, 'ord_123-paid');
    assert.equal(r.policy.max_attempts, 8);
    assert.equal(r.policy.base_delay_ms, 2000);
  });

  it('everything set', () => {
    const r = ok({
      target: 'https://Hooks.Example.com:8443/a?b=1',
      method: 'PUT',
      headers: { 'X-Custom': 'v', Authorization: 'secret', 'content-type': 'text/plain' },
      body: 'raw',
      delivery: { max_attempts: 100, jitter: 'none' },
      idempotency_key: 'k-1',
      metadata: { order: 1 },
      sign: true,
    });
    assert.equal(r.target, 'https://hooks.example.com:8443/a?b=1');
    assert.equal(r.host, 'hooks.example.com');
    assert.equal(r.method, 'PUT');
    assert.deepEqual(r.headers, { 'X-Custom': 'v', 'content-type': 'text/plain' });
    assert.equal(r.body?.toString(), 'raw');
    assert.equal(r.policy.max_attempts, 25);
    assert.equal(r.policy.jitter, 'none');
    assert.deepEqual(r.metadata, { order: 1 });
    assert.equal(r.sign, true);
  });

  it('GET drops the body', () => {
    const r = ok({ target: T, method: 'GET', body: { a: 1 } });
    assert.equal(r.body, null);
    assert.deepEqual(r.headers, {});
  });

  it('IP-literal target is flagged', () => {
    const r = ok({ target: 'https://2130706433/' });
    assert.equal(r.ipLiteral, true);
    assert.equal(r.host, '127.0.0.1');
  });

  it('request must be a plain object', () => {
    for (const v of [undefined, null, 'x', 1, [], [{ target: T }]]) assert.equal(bad(v).field, 'request');
  });

  it('target is required', () => {
    for (const v of [{}, { target: null }, { target: undefined }]) {
      const e = bad(v);
      assert.equal(e.field, 'target');
      assert.equal(e.message, 'target is required');
    }
    assert.equal(bad({ target: 5 }).field, 'target');
    assert.equal(bad({ target: 'http://a.example/' }).field, 'target');
    assert.equal(ok({ target: 'http://a.example/' }, true).target, 'http://a.example/');
  });

  it('each field reports its own name', () => {
    assert.equal(bad({ target: T, method: 'post' }).field, 'method');
    assert.equal(bad({ target: T, method: null }).field, 'method');
    assert.equal(bad({ target: T, headers: 'x' }).field, 'headers');
    assert.equal(bad({ target: T, headers: { 'a b': 'x' } }).field, 'headers.a b');
    assert.equal(bad({ target: T, body: 5 }).field, 'body');
    assert.equal(bad({ target: T, body: true }).field, 'body');
    assert.equal(bad({ target: T, delivery: [] }).field, 'delivery');
    assert.equal(bad({ target: T, delivery: { backoff: 'linear' } }).field, 'delivery.backoff');
    assert.equal(bad({ target: T, idempotency_key: 5 }).field, 'idempotency_key');
    assert.equal(bad({ target: T, metadata: 'x' }).field, 'metadata');
    assert.equal(bad({ target: T, sign: 'true' }).field, 'sign');
    assert.equal(bad({ target: T, sign: null }).field, 'sign');
    assert.equal(bad({ target: T, sign: 1 }).field, 'sign');
  });

  it('first error wins in field order', () => {
    const all = {
      target: 'ftp://x',
      method: 'x',
      headers: 1,
      body: 1,
      delivery: 1,
      idempotency_key: 1,
      metadata: 1,
      sign: 1,
    };
    const order = ['target', 'method', 'headers', 'body', 'delivery', 'idempotency_key', 'metadata', 'sign'];
    const input: Record<string, unknown> = { ...all };
    for (const field of order) {
      assert.equal(bad(input).field, field);
      input[field] = field === 'target' ? T : undefined;
    }
    assert.equal(parseSendRequest(input, { allowHttp: false }).ok, true);
  });

  it('null optional fields mean absent', () => {
    const r = ok({ target: T, headers: null, body: null, delivery: null, idempotency_key: null, metadata: null });
    assert.deepEqual(r.headers, {});
    assert.equal(r.body, null);
    assert.equal(r.idempotency_key, null);
    assert.equal(r.metadata, null);
  });

  it('ignores unknown top-level keys', () => {
    assert.equal(ok({ target: T, foo: 1, queue_id: 'x' }).target, T);
  });

  it('sign defaults to false and accepts booleans', () => {
    assert.equal(ok({ target: T }).sign, false);
    assert.equal(ok({ target: T, sign: false }).sign, false);
    assert.equal(ok({ target: T, sign: true }).sign, true);
  });
});

describe('parseIdempotencyKey', () => {
  it('absent → null; printable ASCII up to 255', () => {
    assert.deepEqual(parseIdempotencyKey(undefined), { ok: true, value: null });
    assert.deepEqual(parseIdempotencyKey(null), { ok: true, value: null });
    const all = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    assert.deepEqual(parseIdempotencyKey(all), { ok: true, value: all });
    assert.deepEqual(parseIdempotencyKey('k'.repeat(255)), { ok: true, value: 'k'.repeat(255) });
  });
  it('refuses too long, empty, non-printable, non-ASCII, non-strings', () => {
    for (const v of ['k'.repeat(256), '', 'a\nb', 'a\tb', 'a\u0000', 'a\u007f', 'café', '😀', 5, true, {}, []]) {
      const r = parseIdempotencyKey(v);
      assert.equal(r.ok, false, JSON.stringify(v));
      if (!r.ok) {
        assert.equal(r.field, 'idempotency_key');
        assert.match(r.message, /255/);
      }
    }
  });
});

describe('parseMetadata', () => {
  it('absent → null; object kept', () => {
    assert.deepEqual(parseMetadata(undefined), { ok: true, value: null });
    assert.deepEqual(parseMetadata(null), { ok: true, value: null });
    assert.deepEqual(parseMetadata({}), { ok: true, value: {} });
    assert.deepEqual(parseMetadata({ a: [1, { b: null }] }), { ok: true, value: { a: [1, { b: null }] } });
  });
  it('must be a plain object', () => {
    for (const v of ['x', 1, true, [], [1], new Date()]) {
      const r = parseMetadata(v);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.field, 'metadata');
    }
  });
  it(`at most ${MAX_METADATA_BYTES} bytes of JSON`, () => {
    const overhead = '{"k":""}'.length;
    const at = { k: 'x'.repeat(MAX_METADATA_BYTES - overhead) };
    assert.equal(JSON.stringify(at).length, MAX_METADATA_BYTES);
    assert.equal(parseMetadata(at).ok, true);
    const over = { k: 'x'.repeat(MAX_METADATA_BYTES - overhead + 1) };
    const r = parseMetadata(over);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.field, 'metadata');
  });
  it('counts bytes, not characters', () => {
    const overhead = '{"k":""}'.length;
    const n = Math.floor((MAX_METADATA_BYTES - overhead) / 2) + 1; // é is 2 bytes
    assert.equal(parseMetadata({ k: 'é'.repeat(n) }).ok, false);
    assert.equal(parseMetadata({ k: 'e'.repeat(n) }).ok, true);
  });
  it('refuses values that cannot be encoded', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(parseMetadata(cyclic).ok, false);
  });
});
