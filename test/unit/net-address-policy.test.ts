// Pure tests of the address judge. No sockets: every address here is only ever passed to a function.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressPolicy, parseCidrList } from '../../src/net/address-policy.js';

const policy = createAddressPolicy();

function blocked(ip: string, p = policy): string {
  const v = p.check(ip);
  assert.equal(v.allowed, false, `${ip} should be blocked`);
  assert.equal(p.isAllowed(ip), false);
  if (v.allowed) throw new Error('unreachable');
  assert.ok(v.reason.length > 0);
  return v.reason;
}
function allowed(ip: string, p = policy): void {
  const v = p.check(ip);
  assert.deepEqual(v, { allowed: true }, `${ip} should be allowed: ${JSON.stringify(v)}`);
  assert.equal(p.isAllowed(ip), true);
}

// [range, start, inside, end, neighbours just outside that are global unicast]
const IPV4: Array<[string, string, string, string, string[]]> = [
  ['0.0.0.0/8', '0.0.0.0', '0.1.2.3', '0.255.255.255', ['1.0.0.0']],
  ['10.0.0.0/8', '10.0.0.0', '10.20.30.40', '10.255.255.255', ['9.255.255.255', '11.0.0.0']],
  ['100.64.0.0/10', '100.64.0.0', '100.100.100.100', '100.127.255.255', ['100.63.255.255', '100.128.0.0']],
  ['127.0.0.0/8', '127.0.0.0', '127.0.0.1', '127.255.255.255', ['126.255.255.255', '128.0.0.0']],
  ['169.254.0.0/16', '169.254.0.0', '169.254.169.254', '169.254.255.255', ['169.253.255.255', '169.255.0.0']],
  ['172.16.0.0/12', '172.16.0.0', '172.20.1.1', '172.31.255.255', ['172.15.255.255', '172.32.0.0']],
  ['192.0.0.0/24', '192.0.0.0', '192.0.0.9', '192.0.0.255', ['191.255.255.255', '192.0.1.0']],
  ['192.0.2.0/24', '192.0.2.0', '192.0.2.123', '192.0.2.255', ['192.0.1.255', '192.0.3.0']],
  ['192.31.196.0/24', '192.31.196.0', '192.31.196.1', '192.31.196.255', ['192.31.195.255', '192.31.197.0']],
  ['192.52.193.0/24', '192.52.193.0', '192.52.193.77', '192.52.193.255', ['192.52.192.255', '192.52.194.0']],
  ['192.88.99.0/24', '192.88.99.0', '192.88.99.1', '192.88.99.255', ['192.88.98.255', '192.88.100.0']],
  ['192.168.0.0/16', '192.168.0.0', '192.168.1.1', '192.168.255.255', ['192.167.255.255', '192.169.0.0']],
  ['192.175.48.0/24', '192.175.48.0', '192.175.48.42', '192.175.48.255', ['192.175.47.255', '192.175.49.0']],
  ['198.18.0.0/15', '198.18.0.0', '198.19.0.1', '198.19.255.255', ['198.17.255.255', '198.20.0.0']],
  ['198.51.100.0/24', '198.51.100.0', '198.51.100.7', '198.51.100.255', ['198.51.99.255', '198.51.101.0']],
  ['203.0.113.0/24', '203.0.113.0', '203.0.113.50', '203.0.113.255', ['203.0.112.255', '203.0.114.0']],
  ['224.0.0.0/4', '224.0.0.0', '230.1.2.3', '239.255.255.255', ['223.255.255.255']],
  ['240.0.0.0/4', '240.0.0.0', '250.1.2.3', '255.255.255.254', []],
  ['255.255.255.255/32', '255.255.255.255', '255.255.255.255', '255.255.255.255', []],
];

