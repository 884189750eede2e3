// Tests of the resolver. DNS traffic goes only to UDP sockets on 127.0.0.1 made here; the
// system-servers path is exercised with c-ares' query methods stubbed, so nothing is asked of the
// machine's real name servers.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
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

// ------------------------------------------------------------------ c-ares, never dns.lookup

type Query = { type: 'A' | 'AAAA' | 'TXT'; name: string };

/**
 * Replaces dns.lookup (getaddrinfo on libuv's thread pool) with a function that fails the test,
 * and c-ares' A/AAAA queries with canned answers that record who was asked.
 */
function stubDns(answers: Record<string, { A?: string[]; AAAA?: string[] }>) {
  const asked: Query[] = [];
  const lookups: string[] = [];
  const proto = dns.promises.Resolver.prototype as unknown as Record<string, unknown>;
  const saved = {
    lookup: dns.lookup,
    promisesLookup: dns.promises.lookup,
    resolve4: proto.resolve4,
    resolve6: proto.resolve6,
  };
  const noData = (name: string) => Object.assign(new Error(`no data for ${name}`), { code: dns.NODATA });
  (dns as { lookup: unknown }).lookup = (host: string, ...rest: unknown[]) => {
    lookups.push(host);
    const cb = rest.at(-1);
    if (typeof cb === 'function') process.nextTick(() => cb(new Error('dns.lookup must not be used')));
  };
  (dns.promises as { lookup: unknown }).lookup = async (host: string) => {
    lookups.push(host);
    throw new Error('dns.promises.lookup must not be used');
  };
  proto.resolve4 = async function (name: string) {
    asked.push({ type: 'A', name });
    const a = answers[name]?.A;
    if (a === undefined) throw noData(name);
    return a;
  };
  proto.resolve6 = async function (name: string) {
    asked.push({ type: 'AAAA', name });
    const a = answers[name]?.AAAA;
    if (a === undefined) throw noData(name);
    return a;
  };
  return {
    asked,
    lookups,
    restore() {
      (dns as { lookup: unknown }).lookup = saved.lookup;
      (dns.promises as { lookup: unknown }).lookup = saved.promisesLookup;
      proto.resolve4 = saved.resolve4;
      proto.resolve6 = saved.resolve6;
    },
  };
}

describe('target lookups without HAREPOST_DNS_SERVERS (system name servers)', () => {
  let stub: ReturnType<typeof stubDns>;
  let dir: string;
  let hostsFile: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-resolver-'));
    hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, '10.20.30.40 build.corp build\n2001:db8::40 build.corp\n127.0.0.1 localhost\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    stub = stubDns({
      'hooks.example.com': { A: ['192.0.2.10', '192.0.2.11'], AAAA: ['2001:db8::10'] },
      'v6only.example.com': { AAAA: ['2001:db8::20'] },
    });
  });
  afterEach(() => stub.restore());

  it('asks c-ares for A and AAAA, IPv4 first, and never calls dns.lookup', async () => {
    const r = createHostResolver({ hostsFile });
    assert.deepEqual(await r.lookupAll('hooks.example.com'), [
      { address: '192.0.2.10', family: 4 },
      { address: '192.0.2.11', family: 4 },
      { address: '2001:db8::10', family: 6 },
    ]);
    assert.deepEqual(await r.lookupAll('v6only.example.com'), [{ address: '2001:db8::20', family: 6 }]);
    assert.deepEqual(stub.asked.filter((q) => q.name === 'hooks.example.com').map((q) => q.type).sort(), ['A', 'AAAA']);
    assert.deepEqual(stub.lookups, [], 'dns.lookup was called');
  });

  it('the default (no options at all, as `serve` without HAREPOST_DNS_SERVERS) never calls dns.lookup either', async () => {
    const r = createHostResolver({});
    assert.equal((await r.lookupAll('hooks.example.com')).length, 3);
    assert.deepEqual(stub.lookups, []);
  });

  it('localhost and names under it are 127.0.0.1 and ::1, without asking DNS', async () => {
    const r = createHostResolver({ hostsFile });
    const loopback = [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
    for (const name of ['localhost', 'LOCALHOST', 'localhost.', 'api.localhost']) {
      assert.deepEqual(await r.lookupAll(name), loopback, name);
    }
    // with configured servers too (RFC 6761: always loopback)
    const custom = createHostResolver({ servers: ['127.0.0.1:9'] });
    assert.deepEqual(await custom.lookupAll('localhost'), loopback);
    assert.deepEqual(stub.asked, []);
    assert.deepEqual(stub.lookups, []);
  });

  it('a name in the hosts file resolves to its listed addresses (any case, trailing dot), without asking DNS', async () => {
    const r = createHostResolver({ hostsFile });
    const listed = [
      { address: '10.20.30.40', family: 4 },
      { address: '2001:db8::40', family: 6 },
    ];
    assert.deepEqual(await r.lookupAll('build.corp'), listed);
    assert.deepEqual(await r.lookupAll('Build.Corp.'), listed);
    assert.deepEqual(await r.lookupAll('build'), [{ address: '10.20.30.40', family: 4 }]);
    assert.deepEqual(stub.asked, []);
    assert.deepEqual(stub.lookups, []);
  });

  it('with HAREPOST_DNS_SERVERS the hosts file is not consulted (unless asked for)', async () => {
    stub.restore();
    stub = stubDns({ 'build.corp': { A: ['192.0.2.99'] } });
    const custom = createHostResolver({ servers: ['127.0.0.1:9'] });
    assert.deepEqual(await custom.lookupAll('build.corp'), [{ address: '192.0.2.99', family: 4 }]);
    const both = createHostResolver({ servers: ['127.0.0.1:9'], hostsFile });
    assert.deepEqual(await both.lookupAll('build.corp'), [
      { address: '10.20.30.40', family: 4 },
      { address: '2001:db8::40', family: 6 },
    ]);
    assert.deepEqual(stub.lookups, []);
  });
});

