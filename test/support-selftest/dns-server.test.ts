import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, afterEach, before, describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';

type Resolver = import('node:dns').promises.Resolver;

async function resolverFor(address: string): Promise<Resolver> {
  const dns = await import('node:dns');
  const r = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
  r.setServers([address]);
  return r;
}

/** Raw UDP query, to check header bits c-ares does not expose. */
function rawQuery(srv: DnsServer, name: string, type: 'A' | 'TXT'): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); reject(new Error('raw query timeout')); }, 1000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(msg));
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), srv.port, srv.host);
  });
}

describe('startDnsServer', () => {
  let srv: DnsServer;
  let resolver: Resolver;
  before(async () => {
    srv = await startDnsServer();
    resolver = await resolverFor(srv.address);
  });
  afterEach(() => srv.reset());
  after(async () => {
    await srv.close();
  });

  it('answers A, AAAA and TXT (case-insensitive, trailing dot ignored, TTL 0)', async () => {
    assert.equal(srv.address, `127.0.0.1:${srv.port}`);
    srv.setA('Hooks.Example.Test.', ['127.0.0.2', '127.0.0.3']);
    srv.setAAAA('hooks.example.test', ['::1']);
    srv.setTxt('hooks.example.test', ['v=1', 'second record']);
    assert.deepEqual((await resolver.resolve4('hooks.example.test')).sort(), ['127.0.0.2', '127.0.0.3']);
    assert.deepEqual(await resolver.resolve4('HOOKS.example.test', { ttl: true }), [
      { address: '127.0.0.2', ttl: 0 }, { address: '127.0.0.3', ttl: 0 },
    ]);
    assert.deepEqual(await resolver.resolve6('hooks.example.test'), ['::1']);
    assert.deepEqual((await resolver.resolveTxt('hooks.example.test')).sort(), [['second record'], ['v=1']]);
    assert.deepEqual(srv.queries.slice(0, 4), [
      { name: 'hooks.example.test', type: 'A' },
      { name: 'hooks.example.test', type: 'A' },
      { name: 'hooks.example.test', type: 'AAAA' },
      { name: 'hooks.example.test', type: 'TXT' },
    ]);
  });

  it('NXDOMAIN for unknown names, NODATA for known names without that type', async () => {
    srv.setA('only-a.example.test', ['127.0.0.5']);
    srv.setA('empty.example.test', []);
    await assert.rejects(resolver.resolve4('missing.example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6('only-a.example.test'), { code: 'ENODATA' });
    await assert.rejects(resolver.resolveTxt('only-a.example.test'), { code: 'ENODATA' });
    await assert.rejects(resolver.resolve4('empty.example.test'), { code: 'ENODATA' });
    const nx = await rawQuery(srv, 'missing.example.test', 'A');
    const nodata = await rawQuery(srv, 'only-a.example.test', 'TXT');
    assert.equal((nx as unknown as { rcode: string }).rcode, 'NXDOMAIN');
    assert.equal((nodata as unknown as { rcode: string }).rcode, 'NOERROR');
    assert.equal(nodata.answers?.length, 0);
    for (const p of [nx, nodata]) {
      assert.equal(p.id, 4242);
      assert.equal(p.flag_qr, true);
      assert.equal(p.flag_aa, true);
      assert.equal(p.flag_rd, true);
      assert.equal(p.flag_ra, false);
      assert.equal(p.questions?.length, 1);
    }
    assert.equal(nx.questions?.[0]?.name, 'missing.example.test');
  });

  it('remove() drops a type or the whole name', async () => {
    srv.setA('gone.example.test', ['127.0.0.6']);
    srv.setTxt('gone.example.test', ['t']);
    srv.remove('gone.example.test', 'A');
    await assert.rejects(resolver.resolve4('gone.example.test'), { code: 'ENODATA' });
    srv.remove('GONE.example.test.');
    await assert.rejects(resolver.resolveTxt('gone.example.test'), { code: 'ENOTFOUND' });
  });

  it('wildcards match any deeper name; exact and more specific names win', async () => {
    srv.setA('*.example.test', ['127.0.0.10']);
    srv.setA('*.deep.example.test', ['127.0.0.11']);
    srv.setA('exact.example.test', ['127.0.0.12']);
    assert.deepEqual(await resolver.resolve4('a.example.test'), ['127.0.0.10']);
    assert.deepEqual(await resolver.resolve4('x.y.z.example.test'), ['127.0.0.10']);
    assert.deepEqual(await resolver.resolve4('q.deep.example.test'), ['127.0.0.11']);
    assert.deepEqual(await resolver.resolve4('exact.example.test'), ['127.0.0.12']);
    await assert.rejects(resolver.resolve4('example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6('a.example.test'), { code: 'ENODATA' });
  });

  it('calls function-valued records on every query (rebinding)', async () => {
    let n = 0;
    srv.setA('rebind.example.test', () => (n++ === 0 ? ['127.0.0.20'] : ['127.0.0.21']));
    srv.setTxt('counter.example.test', () => [`n=${n}`]);
    assert.deepEqual(await resolver.resolve4('rebind.example.test'), ['127.0.0.20']);
    assert.deepEqual(await resolver.resolve4('rebind.example.test'), ['127.0.0.21']);
    assert.deepEqual(await resolver.resolveTxt('counter.example.test'), [['n=2']]);
  });

  it('splits TXT values over 255 bytes into chunks, falling back to TCP when UDP is too small', async () => {
    const medium = 'm'.repeat(600);
    const big = 'b'.repeat(3000);
    srv.setTxt('medium.example.test', [medium]);
    srv.setTxt('big.example.test', [big]);
    const [m] = await resolver.resolveTxt('medium.example.test');
    assert.deepEqual(m?.map((c) => c.length), [255, 255, 90]);
    assert.equal(m?.join(''), medium);
    const [b] = await resolver.resolveTxt('big.example.test');
    assert.equal(b?.join(''), big);
    assert.ok(b?.every((c) => c.length <= 255));
    const raw = await rawQuery(srv, 'big.example.test', 'TXT');
    assert.equal(raw.flag_tc, true, 'UDP answer without EDNS is truncated');
  });

  it('silence() makes a name go unanswered (logged, never replied to) until reset()', async () => {
    srv.setA('quiet.example.test', ['127.0.0.2']);
    srv.silence('Quiet.Example.Test.');
    await assert.rejects(resolver.resolve4('quiet.example.test'), (e: Error & { code?: string }) => e.code === 'ETIMEOUT');
    assert.ok(srv.queries.some((q) => q.name === 'quiet.example.test' && q.type === 'A'));
    srv.reset();
    srv.setA('quiet.example.test', ['127.0.0.2']);
    assert.deepEqual(await resolver.resolve4('quiet.example.test'), ['127.0.0.2']);
  });

  it('rejects invalid addresses and non-loopback hosts', async () => {
    assert.throws(() => srv.setA('x.example.test', ['::1']), /not a valid IPv4/);
    assert.throws(() => srv.setAAAA('x.example.test', ['127.0.0.1']), /not a valid IPv6/);
    await assert.rejects(startDnsServer({ host: '10.0.0.1' }), /not a loopback/);
  });

  it('serves on ::1 too', async (t) => {
    let srv6: DnsServer;
    try {
      srv6 = await startDnsServer({ host: '::1' });
    } catch {
      t.skip('no ::1 in this environment');
      return;
    }
    try {
      assert.equal(srv6.address, `[::1]:${srv6.port}`);
      srv6.setAAAA('six.example.test', ['::1']);
      const r = await resolverFor(srv6.address);
      assert.deepEqual(await r.resolve6('six.example.test'), ['::1']);
    } finally {
      await srv6.close();
    }
  });
});