// IPv6 ranges blocked as written. Neighbours listed only where they are global unicast.
const IPV6: Array<[string, string, string, string, string[]]> = [
  ['::/128', '::', '::', '::', []],
  ['::1/128', '::1', '::1', '::1', []],
  ['64:ff9b:1::/48', '64:ff9b:1::', '64:ff9b:1:abcd::808:808', '64:ff9b:1:ffff:ffff:ffff:ffff:ffff', []],
  ['100::/64', '100::', '100::1234', '100::ffff:ffff:ffff:ffff', []],
  ['2001::/23', '2001::', '2001:100::1', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', ['2001:200::', '2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['2001:db8::/32', '2001:db8::', '2001:db8:1234::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::']],
  ['2002::/16', '2002::', '2002:808:808::1', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff', ['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2003::']],
  ['3fff::/20', '3fff::', '3fff:abc::1', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '3fff:1000::']],
  ['5f00::/16', '5f00::', '5f00:1::1', '5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', []],
  ['fc00::/7', 'fc00::', 'fd00:ec2::254', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', []],
  ['fe80::/10', 'fe80::', 'fe80::1', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', []],
  ['fec0::/10', 'fec0::', 'fec0::1', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', []],
  ['ff00::/8', 'ff00::', 'ff02::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', []],
];

describe('address policy: IPv4 special-purpose ranges', () => {
  for (const [range, start, inside, end, neighbours] of IPV4) {
    it(`blocks ${range} at start, inside and end; allows global neighbours`, () => {
      for (const ip of [start, inside, end]) {
        const reason = blocked(ip);
        assert.match(reason, new RegExp(range.replace(/\./g, '\\.')), `reason for ${ip} names ${range}: ${reason}`);
      }
      for (const ip of neighbours) allowed(ip);
    });
  }

  it('allows ordinary global IPv4', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '223.255.255.255', '1.0.0.0', '126.0.0.1']) allowed(ip);
  });

  it('blocks cloud metadata 169.254.169.254', () => {
    assert.match(blocked('169.254.169.254'), /link-local/);
  });
});