// ------------------------------------------------------------------ budgets, on loopback UDP

interface TinyDns {
  address: string;
  queries: Query[];
  close(): Promise<void>;
}

/** A UDP DNS server on 127.0.0.1 that answers only what `answer` returns; undefined → silence. */
async function tinyDns(answer: (q: Query) => string[] | undefined): Promise<TinyDns> {
  const queries: Query[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = packet.questions?.[0];
    if (!q) return;
    const query = { type: q.type as Query['type'], name: q.name.toLowerCase() };
    queries.push(query);
    const values = answer(query);
    if (values === undefined) return; // never answers
    const answers = values.map((data) => ({ type: q.type as 'A', name: q.name, ttl: 0, class: 'IN' as const, data }));
    sock.send(dnsPacket.encode({ type: 'response', id: packet.id ?? 0, flags: dnsPacket.RECURSION_DESIRED, questions: [q], answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: `127.0.0.1:${sock.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

describe('a DNS server that never answers', () => {
  let silent: TinyDns;
  before(async () => {
    silent = await tinyDns(() => undefined);
  });
  after(async () => silent.close());

  it('a lookup gives up within the time it was given, with ETIMEOUT, and its queries are cancelled', async () => {
    const r = createHostResolver({ servers: [silent.address], timeoutMs: 3000, tries: 2 });
    const started = Date.now();
    await assert.rejects(r.lookupAll('never.example.com', { timeoutMs: 300 }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ETIMEOUT');
      assert.match(e.message, /DNS lookup of never\.example\.com failed: ETIMEOUT \(no answer within 300 ms\)/);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 1500, `gave up after ${took} ms`);
    assert.ok(silent.queries.some((q) => q.name === 'never.example.com' && q.type === 'A'), 'c-ares asked the server');
    // c-ares got a share of the budget per try: it retried within it, and asked nothing after it
    const asked = silent.queries.length;
    await new Promise((res) => setTimeout(res, 700));
    assert.equal(silent.queries.length, asked, 'queries went on after the lookup gave up');
  });

  it('without a time from the attempt, the resolver\'s own budget (timeoutMs × tries) bounds it', async () => {
    const r = createHostResolver({ servers: [silent.address], timeoutMs: 150, tries: 2 });
    const started = Date.now();
    await assert.rejects(r.lookupAll('never2.example.com'), (e: Error & { code?: string }) => e.code === 'ETIMEOUT');
    const took = Date.now() - started;
    assert.ok(took >= 280 && took < 1500, `gave up after ${took} ms`);
  });

  it('TXT lookups (domain verification) are bounded the same way', async () => {
    const r = createHostResolver({ servers: [silent.address], timeoutMs: 150, tries: 2 });
    await assert.rejects(r.resolveTxt('_harepost-challenge.example.com'), (e: Error & { code?: string }) => {
      return e.code === 'ETIMEOUT' && /TXT lookup of _harepost-challenge\.example\.com failed: ETIMEOUT/.test(e.message);
    });
  });
});

describe('a DNS server that answers A but never AAAA', () => {
  let half: TinyDns;
  before(async () => {
    half = await tinyDns((q) => (q.type === 'A' ? ['192.0.2.7'] : undefined));
  });
  after(async () => half.close());

  it('the A answer is used shortly after it arrives, without waiting out the budget', async () => {
    const r = createHostResolver({ servers: [half.address], timeoutMs: 3000, tries: 1 });
    const started = Date.now();
    assert.deepEqual(await r.lookupAll('half.example.com'), [{ address: '192.0.2.7', family: 4 }]);
    const took = Date.now() - started;
    assert.ok(took < 1500, `took ${took} ms`);
  });
});
