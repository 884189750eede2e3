/**
 * End-to-end proofs of the address guard (SPEC §4, §8): a real Harepost in process, a real DNS
 * server on loopback, real HTTPS/HTTP receivers, and "traps" — plain TCP listeners that only count
 * connections — on loopback addresses the policy does NOT allow (127.0.0.2, 127.0.0.3, 127.0.0.4,
 * ::1, and 127.0.0.1 where it is not exempt). Every trap shares its port with the receiver the test
 * sends to, so a target that slipped past the guard would land on a trap and be counted.
 *
 * Network rule: every address here is loopback. A broken guard shows up as a trap connection,
 * never as traffic off this machine. Addresses outside 127.0.0.0/8 and ::1 appear only as
 * redirect Location values, which are never dialled.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertLoopback } from '../support/loopback.js';
import { startReceiver, type Receiver, type Reply } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

// ------------------------------------------------------------------------------------- helpers

/** A TCP listener that counts connections and drops them at once. */
interface Trap {
  host: string;
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

function listenTrap(host: string, port: number): Promise<Trap> {
  const h = assertLoopback(host, 'listenTrap');
  return new Promise((resolve, reject) => {
    let connections = 0;
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      socket.destroy();
    });
    server.once('error', reject);
    server.listen({ host: h, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve({
        host: h,
        port,
        get connections() {
          return connections;
        },
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** A receiver plus traps on other loopback addresses, all on the receiver's port number. */
interface Group {
  receiver: Receiver;
  port: number;
  traps: Map<string, Trap>;
  /** Connections seen by all traps together. */
  trapped(): number;
  /** "127.0.0.2=0 ::1=0 …" for assertion messages. */
  describeTraps(): string;
  close(): Promise<void>;
}

async function startGroup(makeReceiver: () => Promise<Receiver>, trapHosts: string[]): Promise<Group> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 25; attempt++) {
    const receiver = await makeReceiver();
    const traps = new Map<string, Trap>();
    try {
      for (const host of trapHosts) traps.set(host, await listenTrap(host, receiver.port));
    } catch (err) {
      lastError = err; // that port is taken on one of the addresses: try another one
      await Promise.all([...traps.values()].map((t) => t.close()));
      await receiver.close();
      continue;
    }
    return {
      receiver,
      port: receiver.port,
      traps,
      trapped: () => [...traps.values()].reduce((n, t) => n + t.connections, 0),
      describeTraps: () => [...traps.values()].map((t) => `${t.host}=${t.connections}`).join(' '),
      async close() {
        await Promise.all([...traps.values()].map((t) => t.close()));
        await receiver.close();
      },
    };
  }
  throw new Error(`could not bind one port on ${trapHosts.join(', ')}: ${String(lastError)}`);
}

/** Routes the receiver's replies by request path; everything else gets 200 ok. */
function routeReplies(receiver: Receiver, routes: Map<string, Reply>): void {
  receiver.respond((req) => routes.get(req.path.split('?')[0]!) ?? { status: 200, body: 'ok' });
}

const FAST = { base_delay_ms: 100, backoff: 'fixed', jitter: 'none', timeout_ms: 3000 };
const TERMINAL = new Set(['delivered', 'rejected', 'dead_letter']);

async function send(stack: Stack, key: string, target: string, delivery: Record<string, unknown> = FAST) {
  return stack.api('POST', '/v1/send', { key, body: { target, body: { probe: true }, delivery } });
}

async function sendOk(stack: Stack, key: string, target: string, delivery: Record<string, unknown> = FAST): Promise<string> {
  const r = await send(stack, key, target, delivery);
  assert.equal(r.status, 202, `POST /v1/send ${target}: ${r.status} ${r.text}`);
  return r.body.queue_id as string;
}

async function settled(stack: Stack, key: string, id: string, timeoutMs = 10_000): Promise<any> {
  return waitFor(
    async () => {
      const g = await stack.api('GET', `/v1/deliveries/${id}`, { key });
      return TERMINAL.has(g.body?.status) ? g.body : undefined;
    },
    { timeoutMs, message: `delivery ${id} reaches a terminal status` },
  );
}

function assertRefusedTarget(r: { status: number; body: any; text: string }, status: 400 | 403, what: string): void {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text}`);
  assert.equal(r.body?.error?.field, 'target', `${what}: error.field: ${r.text}`);
  assert.equal(r.body?.error?.code, status === 400 ? 'invalid_request' : 'domain_not_verified', `${what}: ${r.text}`);
}

async function assertNoDeliveries(stack: Stack, key: string, what: string): Promise<void> {
  const list = await stack.api('GET', '/v1/deliveries?limit=100', { key });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.body.data, [], `${what}: the account has deliveries: ${list.text}`);
}

/**
 * Blocked at delivery time: dead_letter after exactly one attempt with outcome `blocked`, whose
 * error names the host the customer gave and none of the addresses it resolved to.
 */
function assertBlocked(d: any, host: string): void {
  assert.equal(d.status, 'dead_letter', JSON.stringify(d));
  assert.equal(d.attempts.length, 1, `blocked is terminal: ${JSON.stringify(d.attempts)}`);
  assert.equal(d.attempts[0].outcome, 'blocked', JSON.stringify(d.attempts));
  assert.equal(d.attempts[0].http_status, null);
  assert.equal(d.attempts[0].error, `${host} resolves only to addresses Harepost does not connect to`);
}

// Traps for the stacks where only 127.0.0.1/32 is exempt (the harness default).
const BLOCKED_LOOPBACK = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '::1'];

// ============================================================================================
// Default stack: HAREPOST_ALLOW_PRIVATE_NETWORKS=127.0.0.1/32, https only.
// ============================================================================================

describe('address guard, default allowlist (127.0.0.1/32 only)', () => {
  let stack: Stack;
  let g: Group;
  let P: number;
  let acct: TestAccount;
  const routes = new Map<string, Reply>();

  before(async () => {
    stack = await startStack();
    g = await startGroup(
      () => startReceiver({ tls: { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem }, host: '127.0.0.1' }),
      BLOCKED_LOOPBACK,
    );
    P = g.port;
    routeReplies(g.receiver, routes);
    acct = await stack.createAccount('ssrf default');
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => {
    await stack?.close();
    await g?.close();
  });

  // ---------------------------------------------------------------------------- IP literals
  describe('IP-literal targets in every WHATWG encoding → 400 target, nothing dialled, nothing stored', () => {
    let lit: TestAccount;
    before(async () => {
      // Its own account (with example.test verified, so a 403 would only mean "not seen as an IP").
      lit = await stack.createAccount('ssrf literals');
      await stack.verifyDomain(lit.live_key, 'example.test');
    });

    // [name, target, the host WHATWG makes of it (checked, so a parser change is noticed)]
    const cases = (): Array<[string, string, string]> => [
      ['decimal', `https://2130706434:${P}/`, '127.0.0.2'],
      ['hex', `https://0x7f000002:${P}/`, '127.0.0.2'],
      ['dotted hex', `https://0x7f.0.0.2:${P}/`, '127.0.0.2'],
      ['dotted octal', `https://0177.0.0.02:${P}/`, '127.0.0.2'],
      ['short a.b', `https://127.2:${P}/`, '127.0.0.2'],
      ['short a.b.c', `https://127.0.2:${P}/`, '127.0.0.2'],
      ['short hex a.b', `https://0x7f.2:${P}/`, '127.0.0.2'],
      ['hex last part', `https://127.0.0.0x2:${P}/`, '127.0.0.2'],
      ['"0" (0.0.0.0; Linux dials 127.0.0.1 for it)', `https://0:${P}/`, '0.0.0.0'],
      ['0.0.0.0', `https://0.0.0.0:${P}/`, '0.0.0.0'],
      ['another loopback address', `https://127.0.0.3:${P}/`, '127.0.0.3'],
      ['IPv6 loopback', `https://[::1]:${P}/`, '[::1]'],
      ['IPv6 loopback, uncompressed', `https://[0:0:0:0:0:0:0:1]:${P}/`, '[::1]'],
      ['IPv4-mapped, dotted', `https://[::ffff:127.0.0.2]:${P}/`, '[::ffff:7f00:2]'],
      ['IPv4-mapped, hex', `https://[::ffff:7f00:2]:${P}/`, '[::ffff:7f00:2]'],
      ['IPv4-mapped, uncompressed', `https://[0:0:0:0:0:ffff:127.0.0.2]:${P}/`, '[::ffff:7f00:2]'],
      ['trailing dot', `https://127.0.0.2.:${P}/`, '127.0.0.2'],
      ['full-width digits and dots', `https://１２７．０．０．２:${P}/`, '127.0.0.2'],
      ['ideographic full stops', `https://127。0。0。2:${P}/`, '127.0.0.2'],
      ['percent-encoded host', `https://%31%32%37.0.0.2:${P}/`, '127.0.0.2'],
      ['percent-encoded trailing dot', `https://127.0.0.2%2e:${P}/`, '127.0.0.2'],
      ['upper-case scheme', `HTTPS://127.0.0.2:${P}/`, '127.0.0.2'],
      ['tab inside the authority (stripped)', `https://\t127.0.0.2:${P}/`, '127.0.0.2'],
      ['backslashes for slashes', `https:\\\\127.0.0.2:${P}/`, '127.0.0.2'],
    ];

    it('WHATWG turns every form into the host we expect (sanity check of the cases)', () => {
      for (const [name, target, host] of cases()) {
        assert.equal(new URL(target).hostname, host, name);
      }
    });

    it('refuses each form with 400 (field target), no connection, no delivery', async (t) => {
      for (const [name, target] of cases()) {
        await t.test(name, async () => {
          const before = g.receiver.connections;
          const r = await send(stack, lit.live_key, target);
          assertRefusedTarget(r, 400, `${name} ${JSON.stringify(target)}`);
          await sleep(150);
          assert.equal(g.trapped(), 0, `a blocked loopback listener was reached: ${g.describeTraps()}`);
          assert.equal(g.receiver.connections - before, 0, 'the 127.0.0.1 listener was reached');
          await assertNoDeliveries(stack, lit.live_key, name);
        });
      }
    });

    it('an IP literal the allowlist exempts (127.1 → 127.0.0.1) is still refused: 403, IPs cannot be verified', async () => {
      const before = g.receiver.connections;
      const r = await send(stack, lit.live_key, `https://127.1:${P}/`);
      assertRefusedTarget(r, 403, 'https://127.1');
      await sleep(150);
      assert.equal(g.receiver.connections - before, 0);
      await assertNoDeliveries(stack, lit.live_key, '127.1');
    });

    it('the test-mode key sees no deliveries either', async () => {
      await assertNoDeliveries(stack, lit.test_key, 'test mode');
    });
  });

