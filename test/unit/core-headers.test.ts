import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_HEADERS,
  STRIPPED_HEADERS,
  hasHeader,
  isStrippedHeader,
  validateHeaders,
} from '../../src/core/headers.js';

function ok(input: unknown): Record<string, string> {
  const r = validateHeaders(input);
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}
function bad(input: unknown, field?: string): { field: string; message: string } {
  const r = field === undefined ? validateHeaders(input) : validateHeaders(input, field);
  assert.equal(r.ok, false, JSON.stringify(input));
  if (r.ok) throw new Error('unreachable');
  return r;
}

const EXACT = [
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'authorization',
  'te',
  'trailer',
  'user-agent',
];

function mixedCase(s: string): string {
  return [...s].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
}

describe('stripped headers', () => {
  it('STRIPPED_HEADERS is exactly the 11 lower-case names', () => {
    assert.deepEqual([...STRIPPED_HEADERS].sort(), [...EXACT].sort());
  });

  for (const name of EXACT) {
    it(`strips ${name} in any case`, () => {
      for (const n of [name, name.toUpperCase(), mixedCase(name)]) {
        assert.equal(isStrippedHeader(n), true, n);
        assert.deepEqual(ok({ [n]: 'v', 'X-Keep': 'k' }), { 'X-Keep': 'k' });
      }
    });
  }

  for (const prefix of ['proxy-', 'x-harepost-', 'webhook-']) {
    it(`strips every ${prefix}* header`, () => {
      for (const n of [`${prefix}anything`, `${prefix.toUpperCase()}ID`, mixedCase(`${prefix}signature`), prefix]) {
        assert.equal(isStrippedHeader(n), true, n);
        assert.deepEqual(ok({ [n]: 'v' }), {});
      }
    });
  }

  it('keeps look-alikes', () => {
    for (const n of [
      'x-host',
      'hosts',
      'proxy',
      'x-proxy-a',
      'x-harepost',
      'harepost-x',
      'webhook',
      'webhooks-id',
      'x-webhook-id',
      'authorization2',
      'tea',
      'user-agents',
      'content-type',
      'x-api-key',
    ]) {
      assert.equal(isStrippedHeader(n), false, n);
    }
    assert.deepEqual(ok({ 'X-Proxy-A': '1', Webhook: '2' }), { 'X-Proxy-A': '1', Webhook: '2' });
  });

  it('specific named headers', () => {
    for (const n of ['Proxy-Authorization', 'X-Harepost-Queue-Id', 'X-Harepost-Idempotency-Key', 'X-Harepost-Signature', 'webhook-id', 'Webhook-Timestamp', 'webhook-signature']) {
      assert.equal(isStrippedHeader(n), true, n);
    }
  });
});

