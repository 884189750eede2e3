import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { candidateDomains, hostIsUnderDomain, normalizeDomain } from '../../src/core/domain-name.js';

function ok(input: unknown): string {
  const r = normalizeDomain(input);
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}
function bad(input: unknown, field?: string): { field: string; message: string } {
  const r = field === undefined ? normalizeDomain(input) : normalizeDomain(input, field);
  assert.equal(r.ok, false, JSON.stringify(input));
  if (r.ok) throw new Error('unreachable');
  return r;
}

describe('normalizeDomain', () => {
  it('lower-cases, trims and removes one trailing dot', () => {
    assert.equal(ok('Example.COM'), 'example.com');
    assert.equal(ok('  example.com  '), 'example.com');
    assert.equal(ok('example.com.'), 'example.com');
    assert.equal(ok('Sub.Example.Com.'), 'sub.example.com');
    assert.equal(ok('a-b.c0.example'), 'a-b.c0.example');
    assert.equal(ok('xn--bcher-kva.example'), 'xn--bcher-kva.example');
    assert.equal(ok('1.example.com'), '1.example.com');
  });

  it('converts IDN to punycode', () => {
    assert.equal(ok('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(ok('BÜCHER.example'), 'xn--bcher-kva.example');
    assert.equal(ok('münchen.de'), 'xn--mnchen-3ya.de');
    assert.equal(ok('例え.jp'), 'xn--r8jz45g.jp');
    // IDNA mapping: full-width letters and dot.
    assert.equal(ok('ｅｘａｍｐｌｅ．com'), 'example.com');
  });

  it('refuses non-strings and empty', () => {
    for (const v of [undefined, null, 1, {}, ['a.com']]) assert.equal(bad(v).field, 'domain');
    for (const v of ['', '   ', '.']) assert.equal(bad(v).field, 'domain');
  });

  it('refuses IP addresses', () => {
    for (const v of ['127.0.0.1', '8.8.8.8', '::1', '[::1]', '2001:db8::1', '0x7f.1', '2130706433', '127.1', '１２７.０.０.１', '1.2.3.4.']) {
      const e = bad(v);
      assert.match(e.message, /IP address cannot be verified/, v);
    }
  });

  it('refuses single labels', () => {
    for (const v of ['localhost', 'com', 'example.', 'bücher']) {
      const e = bad(v);
      assert.match(e.message, /two labels/, v);
    }
  });

  it('refuses bad labels', () => {
    for (const v of [
      'a..com',
      '.example.com',
      '-a.com',
      'a-.com',
      'a.-com',
      'a_b.com',
      'a b.com',
      'a*.com',
      '*.example.com',
      'exa$mple.com',
      `${'a'.repeat(64)}.com`,
      'xn--zz.com',
      'example.com..',
      'http://example.com',
      'example.com/path',
      'example.com:443',
      'example.com/',
      '@example.com',
      'user@example.com',
      'example.com?x',
      'ex~ample.com',
    ]) {
      assert.equal(bad(v).field, 'domain', v);
    }
  });

  it('label of 63 ok; total 253 ok, 254 refused', () => {
    assert.equal(ok(`${'a'.repeat(63)}.com`), `${'a'.repeat(63)}.com`);
    const label = 'a'.repeat(63);
    const d253 = `${label}.${label}.${label}.${'b'.repeat(61)}`;
    assert.equal(d253.length, 253);
    assert.equal(ok(d253), d253);
    const d254 = `${label}.${label}.${label}.${'b'.repeat(62)}`;
    assert.equal(bad(d254).field, 'domain');
  });

  it('uses the given field', () => {
    assert.equal(bad('localhost', 'name').field, 'name');
  });
});

describe('hostIsUnderDomain', () => {
  it('equal or subdomain on a dot boundary', () => {
    assert.equal(hostIsUnderDomain('example.com', 'example.com'), true);
    assert.equal(hostIsUnderDomain('api.example.com', 'example.com'), true);
    assert.equal(hostIsUnderDomain('a.b.example.com', 'example.com'), true);
    assert.equal(hostIsUnderDomain('evil-example.com', 'example.com'), false);
    assert.equal(hostIsUnderDomain('example.com.evil.net', 'example.com'), false);
    assert.equal(hostIsUnderDomain('example.com', 'api.example.com'), false);
    assert.equal(hostIsUnderDomain('com', 'example.com'), false);
  });
  it('case-insensitive and ignores trailing dots', () => {
    assert.equal(hostIsUnderDomain('API.Example.COM', 'example.com'), true);
    assert.equal(hostIsUnderDomain('api.example.com.', 'Example.com'), true);
    assert.equal(hostIsUnderDomain('api.example.com', 'example.com.'), true);
  });
  it('empty never matches', () => {
    assert.equal(hostIsUnderDomain('', 'example.com'), false);
    assert.equal(hostIsUnderDomain('example.com', ''), false);
    assert.equal(hostIsUnderDomain('example.com', '.'), false);
  });
});

describe('candidateDomains', () => {
  it('host and each parent with at least two labels', () => {
    assert.deepEqual(candidateDomains('a.b.example.com'), ['a.b.example.com', 'b.example.com', 'example.com']);
    assert.deepEqual(candidateDomains('example.com'), ['example.com']);
    assert.deepEqual(candidateDomains('API.Example.com.'), ['api.example.com', 'example.com']);
  });
  it('single label and IP literals yield only themselves', () => {
    assert.deepEqual(candidateDomains('localhost'), ['localhost']);
    assert.deepEqual(candidateDomains('127.0.0.1'), ['127.0.0.1']);
    assert.deepEqual(candidateDomains('::1'), ['::1']);
    assert.deepEqual(candidateDomains('[::1]'), ['::1']);
    assert.deepEqual(candidateDomains(''), []);
  });
  it('every candidate covers the host', () => {
    for (const d of candidateDomains('x.y.z.example.org')) assert.equal(hostIsUnderDomain('x.y.z.example.org', d), true);
  });
});
