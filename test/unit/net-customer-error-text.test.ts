// What a customer reads when the address guard refuses a target: never an address the target's
// name resolved to, for every class of blocked range; the operator's detail keeps them.
// No sockets: errors are made directly or handed to performAttempt by a dispatcher that fails at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Dispatcher } from 'undici';
import { BLOCKED_IPV4, BLOCKED_IPV6, createAddressPolicy } from '../../src/net/address-policy.js';
import { customerAttemptError, hideAddresses } from '../../src/net/customer-error-text.js';
import { BlockedAddressError, TargetConnectError } from '../../src/net/guarded-agent.js';
import { performAttempt } from '../../src/net/http-attempt.js';

const HOST = 'hooks.example.com';
const policy = createAddressPolicy();

/** One address of every blocked class: each IPv4 and IPv6 range, and every way IPv4 hides in IPv6. */
const SAMPLES: string[] = [
  ...BLOCKED_IPV4.map((r) => r.cidr[0].toString()),
  ...BLOCKED_IPV4.map((r) => {
    const o = r.cidr[0].toByteArray();
    o[3] = (o[3]! | 1) & 0xff; // an address inside, not the network's first
    return o.join('.');
  }),
  ...BLOCKED_IPV6.map((r) => r.cidr[0].toString()),
  '10.96.0.1',
  '169.254.169.254',
  '::ffff:10.96.0.1', // IPv4-mapped
  '64:ff9b::a60:1', // NAT64 for 10.96.0.1
  '::a60:1', // IPv4-compatible
  '64:ff9b:1::a60:1', // local-use NAT64
  '2002:a60:1::1', // 6to4 embedding 10.96.0.1
  '2001:0:a60:1::f59f:fffe', // Teredo: server 10.96.0.1, client 10.96.0.1
  'fd00:ec2::254',
  'fe80::1%eth0',
  '4000::1', // outside 2000::/3
];

/** Anything that looks like an address or a range: a dotted quad, two IPv6 colons, a /prefix. */
function assertNoAddressText(text: string, ip: string): void {
  assert.ok(!text.includes(ip), `"${text}" names ${ip}`);
  assert.doesNotMatch(text, /\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/, `"${text}" has a dotted quad`);
  assert.doesNotMatch(text, /[0-9a-f]*:[0-9a-f]*:/i, `"${text}" has an IPv6 address`);
  assert.doesNotMatch(text, /\/\d/, `"${text}" has a prefix length`);
  assert.doesNotMatch(text, /range|private|loopback|link-local|HAREPOST_/i, `"${text}" describes the range or a setting`);
}

function reasonFor(ip: string): string {
  const v = policy.check(ip);
  assert.equal(v.allowed, false, `${ip} is blocked`);
  return v.allowed ? '' : v.reason;
}

/** A dispatcher that fails every request with `err` before any connection: no network at all. */
function failingWith(err: Error): Dispatcher {
  return {
    dispatch(_opts: unknown, handler: { onError(e: Error): void }) {
      queueMicrotask(() => handler.onError(err));
      return true;
    },
  } as unknown as Dispatcher;
}

const get = { method: 'GET', headers: {}, body: null, timeoutMs: 2000 };