describe('address policy: IPv6 special-purpose ranges', () => {
  for (const [range, start, inside, end, neighbours] of IPV6) {
    it(`blocks ${range} at start, inside and end; allows global neighbours`, () => {
      for (const ip of [start, inside, end]) blocked(ip);
      for (const ip of neighbours) allowed(ip);
    });
  }

  it('names the table range in the reason', () => {
    assert.match(blocked('2001:db8::1'), /2001:db8::\/32/);
    assert.match(blocked('fd00:ec2::254'), /fc00::\/7/);
    assert.match(blocked('fe80::1'), /fe80::\/10/);
    assert.match(blocked('ff02::1'), /ff00::\/8/);
    assert.match(blocked('::1'), /::1\/128/);
    assert.match(blocked('::'), /::\/128/);
    assert.match(blocked('100::1'), /100::\/64/);
    assert.match(blocked('5f00::1'), /5f00::\/16/);
    assert.match(blocked('3fff::1'), /3fff::\/20/);
  });

  it('blocks everything outside 2000::/3 (not global unicast)', () => {
    for (const ip of ['1::', '1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '4000::', '4000::1', '1234::1', 'e000::1', '5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::ffff:0:808:808']) {
      blocked(ip);
    }
    assert.match(blocked('4000::1'), /2000::\/3/);
  });

  it('allows ordinary global IPv6, including both ends of 2000::/3 outside special ranges', () => {
    for (const ip of ['2606:4700::1', '2a00:1450:4001::1', '2001:4860:4860::8888', '2000::', '2000::1', '3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2400:cb00::1']) {
      allowed(ip);
    }
  });

  it('blocks all of fd00:ec2::254 (AWS IPv6 metadata)', () => {
    blocked('fd00:ec2::254');
  });

  it('strips zone ids before judging', () => {
    assert.match(blocked('fe80::1%eth0'), /fe80::\/10/);
    allowed('2606:4700::1%eth0');
  });
});

describe('address policy: IPv4 embedded in IPv6', () => {
  it('IPv4-mapped ::ffff:0:0/96 is judged as the IPv4 it carries', () => {
    assert.match(blocked('::ffff:127.0.0.1'), /IPv4-mapped.*127\.0\.0\.1.*127\.0\.0\.0\/8/);
    assert.match(blocked('::ffff:7f00:1'), /127\.0\.0\.1/);
    blocked('::ffff:0.0.0.0');
    blocked('::ffff:10.1.2.3');
    blocked('::ffff:169.254.169.254');
    blocked('::ffff:255.255.255.255');
    blocked('0:0:0:0:0:ffff:c0a8:101'); // 192.168.1.1
    // Decision: a mapped global IPv4 is allowed — the OS dials that IPv4 itself.
    allowed('::ffff:8.8.8.8');
    allowed('::ffff:808:808');
  });

  it('IPv4-compatible ::/96 unwraps (blocked ones named) and is otherwise blocked as deprecated', () => {
    // Written with a dotted quad, this is still ::/96, not ::ffff:0:0/96 (ipaddr.js alone gets this wrong).
    assert.match(blocked('::127.0.0.1'), /IPv4-compatible.*127\.0\.0\.1.*127\.0\.0\.0\/8/);
    assert.match(blocked('::a9fe:a9fe'), /169\.254\.169\.254/);
    assert.match(blocked('::0.0.0.2'), /0\.0\.0\.0\/8/);
    // Decision: deprecated form, blocked even when the IPv4 is global.
    assert.match(blocked('::8.8.8.8'), /IPv4-compatible/);
  });

  it(':: and ::1 are blocked as themselves, not as IPv4-compatible', () => {
    assert.match(blocked('::'), /unspecified/);
    assert.match(blocked('::1'), /loopback/);
  });

  it('NAT64 64:ff9b::/96 is judged as the IPv4 it carries', () => {
    assert.match(blocked('64:ff9b::7f00:1'), /127\.0\.0\.1/);
    assert.match(blocked('64:ff9b::a9fe:a9fe'), /169\.254\.169\.254/);
    assert.match(blocked('64:ff9b::10.0.0.1'), /10\.0\.0\.0\/8/);
    assert.match(blocked('64:ff9b::c0a8:1'), /192\.168\.0\.0\/16/);
    // Decision: the well-known prefix is globally reachable; a global IPv4 behind it is allowed.
    allowed('64:ff9b::808:808');
    allowed('64:ff9b::8.8.8.8');
    // Neighbours of the /96 are not NAT64 and not global unicast.
    blocked('64:ff9b::1:808:808');
  });

  it('local-use NAT64 64:ff9b:1::/48 unwraps and is otherwise blocked', () => {
    assert.match(blocked('64:ff9b:1::a00:1'), /10\.0\.0\.1.*10\.0\.0\.0\/8/);
    assert.match(blocked('64:ff9b:1::7f00:1'), /127\.0\.0\.1/);
    assert.match(blocked('64:ff9b:1::808:808'), /64:ff9b:1::\/48/);
  });

  it('6to4 2002::/16 is blocked entirely, naming a blocked embedded IPv4', () => {
    assert.match(blocked('2002:7f00:1::'), /127\.0\.0\.1.*127\.0\.0\.0\/8/);
    assert.match(blocked('2002:a9fe:a9fe::'), /169\.254\.169\.254/);
    assert.match(blocked('2002:a00:1::1'), /10\.0\.0\.1/);
    // Decision: deprecated; blocked even with a global router address.
    assert.match(blocked('2002:808:808::1'), /6to4/);
  });

  it('Teredo 2001::/32 is blocked, naming a blocked client (XORed) or server IPv4', () => {
    // server 65.54.227.120 (global), client 10.0.0.1 → ~0x0a000001 = f5ff:fffe
    assert.match(blocked('2001:0:4136:e378:8000:63bf:f5ff:fffe'), /client 10\.0\.0\.1 .*10\.0\.0\.0\/8/);
    // client 127.0.0.1 → ~0x7f000001 = 80ff:fffe
    assert.match(blocked('2001:0:4136:e378:8000:63bf:80ff:fffe'), /client 127\.0\.0\.1/);
    // client 169.254.169.254 → ~0xa9fea9fe = 5601:5601
    assert.match(blocked('2001:0:4136:e378::5601:5601'), /client 169\.254\.169\.254/);
    // server 192.168.0.1 (c0a8:1), client 8.8.8.8 (~ = f7f7:f7f7)
    assert.match(blocked('2001:0:c0a8:1::f7f7:f7f7'), /server 192\.168\.0\.1/);
    // both global: still blocked (inside 2001::/23)
    assert.match(blocked('2001:0:4136:e378::f7f7:f7f7'), /Teredo/);
  });
});

describe('address policy: invalid input', () => {
  it('rejects anything that is not a strictly formatted IP', () => {
    for (const ip of ['', 'localhost', 'example.com', '256.1.1.1', '127.1', '0x7f.0.0.1', '2130706433', '010.0.0.1', ':::1', '1.2.3.4 ', ' 1.2.3.4', '1.2.3', '[::1]', 'fe80::1%', '12345::1']) {
      const v = policy.check(ip);
      assert.deepEqual(v, { allowed: false, reason: 'invalid address' }, `input ${JSON.stringify(ip)}`);
    }
  });
});

describe('address policy: allowlist', () => {
  it('127.0.0.2/32 exempts exactly 127.0.0.2', () => {
    const p = createAddressPolicy(parseCidrList('127.0.0.2/32'));
    allowed('127.0.0.2', p);
    blocked('127.0.0.3', p);
    blocked('127.0.0.1', p);
    blocked('10.0.0.1', p);
    blocked('::1', p);
    blocked('169.254.169.254', p);
    allowed('8.8.8.8', p);
  });

  it('a bare IP means a single address', () => {
    const p = createAddressPolicy(parseCidrList('127.0.0.2'));
    allowed('127.0.0.2', p);
    blocked('127.0.0.3', p);
    const p6 = createAddressPolicy(parseCidrList('::1'));
    allowed('::1', p6);
    blocked('::2', p6);
  });

  it('::1/128 exempts exactly ::1', () => {
    const p = createAddressPolicy(parseCidrList('::1/128'));
    allowed('::1', p);
    blocked('::', p);
    blocked('::2', p);
    blocked('127.0.0.1', p);
    blocked('::ffff:127.0.0.1', p);
    blocked('fe80::1', p);
  });

  it('10.0.0.0/8 exempts 10/8 and nothing else', () => {
    const p = createAddressPolicy(parseCidrList('10.0.0.0/8'));
    for (const ip of ['10.0.0.0', '10.0.0.1', '10.255.255.255']) allowed(ip, p);
    for (const ip of ['127.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', 'fd00::1', '::1']) blocked(ip, p);
  });

  it('applies to the embedded IPv4 of translation forms (mapped, compat, NAT64) as well as to the address as written', () => {
    const p = createAddressPolicy(parseCidrList('127.0.0.1/32'));
    allowed('127.0.0.1', p);
    allowed('::ffff:127.0.0.1', p);
    allowed('::ffff:7f00:1', p);
    allowed('::127.0.0.1', p);
    allowed('64:ff9b::7f00:1', p);
    allowed('64:ff9b:1::7f00:1', p);
    blocked('::ffff:127.0.0.2', p);
    blocked('64:ff9b::7f00:2', p);
  });

  it('does not exempt tunnel forms (6to4, Teredo) through their embedded IPv4', () => {
    const p = createAddressPolicy(parseCidrList('127.0.0.1/32, 10.0.0.0/8'));
    blocked('2002:7f00:1::', p);
    blocked('2002:a00:1::1', p);
    blocked('2001:0:4136:e378:8000:63bf:f5ff:fffe', p);
    // …but an allow CIDR naming the IPv6 form itself does.
    const p6 = createAddressPolicy(parseCidrList('2002::/16'));
    allowed('2002:7f00:1::', p6);
  });

  it('an IPv6 CIDR exempts the IPv6 form as written', () => {
    const p = createAddressPolicy(parseCidrList('::ffff:0:0/96'));
    allowed('::ffff:127.0.0.1', p);
    blocked('127.0.0.1', p);
    const pf = createAddressPolicy(parseCidrList('fd00::/8'));
    allowed('fd00:ec2::254', pf);
    blocked('fc00::1', pf);
  });

  it('empty allowlist exempts nothing', () => {
    const p = createAddressPolicy([]);
    blocked('127.0.0.1', p);
    blocked('::1', p);
  });
});

describe('parseCidrList', () => {
  it('parses comma and whitespace separated lists', () => {
    const list = parseCidrList(' 10.0.0.0/8,127.0.0.1  ::1/128,\n fd00::/8 ,');
    assert.deepEqual(
      list.map(([a, n]) => `${a.toString()}/${n}`),
      ['10.0.0.0/8', '127.0.0.1/32', '::1/128', 'fd00::/8'],
    );
  });

  it('reads a trailing dotted quad in IPv6 as the address written (::a.b.c.d is not ::ffff:a.b.c.d)', () => {
    const [[addr, bits] = []] = parseCidrList('::8.8.8.8/128');
    assert.equal(addr?.toString(), '::808:808');
    assert.equal(bits, 128);
    const [[mapped] = []] = parseCidrList('::ffff:8.8.8.8');
    assert.equal(mapped?.toString(), '::ffff:808:808');
  });

  it('returns [] for undefined or blank input', () => {
    assert.deepEqual(parseCidrList(undefined), []);
    assert.deepEqual(parseCidrList(''), []);
    assert.deepEqual(parseCidrList(' , '), []);
  });

  it('throws naming the bad entry', () => {
    for (const bad of ['nope', '10.0.0.0/33', '::1/129', '10/8', '10.0.0.0/', '10.0.0.0/abc', '1.2.3.4/8/9', '300.0.0.1', 'fe80::1%eth0/64', '10.0.0.0/-1']) {
      assert.throws(
        () => parseCidrList(`127.0.0.1/32, ${bad}`),
        (err: unknown) => err instanceof Error && err.message.includes(`"${bad}"`),
        `entry ${bad}`,
      );
    }
  });
});
