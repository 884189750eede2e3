import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, MAX_TARGET_LENGTH, parseMethod, parseTarget, type ParsedTarget } from '../../src/core/target.js';

function ok(input: unknown, allowHttp = false): ParsedTarget {
  const r = parseTarget(input, { allowHttp });
  assert.equal(r.ok, true, JSON.stringify(r));
  if (!r.ok) throw new Error('unreachable');
  return r.value;
}
function bad(input: unknown, allowHttp = false, field?: string): { field: string; message: string } {
  const r = parseTarget(input, field === undefined ? { allowHttp } : { allowHttp, field });
  assert.equal(r.ok, false, String(input));
  if (r.ok) throw new Error('unreachable');
  return r;
}

describe('parseMethod', () => {
  it('defaults to POST', () => assert.deepEqual(parseMethod(undefined), { ok: true, value: 'POST' }));
  it('accepts each method', () => {
    assert.deepEqual([...METHODS], ['POST', 'PUT', 'PATCH', 'DELETE', 'GET']);
    for (const m of METHODS) assert.deepEqual(parseMethod(m), { ok: true, value: m });
  });
  it('is case-sensitive and refuses others', () => {
    for (const m of ['post', 'Post', 'get', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', '', ' POST', null, 1, {}, ['POST']]) {
      const r = parseMethod(m);
      assert.equal(r.ok, false, String(m));
      if (!r.ok) {
        assert.equal(r.field, 'method');
        assert.match(r.message, /POST, PUT, PATCH, DELETE, GET/);
      }
    }
  });
});

describe('parseTarget', () => {
  it('parses a plain https URL', () => {
    const t = ok('https://your-app.com/webhook');
    assert.equal(t.href, 'https://your-app.com/webhook');
    assert.equal(t.host, 'your-app.com');
    assert.equal(t.port, 443);
    assert.equal(t.ipLiteral, false);
    assert.ok(t.url instanceof URL);
  });

  it('any explicit port; default ports', () => {
    assert.equal(ok('https://a.example:8443/x').port, 8443);
    assert.equal(ok('https://a.example:443/x').port, 443);
    assert.equal(ok('https://a.example:443/x').href, 'https://a.example/x');
    assert.equal(ok('https://a.example:1/').port, 1);
    assert.equal(ok('http://a.example/', true).port, 80);
    assert.equal(ok('http://a.example:8080/', true).port, 8080);
  });

  it('must be a string', () => {
    for (const v of [undefined, null, 1, {}, ['https://a.com'], new URL('https://a.com')]) {
      const e = bad(v);
      assert.equal(e.field, 'target');
    }
  });

  it('refuses non-URLs and relative URLs', () => {
    for (const v of ['', 'a.com', '/path', '//a.com/x', 'https://', 'https:// a.com', 'https://a b.com/', 'https://[::1/']) {
      assert.equal(bad(v).field, 'target', v);
    }
  });

  it('refuses http unless allowed, with a helpful message', () => {
    const e = bad('http://a.example/hook');
    assert.equal(e.field, 'target');
    assert.match(e.message, /http targets are not allowed/);
    assert.match(e.message, /https/);
    assert.equal(ok('http://a.example/hook', true).href, 'http://a.example/hook');
    assert.match(bad('HTTP://a.example/').message, /http targets are not allowed/);
  });

  it('refuses other schemes', () => {
    for (const v of ['ftp://a.example/', 'ws://a.example/', 'wss://a.example/', 'file:///etc/passwd', 'data:text/plain,x', 'javascript:alert(1)', 'gopher://a.example/']) {
      assert.equal(bad(v, true).field, 'target', v);
    }
  });

  it('accepts an upper-case scheme', () => {
    assert.equal(ok('HTTPS://A.EXAMPLE/Path').href, 'https://a.example/Path');
  });

  it('refuses userinfo', () => {
    for (const v of ['https://user:pass@a.example/', 'https://user@a.example/', 'https://:pass@a.example/', 'https://a%40b@a.example/']) {
      const e = bad(v);
      assert.equal(e.field, 'target');
      assert.match(e.message, /username or password/);
    }
  });

  it(`length: ${MAX_TARGET_LENGTH} ok, ${MAX_TARGET_LENGTH + 1} refused`, () => {
    const prefix = 'https://a.example/';
    const at = prefix + 'x'.repeat(MAX_TARGET_LENGTH - prefix.length);
    assert.equal(at.length, 2048);
    assert.equal(ok(at).href, at);
    const over = at + 'x';
    const e = bad(over);
    assert.equal(e.field, 'target');
    assert.match(e.message, /2048/);
  });

  it('refuses a short input whose serialisation exceeds the limit', () => {
    const input = `https://a.example/${' '.repeat(1000)}`; // spaces → %20
    assert.ok(input.length <= 2048);
    assert.equal(bad(input + 'x').field, 'target');
  });

  it('IPv4 literals in every encoding become dotted quads', () => {
    for (const v of ['https://127.0.0.1/', 'https://0x7f.1/', 'https://2130706433/', 'https://017700000001/', 'https://0x7f000001/', 'https://127.1/', 'https://127.0.0.1./']) {
      const t = ok(v);
      assert.equal(t.host, '127.0.0.1', v);
      assert.equal(t.ipLiteral, true, v);
      assert.equal(t.href, 'https://127.0.0.1/', v);
    }
    assert.equal(ok('https://10.0.0.1:9000/').ipLiteral, true);
  });

  it('IPv6 literals lose their brackets', () => {
    const t = ok('https://[::1]/');
    assert.equal(t.host, '::1');
    assert.equal(t.ipLiteral, true);
    assert.equal(t.href, 'https://[::1]/');
    assert.equal(ok('https://[::1]:8443/').port, 8443);
    const mapped = ok('https://[::ffff:127.0.0.1]/');
    assert.equal(mapped.host, '::ffff:7f00:1');
    assert.equal(mapped.ipLiteral, true);
    assert.equal(ok('https://[2001:DB8::1]/').host, '2001:db8::1');
  });

  it('removes a trailing dot from host but keeps href', () => {
    const t = ok('https://example.com./hook');
    assert.equal(t.host, 'example.com');
    assert.equal(t.href, 'https://example.com./hook');
    assert.equal(t.ipLiteral, false);
  });

  it('host "." alone is refused', () => {
    assert.equal(bad('https://./').field, 'target');
  });

  it('IDN hosts become punycode', () => {
    const t = ok('https://bücher.example/x');
    assert.equal(t.host, 'xn--bcher-kva.example');
    assert.equal(t.href, 'https://xn--bcher-kva.example/x');
    assert.equal(ok('https://EXAMPLE.COM/').host, 'example.com');
  });

  it('hosts that look numeric but are not IPv4 are names', () => {
    assert.equal(ok('https://1.2.3.example/').ipLiteral, false);
    assert.equal(ok('https://123abc.example/').ipLiteral, false);
  });

  it('keeps query and fragment as WHATWG serialises them', () => {
    const t = ok('https://a.example/p?q=1&r=a b#frag');
    assert.equal(t.href, 'https://a.example/p?q=1&r=a%20b#frag');
  });

  it('uses the given field', () => {
    assert.equal(bad('http://a.example/', false, 'url').field, 'url');
    assert.match(bad('http://a.example/', false, 'url').message, /http targets are not allowed/);
  });
});

describe('parseTarget: host names with empty labels', () => {
  it('refuses "..", "a..b" and ".a" (found by the hostile-input property with seed -470387997)', () => {
    for (const t of ['https://..\\.example.test/', 'https://../x', 'https://a..example.test/', 'https://.example.test/']) {
      const r = parseTarget(t, { allowHttp: false });
      assert.ok(!r.ok, t);
      if (!r.ok) assert.equal(r.field, 'target');
    }
    assert.ok(parseTarget('https://hooks.example.test./x', { allowHttp: false }).ok, 'one trailing dot is still fine');
  });
});