  // ----------------------------------------------------------------------- names → blocked
  describe('names whose answers are blocked addresses', () => {
    it('A 127.0.0.2 → blocked, dead_letter after one attempt, zero connections', async () => {
      stack.dns.setA('one-blocked.example.test', ['127.0.0.2']);
      const id = await sendOk(stack, acct.live_key, `https://one-blocked.example.test:${P}/`, { ...FAST, max_attempts: 3 });
      const d = await settled(stack, acct.live_key, id);
      assertBlocked(d, 'one-blocked.example.test');
      assert.ok(stack.dns.queries.some((q) => q.name === 'one-blocked.example.test' && q.type === 'A'), 'resolved at attempt time');
      assert.equal(g.traps.get('127.0.0.2')!.connections, 0);
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('only AAAA ::1 → blocked, zero connections on ::1', async () => {
      stack.dns.setAAAA('v6-only.example.test', ['::1']); // an exact entry without A: A answers NOERROR/empty
      const id = await sendOk(stack, acct.live_key, `https://v6-only.example.test:${P}/`);
      const d = await settled(stack, acct.live_key, id);
      assertBlocked(d, 'v6-only.example.test');
      assert.equal(g.traps.get('::1')!.connections, 0);
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('only AAAA ::ffff:127.0.0.2 (IPv4-mapped) → judged as 127.0.0.2 → blocked, zero connections', async () => {
      stack.dns.setAAAA('mapped.example.test', ['::ffff:127.0.0.2']);
      const id = await sendOk(stack, acct.live_key, `https://mapped.example.test:${P}/`);
      const d = await settled(stack, acct.live_key, id);
      assertBlocked(d, 'mapped.example.test');
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('several answers, all blocked (127.0.0.2, 127.0.0.3, 127.0.0.4, ::1) → blocked, zero connections', async () => {
      stack.dns.setA('all-blocked.example.test', ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
      stack.dns.setAAAA('all-blocked.example.test', ['::1']);
      const id = await sendOk(stack, acct.live_key, `https://all-blocked.example.test:${P}/`, { ...FAST, max_attempts: 5 });
      const d = await settled(stack, acct.live_key, id);
      assertBlocked(d, 'all-blocked.example.test');
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('A 0.0.0.0 → blocked (Linux would dial 127.0.0.1 for it), zero connections on 127.0.0.1', async () => {
      stack.dns.setA('zero.example.test', ['0.0.0.0']);
      const before = g.receiver.connections;
      const id = await sendOk(stack, acct.live_key, `https://zero.example.test:${P}/`);
      const d = await settled(stack, acct.live_key, id);
      assertBlocked(d, 'zero.example.test');
      assert.equal(g.receiver.connections - before, 0);
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('one blocked and one allowed answer (127.0.0.2, 127.0.0.1) → delivered through 127.0.0.1 only', async () => {
      stack.dns.setA('mixed.example.test', ['127.0.0.2', '127.0.0.1']);
      const id = await sendOk(stack, acct.live_key, `https://mixed.example.test:${P}/mixed`);
      const d = await settled(stack, acct.live_key, id);
      assert.equal(d.status, 'delivered', JSON.stringify(d));
      assert.equal(d.attempts.length, 1);
      const hits = g.receiver.requests.filter((r) => r.path === '/mixed');
      assert.equal(hits.length, 1);
      assert.equal(hits[0]!.headers.host, `mixed.example.test:${P}`);
      assert.equal(g.traps.get('127.0.0.2')!.connections, 0);
      assert.equal(g.trapped(), 0, g.describeTraps());
    });
  });

  // ------------------------------------------------------------------------------ redirects
  describe('redirects to internal addresses are never followed', () => {
    const cases = (): Array<[string, number, string]> => [
      ['/redirect-loopback', 302, `http://127.0.0.2:${P}/`],
      ['/redirect-loopback-https', 307, `https://127.0.0.2:${P}/steal`],
      ['/redirect-v6', 308, `https://[::1]:${P}/`],
      ['/redirect-metadata', 302, 'https://169.254.169.254/latest/meta-data/'],
      ['/redirect-mapped', 301, `https://[::ffff:127.0.0.3]:${P}/`],
    ];

    it('each attempt is `failed` with the 3xx status; only the original target is requested', async (t) => {
      for (const [path, status, location] of cases()) {
        await t.test(`${status} → ${location}`, async () => {
          routes.set(path, { status, headers: { location }, body: 'moved' });
          const id = await sendOk(stack, acct.live_key, `https://hooks.example.test:${P}${path}`, { ...FAST, max_attempts: 2 });
          const d = await settled(stack, acct.live_key, id);
          assert.equal(d.status, 'dead_letter', JSON.stringify(d));
          assert.equal(d.attempts.length, 2);
          for (const a of d.attempts) {
            assert.equal(a.outcome, 'failed');
            assert.equal(a.http_status, status);
          }
          assert.equal(g.receiver.requests.filter((r) => r.path === path).length, 2, 'the retry went to the original target');
          assert.equal(g.receiver.requests.filter((r) => r.path === '/steal').length, 0);
          assert.equal(g.trapped(), 0, g.describeTraps());
        });
      }
    });
  });

  // ------------------------------------------------------------------------ userinfo tricks
  describe('userinfo tricks', () => {
    it('WHATWG reads the tricks the way these tests assume', () => {
      const a = new URL(`https://hooks.example.test@127.0.0.2:${P}/`);
      assert.equal(a.hostname, '127.0.0.2');
      assert.equal(a.username, 'hooks.example.test');
      // A backslash is a path separator in special schemes: the host ends before it.
      const b = new URL(`https://127.0.0.2:${P}\\@hooks.example.test/`);
      assert.equal(b.hostname, '127.0.0.2');
      assert.equal(b.username, '');
      assert.equal(b.pathname, '/@hooks.example.test/');
      const c = new URL(`https://127.0.0.2:${P}#@hooks.example.test/`);
      assert.equal(c.hostname, '127.0.0.2');
      // Empty userinfo is dropped altogether.
      const e = new URL(`https://@hooks.example.test:${P}/`);
      assert.equal(e.username, '');
      assert.equal(e.href, `https://hooks.example.test:${P}/`);
    });

    it('refuses every trick with 400 (field target), zero connections', async (t) => {
      const tricks: Array<[string, string]> = [
        ['verified name as username, blocked IP as host', `https://hooks.example.test@127.0.0.2:${P}/`],
        ['verified name:port as userinfo', `https://hooks.example.test:${P}@127.0.0.2:${P}/`],
        ['backslash before @ (host is 127.0.0.2)', `https://127.0.0.2:${P}\\@hooks.example.test/`],
        ['fragment before @ (host is 127.0.0.2)', `https://127.0.0.2:${P}#@hooks.example.test/`],
        ['user:pass on a verified host', `https://user:pass@hooks.example.test:${P}/`],
        ['user only on a verified host', `https://user@hooks.example.test:${P}/`],
        ['password only on a verified host', `https://:pass@hooks.example.test:${P}/`],
        ['encoded @ in userinfo', `https://hooks.example.test%40127.0.0.2@hooks.example.test:${P}/`],
      ];
      for (const [name, target] of tricks) {
        await t.test(name, async () => {
          const acc = await stack.createAccount(`ssrf userinfo ${name}`);
          await stack.verifyDomain(acc.live_key, 'example.test');
          const before = g.receiver.connections;
          const r = await send(stack, acc.live_key, target);
          assertRefusedTarget(r, 400, `${name} ${target}`);
          await sleep(100);
          assert.equal(g.receiver.connections - before, 0);
          assert.equal(g.trapped(), 0, g.describeTraps());
          await assertNoDeliveries(stack, acc.live_key, name);
        });
      }
    });

    it('an empty userinfo ("https://@host") is dropped by WHATWG: accepted and delivered to the verified host', async () => {
      const id = await sendOk(stack, acct.live_key, `https://@hooks.example.test:${P}/empty-userinfo`);
      const d = await settled(stack, acct.live_key, id);
      assert.equal(d.status, 'delivered', JSON.stringify(d));
      assert.equal(d.target, `https://hooks.example.test:${P}/empty-userinfo`);
      assert.equal(g.trapped(), 0, g.describeTraps());
    });
  });

  // ----------------------------------------------------------------------------------- IDN
  describe('IDN and full-width host names', () => {
    let idn: TestAccount;
    before(async () => {
      idn = await stack.createAccount('ssrf idn');
      const added = await stack.api('POST', '/v1/domains', { key: idn.live_key, body: { domain: 'bücher.example.test' } });
      assert.equal(added.status, 201, added.text);
      assert.equal(added.body.domain, 'xn--bcher-kva.example.test');
      assert.equal(added.body.record.name, '_harepost-challenge.xn--bcher-kva.example.test');
      await stack.verifyDomain(idn.live_key, 'bücher.example.test');
      await stack.verifyDomain(idn.live_key, 'hooks.example.test');
      stack.dns.setA('xn--bcher-kva.example.test', ['127.0.0.1']);
      stack.dns.setA('bad.hooks.example.test', ['127.0.0.2']);
    });

    it('a verified IDN domain delivers to the address its punycode name resolves to', async (t) => {
      for (const [form, host] of [
        ['unicode', 'bücher.example.test'],
        ['upper-case unicode', 'BÜCHER.example.test'],
        ['punycode', 'xn--bcher-kva.example.test'],
      ] as const) {
        await t.test(form, async () => {
          const path = `/idn-${form.replace(/\W/g, '-')}`;
          const id = await sendOk(stack, idn.live_key, `https://${host}:${P}${path}`);
          const d = await settled(stack, idn.live_key, id);
          assert.equal(d.status, 'delivered', JSON.stringify(d));
          assert.equal(d.target, `https://xn--bcher-kva.example.test:${P}${path}`);
          const hit = g.receiver.requests.find((r) => r.path === path);
          assert.ok(hit, 'the receiver got it');
          assert.equal(hit.headers.host, `xn--bcher-kva.example.test:${P}`);
        });
      }
      assert.ok(stack.dns.queries.some((q) => q.name === 'xn--bcher-kva.example.test' && q.type === 'A'));
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('a look-alike of the IDN (bucher without the umlaut) is not verified → 403', async () => {
      const r = await send(stack, idn.live_key, `https://bucher.example.test:${P}/`);
      assertRefusedTarget(r, 403, 'bucher.example.test');
    });

    it('full-width letters and dots of a verified name are normalised by WHATWG and delivered to the same receiver', async (t) => {
      for (const [form, target] of [
        ['full-width letters', `https://ｈｏｏｋｓ.example.test:${P}/fw-letters`],
        ['full-width dots', `https://hooks．example．test:${P}/fw-dots`],
      ] as const) {
        await t.test(form, async () => {
          const path = new URL(target).pathname;
          const id = await sendOk(stack, idn.live_key, target);
          const d = await settled(stack, idn.live_key, id);
          assert.equal(d.status, 'delivered', JSON.stringify(d));
          assert.equal(d.target, `https://hooks.example.test:${P}${path}`);
          const hit = g.receiver.requests.find((r) => r.path === path);
          assert.ok(hit);
          assert.equal(hit.headers.host, `hooks.example.test:${P}`);
        });
      }
      assert.equal(g.trapped(), 0, g.describeTraps());
    });

    it('a full-width subdomain of a verified name that resolves to a blocked address is blocked, zero connections', async () => {
      const id = await sendOk(stack, idn.live_key, `https://ｂａｄ.hooks.example.test:${P}/`);
      const d = await settled(stack, idn.live_key, id);
      assertBlocked(d, 'bad.hooks.example.test');
      assert.equal(g.trapped(), 0, g.describeTraps());
    });
  });

  // ------------------------------------------------------------------------------ http://
  describe('http:// targets without HAREPOST_ALLOW_HTTP_TARGETS', () => {
    it('are refused with 400 (field target), zero connections', async (t) => {
      for (const target of [
        `http://hooks.example.test:${P}/`,
        `HTTP://hooks.example.test:${P}/`,
        `http://127.0.0.2:${P}/`,
        `ftp://hooks.example.test:${P}/`,
        `ws://hooks.example.test:${P}/`,
      ]) {
        await t.test(target, async () => {
          const before = g.receiver.connections;
          const r = await send(stack, acct.live_key, target);
          assertRefusedTarget(r, 400, target);
          await sleep(100);
          assert.equal(g.receiver.connections - before, 0);
          assert.equal(g.trapped(), 0, g.describeTraps());
        });
      }
    });
  });

  it('no blocked loopback listener of this stack ever saw a connection', () => {
    assert.equal(g.trapped(), 0, g.describeTraps());
  });
});

// ============================================================================================
// HAREPOST_ALLOW_PRIVATE_NETWORKS=127.0.0.2/32 only: rebinding and the exactness of the allowlist.
// ============================================================================================

describe('address guard with only 127.0.0.2/32 exempt', () => {
  let stack: Stack;
  let g: Group;
  let P: number;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.2/32' } });
    g = await startGroup(
      // The PKI covers *.example.test; SNI and verification use the name, never the IP dialled.
      () => startReceiver({ tls: { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem }, host: '127.0.0.2' }),
      ['127.0.0.1', '127.0.0.3', '::1'],
    );
    P = g.port;
    acct = await stack.createAccount('ssrf allow .2');
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => {
    await stack?.close();
    await g?.close();
  });

  it('DNS rebinding: first answer 127.0.0.2 (allowed), then 127.0.0.3 → attempt 1 failed 500, attempt 2 blocked, zero connections on 127.0.0.3', async () => {
    const answers: string[] = [];
    stack.dns.setA('rebind.example.test', () => {
      const a = answers.length === 0 ? '127.0.0.2' : '127.0.0.3';
      answers.push(a);
      return [a];
    });
    // 500 with Connection: close, so the retry needs a new connection and a new resolution.
    g.receiver.respond(() => ({ status: 500, headers: { connection: 'close' }, body: 'try again' }));
    try {
      const id = await sendOk(stack, acct.live_key, `https://rebind.example.test:${P}/rebind`, {
        max_attempts: 3,
        base_delay_ms: 100,
        backoff: 'fixed',
        jitter: 'none',
      });
      const d = await settled(stack, acct.live_key, id);
      assert.equal(d.status, 'dead_letter', JSON.stringify(d));
      assert.ok(d.attempts.length >= 2, JSON.stringify(d.attempts));
      assert.equal(d.attempts[0].outcome, 'failed', JSON.stringify(d.attempts));
      assert.equal(d.attempts[0].http_status, 500);
      for (const a of d.attempts.slice(1)) {
        assert.equal(a.outcome, 'blocked', JSON.stringify(d.attempts));
        assert.equal(a.error, 'rebind.example.test resolves only to addresses Harepost does not connect to');
      }
      assert.equal(d.attempts.length, 2, 'blocked is terminal (SPEC §5): no attempt after it');
      assert.equal(g.receiver.requests.filter((r) => r.path === '/rebind').length, 1);
      assert.equal(g.receiver.connections, 1, 'the first attempt reached 127.0.0.2 on one connection');
      assert.deepEqual(answers.slice(0, 2), ['127.0.0.2', '127.0.0.3'], 'every attempt resolved again');
      assert.equal(g.traps.get('127.0.0.3')!.connections, 0);
      assert.equal(g.trapped(), 0, g.describeTraps());
    } finally {
      g.receiver.reset();
    }
  });

  it('a name answering 127.0.0.2 (exempt) is delivered', async () => {
    stack.dns.setA('exempt.example.test', ['127.0.0.2']);
    const id = await sendOk(stack, acct.live_key, `https://exempt.example.test:${P}/exempt`);
    const d = await settled(stack, acct.live_key, id);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    assert.equal(g.receiver.requests.filter((r) => r.path === '/exempt').length, 1);
    assert.equal(g.trapped(), 0, g.describeTraps());
  });

  it('a name answering 127.0.0.3 (next door, not named) is blocked, zero connections on 127.0.0.3', async () => {
    stack.dns.setA('next-door.example.test', ['127.0.0.3']);
    const id = await sendOk(stack, acct.live_key, `https://next-door.example.test:${P}/`);
    const d = await settled(stack, acct.live_key, id);
    assertBlocked(d, 'next-door.example.test');
    assert.equal(g.traps.get('127.0.0.3')!.connections, 0);
  });

  it('127.0.0.1 is no longer exempt once the allowlist names only 127.0.0.2/32: blocked, zero connections', async () => {
    stack.dns.setA('was-default.example.test', ['127.0.0.1']);
    const id = await sendOk(stack, acct.live_key, `https://was-default.example.test:${P}/`);
    const d = await settled(stack, acct.live_key, id);
    assertBlocked(d, 'was-default.example.test');
    assert.equal(g.traps.get('127.0.0.1')!.connections, 0);
  });

  it('::1 is not exempt: an AAAA-only name answering ::1 is blocked, zero connections', async () => {
    stack.dns.setAAAA('v6.example.test', ['::1']);
    const id = await sendOk(stack, acct.live_key, `https://v6.example.test:${P}/`);
    const d = await settled(stack, acct.live_key, id);
    assertBlocked(d, 'v6.example.test');
    assert.equal(g.traps.get('::1')!.connections, 0);
  });

  it('AAAA ::ffff:127.0.0.2 is judged by its embedded IPv4, which is exempt: delivered to 127.0.0.2', async () => {
    stack.dns.setAAAA('mapped-exempt.example.test', ['::ffff:127.0.0.2']);
    const id = await sendOk(stack, acct.live_key, `https://mapped-exempt.example.test:${P}/mapped-exempt`);
    const d = await settled(stack, acct.live_key, id);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    assert.equal(g.receiver.requests.filter((r) => r.path === '/mapped-exempt').length, 1);
    assert.equal(g.trapped(), 0, g.describeTraps());
  });

  it('IP literals: 127.0.0.3 → 400; 127.0.0.2 (exempt) → 403 (an IP cannot be a verified domain); zero connections', async () => {
    const before = g.receiver.connections;
    assertRefusedTarget(await send(stack, acct.live_key, `https://127.0.0.3:${P}/`), 400, '127.0.0.3');
    assertRefusedTarget(await send(stack, acct.live_key, `https://127.0.0.2:${P}/`), 403, '127.0.0.2');
    assertRefusedTarget(await send(stack, acct.live_key, `https://2130706434:${P}/`), 403, '2130706434');
    await sleep(150);
    assert.equal(g.receiver.connections - before, 0);
    assert.equal(g.trapped(), 0, g.describeTraps());
  });

  it('no blocked loopback listener of this stack ever saw a connection', () => {
    assert.equal(g.trapped(), 0, g.describeTraps());
  });
});

// ============================================================================================
// HAREPOST_ALLOW_HTTP_TARGETS=true (allowlist 127.0.0.1/32).
// ============================================================================================

describe('http:// targets with HAREPOST_ALLOW_HTTP_TARGETS=true', () => {
  let stack: Stack;
  let g: Group;
  let P: number;
  let acct: TestAccount;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_ALLOW_HTTP_TARGETS: 'true' } });
    g = await startGroup(() => startReceiver({ host: '127.0.0.1' }), BLOCKED_LOOPBACK);
    P = g.port;
    acct = await stack.createAccount('ssrf http');
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => {
    await stack?.close();
    await g?.close();
  });

  it('an http target on an allowed address is delivered over plain HTTP', async () => {
    const id = await sendOk(stack, acct.live_key, `http://hooks.example.test:${P}/plain`);
    const d = await settled(stack, acct.live_key, id);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    const hit = g.receiver.requests.find((r) => r.path === '/plain');
    assert.ok(hit);
    assert.equal(hit.headers.host, `hooks.example.test:${P}`);
  });

  it('an http target whose name resolves to a blocked address is still blocked, zero connections', async () => {
    stack.dns.setA('http-blocked.example.test', ['127.0.0.2']);
    const id = await sendOk(stack, acct.live_key, `http://http-blocked.example.test:${P}/`);
    const d = await settled(stack, acct.live_key, id);
    assertBlocked(d, 'http-blocked.example.test');
    assert.equal(g.traps.get('127.0.0.2')!.connections, 0);
  });

  it('an http IP-literal target in a blocked range is still 400, and other schemes stay refused', async () => {
    assertRefusedTarget(await send(stack, acct.live_key, `http://0x7f000002:${P}/`), 400, 'http hex literal');
    assertRefusedTarget(await send(stack, acct.live_key, `http://[::1]:${P}/`), 400, 'http ::1');
    assertRefusedTarget(await send(stack, acct.live_key, `ftp://hooks.example.test:${P}/`), 400, 'ftp');
    await sleep(150);
    assert.equal(g.trapped(), 0, g.describeTraps());
  });

  it('no blocked loopback listener of this stack ever saw a connection', () => {
    assert.equal(g.trapped(), 0, g.describeTraps());
  });
});
