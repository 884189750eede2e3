// Pure tests of the resolver helpers (no DNS traffic: only IP literals are looked up).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { createHostResolver, parseDnsServers } from '../../src/net/resolver.js';

describe('parseDnsServers', () => {
  it('accepts ip[:port] with IPv6 bracketed or bare, comma/space separated', () => {
    assert.deepEqual(parseDnsServers('127.0.0.1:5353, [::1]:5353 ::1,127.0.0.2  [::1] 127.0.0.3:53'), [
      '127.0.0.1:5353',
      '[::1]:5353',
      '::1',
      '127.0.0.2',
      '::1',
      '127.0.0.3',
    ]);
  });

  it('returns [] for undefined or blank', () => {
    assert.deepEqual(parseDnsServers(undefined), []);
    assert.deepEqual(parseDnsServers(' ,, '), []);
  });

  it('produces entries Resolver#setServers accepts', () => {
    const r = new dns.Resolver();
    r.setServers(parseDnsServers('127.0.0.1:5353 [::1]:5353 ::1 127.0.0.2'));
    assert.deepEqual(r.getServers(), ['127.0.0.1:5353', '[::1]:5353', '::1', '127.0.0.2']);
  });

  it('throws naming the bad entry', () => {
    for (const bad of ['dns.example', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:abc', '[::1', '[127.0.0.1]:53', '[::1]:x', '1.2.3', '[fe80::1%eth0]:53']) {
      assert.throws(
        () => parseDnsServers(`127.0.0.1, ${bad}`),
        (err: unknown) => err instanceof Error && err.message.includes(`"${bad}"`),
        `entry ${bad}`,
      );
    }
  });
});

describe('createHostResolver', () => {
  it('returns IP literals as they are, without resolving', async () => {
    const r = createHostResolver({ servers: ['127.0.0.1:9'] });
    assert.deepEqual(await r.lookupAll('127.0.0.1'), [{ address: '127.0.0.1', family: 4 }]);
    assert.deepEqual(await r.lookupAll('::1'), [{ address: '::1', family: 6 }]);
    const sys = createHostResolver({});
    assert.deepEqual(await sys.lookupAll('10.1.2.3'), [{ address: '10.1.2.3', family: 4 }]);
  });
});