describe('a refused name: the customer reads the name only', () => {
  it('covers every blocked class (the samples are all refused)', () => {
    assert.ok(SAMPLES.length >= BLOCKED_IPV4.length * 2 + BLOCKED_IPV6.length);
    for (const ip of SAMPLES) reasonFor(ip);
  });

  for (const ip of SAMPLES) {
    it(`${ip}: the error names no address, the detail does`, async () => {
      const reason = reasonFor(ip);
      const err = new BlockedAddressError(HOST, { reasons: [reason] });
      assert.equal(err.message, `${HOST} resolves only to addresses Harepost does not connect to`);
      assertNoAddressText(err.message, ip);
      assert.ok(err.detail.includes(reason), err.detail);

      const after = new BlockedAddressError(HOST, { reasons: [reason], afterConnect: true });
      assert.equal(after.message, `the connection to ${HOST} reached an address Harepost does not connect to`);
      assertNoAddressText(after.message, ip);
      assert.ok(after.detail.includes(reason), after.detail);

      // what performAttempt returns (and the dispatcher stores and the API shows)
      const r = await performAttempt(failingWith(err), { ...get, url: `https://${HOST}/hook` });
      assert.equal(r.kind, 'blocked', JSON.stringify(r));
      assert.equal(r.error, `${HOST} resolves only to addresses Harepost does not connect to`);
      assertNoAddressText(r.error, ip);
      assert.ok(r.detail?.includes(reason), `detail: ${r.detail}`);
    });
  }

  it('the detail lists several refused addresses and tells the operator how to exempt one', () => {
    const reasons = ['10.0.0.1', '10.0.0.2', 'fd00::1'].map(reasonFor);
    const err = new BlockedAddressError(HOST, { reasons });
    for (const ip of ['10.0.0.1', '10.0.0.2', 'fd00::1']) assert.ok(err.detail.includes(ip), err.detail);
    assert.match(err.detail, /HAREPOST_ALLOW_PRIVATE_NETWORKS/);
  });

  it('an IP-literal target is the customer\'s own input: its error may name it', async () => {
    const err = new BlockedAddressError('10.0.0.1', { reasons: [reasonFor('10.0.0.1')] });
    const r = await performAttempt(failingWith(err), { ...get, url: 'https://10.0.0.1/hook' });
    assert.equal(r.kind, 'blocked');
    assert.equal(r.error, '10.0.0.1 is an address Harepost does not connect to (10.0.0.1 is in blocked range 10.0.0.0/8 (private-use))');
    assert.doesNotMatch(r.error, /HAREPOST_/);
  });
});

describe('a failed connection to a name: the addresses it resolved to are replaced by the name', () => {
  const cases: Array<[string, string[], Error & { code?: string }]> = [
    ['refused', ['10.96.0.1'], Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' })],
    ['refused over IPv6', ['fd00::10'], Object.assign(new Error('connect ECONNREFUSED fd00::10:443'), { code: 'ECONNREFUSED' })],
    [
      'connect timeout (undici)',
      ['10.0.0.10', '10.0.0.1'],
      Object.assign(new Error('Connect Timeout Error (attempted address: 10.0.0.10:443, timeout: 10000ms)'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
    ],
    [
      'bracketed IPv6',
      ['fd00::10'],
      Object.assign(new Error('connect ETIMEDOUT [fd00::10]:443'), { code: 'ETIMEDOUT' }),
    ],
  ];
  for (const [name, addresses, failure] of cases) {
    it(name, async () => {
      const err = new TargetConnectError(HOST, addresses, failure);
      for (const ip of addresses) assert.ok(!err.message.includes(ip), err.message);
      assert.ok(err.message.includes(HOST), err.message);
      assert.ok(err.message.startsWith(`${failure.code}: `), err.message);
      assert.equal(err.code, failure.code);
      assert.ok(err.detail.includes(failure.message), err.detail);
      const r = await performAttempt(failingWith(err), { ...get, url: `https://${HOST}/hook` });
      assert.equal(r.kind, 'network_error');
      assert.equal(r.error, err.message);
      assert.equal(r.detail, err.detail);
    });
  }

  it('hideAddresses replaces the longest address first (10.0.0.10 is not half-replaced as 10.0.0.1)', () => {
    assert.equal(hideAddresses('a 10.0.0.10:443 b 10.0.0.1:443', ['10.0.0.1', '10.0.0.10'], 'h.example'), 'a h.example:443 b h.example:443');
  });
});

describe('attempts recorded before this release', () => {
  it('a stored refusal that named addresses is shown in today\'s words', () => {
    const old =
      'HAREPOST_BLOCKED: refusing to connect to hooks.example.com: every resolved address is in a blocked range ' +
      '(10.96.0.1 is in blocked range 10.0.0.0/8 (private-use)); set HAREPOST_ALLOW_PRIVATE_NETWORKS to exempt a CIDR';
    assert.equal(customerAttemptError(old), 'hooks.example.com resolves only to addresses Harepost does not connect to');
    const literal = 'HAREPOST_BLOCKED: refusing to connect to 10.0.0.1: every resolved address is in a blocked range (10.0.0.1 is …)';
    assert.equal(customerAttemptError(literal), '10.0.0.1 is an address Harepost does not connect to');
  });

  it('other errors are shown as stored', () => {
    assert.equal(customerAttemptError(null), null);
    assert.equal(customerAttemptError('timeout: no complete response within 1000 ms'), 'timeout: no complete response within 1000 ms');
  });
});