describe('validateHeaders', () => {
  it('undefined / null → {}', () => {
    assert.deepEqual(ok(undefined), {});
    assert.deepEqual(ok(null), {});
    assert.deepEqual(ok({}), {});
  });

  it('keeps names as given', () => {
    assert.deepEqual(ok({ 'X-Custom': 'a', 'content-type': 'text/plain', 'X-Empty': '' }), {
      'X-Custom': 'a',
      'content-type': 'text/plain',
      'X-Empty': '',
    });
  });

  it('must be a plain object', () => {
    for (const v of [[], [['a', 'b']], 'a: b', 5, true, new Map([['a', 'b']])]) {
      const e = bad(v);
      assert.equal(e.field, 'headers');
    }
    assert.equal(bad([], 'destination.headers').field, 'destination.headers');
  });

  it('accepts every tchar in names', () => {
    const name = "!#$%&'*+-.^_`|~09AZaz";
    assert.deepEqual(ok({ [name]: 'x' }), { [name]: 'x' });
  });

  it('refuses names that are not tokens', () => {
    for (const n of ['', 'a b', 'a:b', 'a/b', 'a(b)', 'a"b', 'a,b', 'a;b', 'a=b', 'a@b', 'a[b]', 'a{b}', 'a\\b', 'a?b', 'é', 'a\tb', 'a\u0000b', 'a\r\nb']) {
      const e = bad({ [n]: 'x' });
      assert.ok(e.field.startsWith('headers.'), e.field);
      assert.match(e.message, /token/);
    }
    assert.equal(bad({ 'a b': 'x' }).field, 'headers.a b');
  });

  it('never echoes control characters', () => {
    const e = bad({ 'x\r\nInjected: 1\u0000\u001b[31m': 'v' });
    assert.doesNotMatch(e.field + e.message, /[\u0000-\u001f\u007f]/);
    assert.equal(e.field, 'headers.x??Injected: 1??[31m');
    const long = bad({ [`${'a'.repeat(500)} `]: 'v' });
    assert.ok(long.field.length < 200);
  });

  it('refuses CR, LF and NUL in values', () => {
    for (const v of ['a\rb', 'a\nb', 'a\r\nX-Injected: 1', 'a\u0000b', '\n']) {
      const e = bad({ 'X-A': v });
      assert.equal(e.field, 'headers.X-A');
      assert.doesNotMatch(e.message, /[\u0000-\u001f]/);
    }
  });

  it('refuses other control characters but allows HTAB', () => {
    for (const v of ['\u0001', 'a\u0008', '\u000b', '\u000c', '\u001f', '\u007f', 'a\u001bb']) {
      assert.equal(bad({ 'X-A': v }).field, 'headers.X-A', JSON.stringify(v));
    }
    assert.deepEqual(ok({ 'X-A': 'a\tb' }), { 'X-A': 'a\tb' });
    assert.deepEqual(ok({ 'X-A': ' spaced value ' }), { 'X-A': ' spaced value ' });
  });

  it('allows Latin-1, refuses characters above U+00FF', () => {
    assert.deepEqual(ok({ 'X-A': 'café' }), { 'X-A': 'café' });
    assert.equal(bad({ 'X-A': '日本' }).field, 'headers.X-A');
    assert.equal(bad({ 'X-A': '😀' }).field, 'headers.X-A');
  });

  it('values must be strings', () => {
    for (const v of [1, true, null, undefined, {}, ['a']]) {
      assert.equal(bad({ 'X-A': v }).field, 'headers.X-A', String(v));
    }
  });

  it(`allows ${MAX_HEADERS} headers, refuses ${MAX_HEADERS + 1}`, () => {
    assert.equal(MAX_HEADERS, 64);
    const make = (n: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, String(i)]));
    assert.equal(Object.keys(ok(make(64))).length, 64);
    const e = bad(make(65));
    assert.equal(e.field, 'headers');
    assert.match(e.message, /64/);
  });

  it('counts stripped headers towards the limit', () => {
    const h: Record<string, string> = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`X-H${i}`, 'v']));
    h.Host = 'x';
    assert.equal(bad(h).field, 'headers');
  });

  it('refuses names equal ignoring case', () => {
    const e = bad({ 'X-Dup': '1', 'x-dup': '2' });
    assert.equal(e.field, 'headers.x-dup');
    assert.match(e.message, /more than once/);
    assert.equal(bad({ Host: 'a', host: 'b' }).field, 'headers.host');
  });

  it('handles a __proto__ header name as a plain key', () => {
    const input = JSON.parse('{"__proto__": "v", "X-A": "1"}') as unknown;
    const out = ok(input);
    assert.deepEqual(Object.keys(out), ['__proto__', 'X-A']);
    assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, 'v');
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });

  it('uses the given field name', () => {
    assert.equal(validateHeaders({ 'a b': 'x' }, 'destination.headers').ok, false);
    const r = validateHeaders({ 'a b': 'x' }, 'h');
    assert.equal(!r.ok && r.field, 'h.a b');
  });
});

describe('hasHeader', () => {
  it('is case-insensitive', () => {
    const h = { 'Content-Type': 'text/plain' };
    assert.equal(hasHeader(h, 'content-type'), true);
    assert.equal(hasHeader(h, 'CONTENT-TYPE'), true);
    assert.equal(hasHeader(h, 'Content-Type'), true);
    assert.equal(hasHeader(h, 'content-length'), false);
    assert.equal(hasHeader({}, 'a'), false);
    assert.equal(hasHeader({}, 'toString'), false);
  });
});
