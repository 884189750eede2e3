// The guarded agent, resolver and performAttempt against real loopback servers:
// HTTPS receivers on 127.0.0.1 / 127.0.0.2 / 127.0.0.3 / ::1 (certificate from a per-run CA made with
// the openssl CLI) and a tiny UDP DNS server on 127.0.0.1. Nothing here dials outside 127.0.0.0/8 and ::1;
// refusal of other ranges is proven by the pure tests in test/unit/net-address-policy.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import type { Agent } from 'undici';
import { createAddressPolicy, parseCidrList, type AddressPolicy } from '../../src/net/address-policy.js';
import { BlockedAddressError, createGuardedAgent } from '../../src/net/guarded-agent.js';
import { performAttempt, type AttemptRequest, type AttemptResult } from '../../src/net/http-attempt.js';
import { createHostResolver, type HostResolver } from '../../src/net/resolver.js';

const execFileP = promisify(execFile);

// ---------------------------------------------------------------- PKI (openssl CLI, per run)

interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
}

const SAN_NAMES = ['good.test', 'rebind.test', 'multi.test', 'mixed.test', 'v6.test'];

async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'harepost-net-'));
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileP('openssl', [
    'req', '-x509', '-new', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2',
    '-subj', '/CN=Harepost net test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await execFileP('openssl', ['req', '-new', ...ec, '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=good.test']);
  const san = [...SAN_NAMES.map((n) => `DNS:${n}`), 'IP:127.0.0.1', 'IP:127.0.0.2', 'IP:::1'].join(',');
  await writeFile(
    p('leaf.ext'),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  await execFileP('openssl', [
    'x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('leaf.crt'), '-days', '2', '-extfile', p('leaf.ext'),
  ]);
  return {
    dir,
    ca: await readFile(p('ca.crt'), 'utf8'),
    cert: await readFile(p('leaf.crt'), 'utf8'),
    key: await readFile(p('leaf.key'), 'utf8'),
  };
}

// ---------------------------------------------------------------- DNS server (UDP, loopback)

type Answer = string[] | 'servfail' | 'silent';
type Source = Answer | (() => Answer);
interface Zone {
  A?: Source;
  AAAA?: Source;
  TXT?: string[][] | 'servfail' | 'silent';
}

interface TestDns {
  port: number;
  zones: Map<string, Zone>;
  queries: Array<{ name: string; type: string }>;
  close(): Promise<void>;
}

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

async function startDns(): Promise<TestDns> {
  const zones = new Map<string, Zone>();
  const queries: Array<{ name: string; type: string }> = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    queries.push({ name, type: q.type });
    const zone = zones.get(name);
    let rcode = 0;
    const answers: dnsPacket.Answer[] = [];
    if (zone === undefined) {
      rcode = RCODE_NXDOMAIN;
    } else if (q.type === 'A' || q.type === 'AAAA') {
      const src = zone[q.type];
      const value = typeof src === 'function' ? src() : src;
      if (value === 'silent') return;
      if (value === 'servfail') rcode = RCODE_SERVFAIL;
      else for (const data of value ?? []) answers.push({ type: q.type, name: q.name, ttl: 0, class: 'IN', data });
    } else if (q.type === 'TXT') {
      const value = zone.TXT;
      if (value === 'silent') return;
      if (value === 'servfail') rcode = RCODE_SERVFAIL;
      else for (const chunks of value ?? []) answers.push({ type: 'TXT', name: q.name, ttl: 0, class: 'IN', data: chunks });
    }
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
      questions: query.questions ?? [],
      answers,
    });
    sock.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: sock.address().port,
    zones,
    queries,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

// ---------------------------------------------------------------- HTTPS receivers (loopback)

interface Seen {
  path: string;
  method: string;
  servername: string | false | null | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Receiver {
  host: string;
  port: number;
  /** TCP connections accepted (counted before any TLS). */
  tcp: number;
  /** TLS handshakes completed. */
  tls: number;
  seen: Seen[];
  close(): Promise<void>;
}

function handle(req: IncomingMessage, res: ServerResponse, seen: Seen[]): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    seen.push({
      path,
      method: req.method ?? '',
      servername: (req.socket as TLSSocket).servername,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    switch (path) {
      case '/hang':
        return; // never answers
      case '/redirect':
        res.writeHead(302, { location: '/target' }).end('moved');
        return;
      case '/unavailable':
        res.writeHead(503, { 'retry-after': '7' }).end('busy');
        return;
      case '/close':
        res.writeHead(200, { connection: 'close' }).end(`ok from ${req.socket.localAddress}`);
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.alloc(1024 * 1024, 'a'));
        return;
      case '/endless': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(16 * 1024, 'b');
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk)) {
            /* keep writing until the socket pushes back */
          }
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      default:
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${req.socket.localAddress}`);
    }
  });
}

async function startReceiver(pki: Pki, host: string, port = 0): Promise<Receiver> {
  const seen: Seen[] = [];
  const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => handle(req, res, seen));
  const r: Receiver = {
    host,
    port: 0,
    tcp: 0,
    tls: 0,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => r.tcp++);
  server.on('secureConnection', () => r.tls++);
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  r.port = (server.address() as net.AddressInfo).port;
  return r;
}

async function canListen(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, host, () => s.close(() => resolve(true)));
  });
}

async function closedPort(host: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, host, () => resolve()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------- fixtures

let pki: Pki;
let dnsServer: TestDns;
let resolver: HostResolver;
/** Receivers on one shared port P: main on 127.0.0.1:P, rebind target on 127.0.0.2:P, trap on 127.0.0.3:P. */
let main: Receiver;
let second: Receiver;
let trap: Receiver;
let v6: Receiver | null = null;
const agents: Agent[] = [];

function agent(allow: string, opts: { policy?: AddressPolicy; ca?: string | null; resolver?: HostResolver } = {}): Agent {
  const a = createGuardedAgent({
    resolver: opts.resolver ?? resolver,
    policy: opts.policy ?? createAddressPolicy(parseCidrList(allow)),
    connectionsPerOrigin: 4,
    connectTimeoutMs: 2000,
    ...(opts.ca === null ? {} : { tls: { ca: opts.ca ?? pki.ca } }),
  });
  agents.push(a);
  return a;
}

function get(url: string, extra: Partial<AttemptRequest> = {}): AttemptRequest {
  return { url, method: 'GET', headers: {}, body: null, timeoutMs: 5000, ...extra };
}

type ResponseResult = Extract<AttemptResult, { kind: 'response' }>;
type FailureResult = Exclude<AttemptResult, ResponseResult>;

function expectKind<K extends AttemptResult['kind']>(r: AttemptResult, kind: K): K extends 'response' ? ResponseResult : FailureResult {
  assert.equal(r.kind, kind, JSON.stringify(r));
  return r as K extends 'response' ? ResponseResult : FailureResult;
}

/** Counts connections each receiver sees while `fn` runs. */
async function counting<T>(fn: () => Promise<T>): Promise<{ value: T; main: number; second: number; trap: number }> {
  const before = [main.tcp, second.tcp, trap.tcp];
  const value = await fn();
  await new Promise((r) => setTimeout(r, 50)); // let any stray accept() land before reading counters
  return { value, main: main.tcp - before[0]!, second: second.tcp - before[1]!, trap: trap.tcp - before[2]! };
}

before(async () => {
  pki = await makePki();
  dnsServer = await startDns();
  resolver = createHostResolver({ servers: [`127.0.0.1:${dnsServer.port}`], timeoutMs: 1000, tries: 1 });

  for (let i = 0; ; i++) {
    main = await startReceiver(pki, '127.0.0.1');
    try {
      second = await startReceiver(pki, '127.0.0.2', main.port);
      try {
        trap = await startReceiver(pki, '127.0.0.3', main.port);
        break;
      } catch (err) {
        await second.close();
        throw err;
      }
    } catch (err) {
      await main.close();
      if (i >= 5) throw err;
    }
  }
  if (await canListen('::1')) v6 = await startReceiver(pki, '::1');

  const z = dnsServer.zones;
  z.set('good.test', { A: ['127.0.0.1'] });
  z.set('other.test', { A: ['127.0.0.1'] }); // not in the certificate
  z.set('multi.test', { A: ['127.0.0.4', '127.0.0.1'] }); // nothing listens on 127.0.0.4
  z.set('mixed.test', { A: ['127.0.0.3', '127.0.0.1'] });
  z.set('servfail.test', { A: 'servfail', AAAA: 'servfail' });
  z.set('half.test', { A: 'servfail', AAAA: ['::1'] });
  z.set('v6.test', { AAAA: ['::1'] });
  z.set('_harepost.good.test', {
    TXT: [['harepost-verify=', 'abc123'], ['v=spf1 -all']],
  });
  z.set('notxt.test', { A: ['127.0.0.1'] });
  z.set('txtfail.test', { TXT: 'servfail' });
  z.set('txtsilent.test', { TXT: 'silent' });
});

after(async () => {
  await Promise.all(agents.map((a) => a.destroy().catch(() => {})));
  await Promise.all([main, second, trap, v6].map((r) => r?.close()));
  await dnsServer?.close();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

describe('guarded agent over loopback', () => {
  it('reaches an allowlisted address by DNS name, with SNI and the certificate checked against the name', async () => {
    const { value: r, main: conns } = await counting(() =>
      performAttempt(agent('127.0.0.1/32'), {
        url: `https://good.test:${main.port}/hook`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-harepost-attempt': '1' },
        body: Buffer.from('{"n":1}'),
        timeoutMs: 5000,
      }),
    );
    const res = expectKind(r, 'response');
    assert.equal(res.status, 200);
    assert.equal(res.excerpt, 'hello from 127.0.0.1');
    assert.equal(res.retryAfter, null);
    assert.ok(res.latencyMs >= 0);
    assert.equal(conns, 1);
    const seen = main.seen.at(-1);
    assert.equal(seen?.path, '/hook');
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.servername, 'good.test');
    assert.equal(seen?.headers['x-harepost-attempt'], '1');
    assert.equal(seen?.headers.host, `good.test:${main.port}`);
    assert.equal(seen?.body, '{"n":1}');
  });

  it('verifies the certificate against the host name, not the dialled IP (which is in the certificate)', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://other.test:${main.port}/`)), 'network_error');
    assert.match(r.error, /ERR_TLS_CERT_ALTNAME_INVALID|altnames/);
    assert.match(r.error, /other\.test/);
  });

  it('does not trust the receiver without the per-run CA (Node defaults apply)', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32', { ca: null }), get(`https://good.test:${main.port}/`)), 'network_error');
    assert.match(r.error, /certificate|CERT|SIGNATURE/i);
  });

  it('a trailing dot in the host name resolves and verifies like the name without it', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test.:${main.port}/`)), 'response');
    assert.equal(r.status, 200);
    assert.equal(main.seen.at(-1)?.servername, 'good.test');
  });

  it('with an empty allowlist, a name resolving to loopback is blocked before any connection', async () => {
    const { value: r, main: conns, second: c2, trap: c3 } = await counting(() =>
      performAttempt(agent(''), get(`https://good.test:${main.port}/`)),
    );
    const b = expectKind(r, 'blocked');
    // the customer's text names the host, never what it resolved to; the operator's detail does
    assert.equal(b.error, 'good.test resolves only to addresses Harepost does not connect to');
    assert.match(String(b.detail), /127\.0\.0\.1 is in blocked range 127\.0\.0\.0\/8 \(loopback\)/);
    assert.match(String(b.detail), /HAREPOST_ALLOW_PRIVATE_NETWORKS/);
    assert.equal(conns + c2 + c3, 0, 'no receiver saw a connection');
  });

  it('an IP-literal target is judged too: blocked without allowlist, zero connections', async () => {
    const { value: r, main: conns } = await counting(() => performAttempt(agent(''), get(`https://127.0.0.1:${main.port}/`)));
    expectKind(r, 'blocked');
    assert.equal(conns, 0);
    // …and reachable (certificate checked against the IP SAN) once allowlisted.
    const ok = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://127.0.0.1:${main.port}/`)), 'response');
    assert.equal(ok.status, 200);
    assert.equal(main.seen.at(-1)?.servername, false); // no SNI for IP literals
  });

  it('an allowlist entry exempts only the address it names', async () => {
    const { value: r, main: conns } = await counting(() =>
      performAttempt(agent('127.0.0.2/32'), get(`https://127.0.0.1:${main.port}/`)),
    );
    expectKind(r, 'blocked');
    assert.equal(conns, 0);
  });

  it('defeats DNS rebinding: each new connection resolves again and is judged at connect time', async () => {
    let aQueries = 0;
    dnsServer.zones.set('rebind.test', {
      A: () => (aQueries++ === 0 ? ['127.0.0.2'] : ['127.0.0.3']),
    });
    const a = agent('127.0.0.2/32'); // one agent for both requests
    const { value: results, second: c2, trap: c3 } = await counting(async () => {
      // '/close' answers with `Connection: close`, so the second request needs a new connection.
      const first = await performAttempt(a, get(`https://rebind.test:${second.port}/close`));
      const again = await performAttempt(a, get(`https://rebind.test:${second.port}/close`));
      return [first, again] as const;
    });
    const first = expectKind(results[0], 'response');
    assert.equal(first.status, 200);
    assert.equal(first.excerpt, 'ok from 127.0.0.2');
    const againBlocked = expectKind(results[1], 'blocked');
    assert.equal(againBlocked.error, 'rebind.test resolves only to addresses Harepost does not connect to');
    assert.match(String(againBlocked.detail), /127\.0\.0\.3/);
    assert.equal(aQueries, 2, 'resolved once per connection');
    assert.equal(c2, 1);
    assert.equal(c3, 0, '127.0.0.3 never saw a connection');
  });

  it('dials only the allowed addresses of a name, skipping blocked ones', async () => {
    const { value: r, main: conns, trap: c3 } = await counting(() =>
      performAttempt(agent('127.0.0.1/32'), get(`https://mixed.test:${main.port}/`)),
    );
    assert.equal(expectKind(r, 'response').excerpt, 'hello from 127.0.0.1');
    assert.equal(conns, 1);
    assert.equal(c3, 0);
  });

  it('falls back to the next allowed address when one refuses', async () => {
    const r = expectKind(
      await performAttempt(agent('127.0.0.4/32, 127.0.0.1/32'), get(`https://multi.test:${main.port}/`)),
      'response',
    );
    assert.equal(r.excerpt, 'hello from 127.0.0.1');
  });

  it('re-checks the connected socket address (defence in depth)', async () => {
    // A policy that approves 127.0.0.1 when the name's addresses are filtered, then refuses the
    // connected socket — stands in for a kernel that connected somewhere unexpected.
    let calls = 0;
    const flaky: AddressPolicy = {
      check: (ip) => (calls++ === 0 ? { allowed: true } : { allowed: false, reason: `${ip} refused on second look` }),
      isAllowed: (ip) => flaky.check(ip).allowed,
    };
    const r = expectKind(await performAttempt(agent('', { policy: flaky }), get(`https://good.test:${main.port}/`)), 'blocked');
    assert.equal(r.error, 'the connection to good.test reached an address Harepost does not connect to');
    assert.match(String(r.detail), /127\.0\.0\.1 refused on second look/);
    assert.equal(calls, 2);
  });

  it('reports connection refused as network_error', async () => {
    const port = await closedPort('127.0.0.1');
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://127.0.0.1:${port}/`)), 'network_error');
    assert.match(r.error, new RegExp(`^ECONNREFUSED: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
  });

  it('a failed connect to a name says the name, never the address it resolved to (the detail has it)', async () => {
    const port = await closedPort('127.0.0.1');
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${port}/`)), 'network_error');
    assert.equal(r.error, `ECONNREFUSED: connect ECONNREFUSED good.test:${port}`);
    assert.doesNotMatch(r.error, /127\.0\.0\.1/);
    assert.match(String(r.detail), new RegExp(`connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
  });

  it('gives the resolver the attempt\'s time left as the lookup\'s budget', async () => {
    const budgets: Array<number | undefined> = [];
    const recording: HostResolver = {
      lookupAll: async (host, opts) => {
        budgets.push(opts?.timeoutMs);
        return resolver.lookupAll(host, opts);
      },
      resolveTxt: (name) => resolver.resolveTxt(name),
    };
    expectKind(await performAttempt(agent('127.0.0.1/32', { resolver: recording }), get(`https://good.test:${main.port}/`, { timeoutMs: 1500 })), 'response');
    assert.equal(budgets.length, 1);
    assert.ok(budgets[0] !== undefined && budgets[0] <= 1500 && budgets[0] > 1000, `budget ${budgets[0]}`);
  });

  it('reports DNS failures as network_error (NXDOMAIN and SERVFAIL)', async () => {
    const nx = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://nowhere.test:${main.port}/`)), 'network_error');
    assert.match(nx.error, /ENOTFOUND/);
    const sf = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://servfail.test:${main.port}/`)), 'network_error');
    assert.match(sf.error, /failed/);
  });

  it('times out a receiver that never answers, bounded by timeoutMs', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${main.port}/hang`, { timeoutMs: 400 })), 'timeout');
    assert.ok(r.latencyMs >= 350, `latency ${r.latencyMs}`);
    assert.ok(r.latencyMs < 5000, `latency ${r.latencyMs}`);
    assert.match(r.error, /400 ms/);
  });

  it('the attempt timeout also bounds DNS resolution (a DNS server that never answers)', async () => {
    dnsServer.zones.set('silentdns.test', { A: 'silent', AAAA: 'silent' });
    // The resolver would wait 3 s; the attempt's 400 ms must win.
    const slow = createHostResolver({ servers: [`127.0.0.1:${dnsServer.port}`], timeoutMs: 3000, tries: 1 });
    const r = expectKind(
      await performAttempt(agent('127.0.0.1/32', { resolver: slow }), get(`https://silentdns.test:${main.port}/`, { timeoutMs: 400 })),
      'timeout',
    );
    assert.ok(r.latencyMs < 2500, `latency ${r.latencyMs}`);
    assert.equal(r.error, 'timeout: no complete response within 400 ms (still waiting for the DNS lookup of silentdns.test)');
  });

  it('returns a 302 as is, without following it', async () => {
    const targetsBefore = main.seen.filter((s) => s.path === '/target').length;
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${main.port}/redirect`)), 'response');
    assert.equal(r.status, 302);
    assert.equal(r.excerpt, 'moved');
    assert.equal(main.seen.filter((s) => s.path === '/target').length, targetsBefore);
  });

  it('passes Retry-After through', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${main.port}/unavailable`)), 'response');
    assert.equal(r.status, 503);
    assert.equal(r.retryAfter, '7');
  });

  it('keeps a 1 KiB excerpt of a 1 MiB body', async () => {
    const r = expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${main.port}/big`)), 'response');
    assert.equal(r.status, 200);
    assert.equal(r.excerpt.length, 1024);
    assert.equal(r.excerpt, 'a'.repeat(1024));
  });

  it('stops reading at 64 KiB: a body that never ends still yields a response well before the timeout', async () => {
    const r = expectKind(
      await performAttempt(agent('127.0.0.1/32'), get(`https://good.test:${main.port}/endless`, { timeoutMs: 20_000 })),
      'response',
    );
    assert.equal(r.status, 200);
    assert.equal(r.excerpt, 'b'.repeat(1024));
  });

  it('reaches ::1 by IPv6 literal and by AAAA-only name when ::1/128 is allowed', async (t) => {
    if (v6 === null) {
      t.skip('::1 is not available');
      return;
    }
    const lit = expectKind(await performAttempt(agent('::1/128'), get(`https://[::1]:${v6.port}/`)), 'response');
    assert.equal(lit.excerpt, 'hello from ::1');
    const byName = expectKind(await performAttempt(agent('::1/128'), get(`https://v6.test:${v6.port}/`)), 'response');
    assert.equal(byName.excerpt, 'hello from ::1');
    assert.equal(v6.seen.at(-1)?.servername, 'v6.test');
    const before = v6.tcp;
    expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://[::1]:${v6.port}/`)), 'blocked');
    expectKind(await performAttempt(agent('127.0.0.1/32'), get(`https://v6.test:${v6.port}/`)), 'blocked');
    assert.equal(v6.tcp, before);
  });

  it('BlockedAddressError carries code HAREPOST_BLOCKED, a public message and the operator\'s detail', () => {
    const e = new BlockedAddressError('example.test', { reasons: ['10.0.0.1 is in blocked range 10.0.0.0/8 (private-use)'] });
    assert.equal(e.code, 'HAREPOST_BLOCKED');
    assert.ok(e instanceof Error);
    assert.equal(e.message, 'example.test resolves only to addresses Harepost does not connect to');
    assert.match(e.detail, /10\.0\.0\.1 is in blocked range 10\.0\.0\.0\/8/);
    // an IP literal is the customer's own input: its message may name it and its range
    const lit = new BlockedAddressError('10.0.0.1', { reasons: ['10.0.0.1 is in blocked range 10.0.0.0/8 (private-use)'] });
    assert.equal(lit.message, '10.0.0.1 is an address Harepost does not connect to (10.0.0.1 is in blocked range 10.0.0.0/8 (private-use))');
  });

  it('never throws, even for an invalid URL', async () => {
    const r = await performAttempt(agent('127.0.0.1/32'), get('not a url'));
    assert.equal(r.kind, 'network_error');
  });
});

describe('resolver against the loopback DNS server', () => {
  it('looks up A and AAAA records', async () => {
    assert.deepEqual(await resolver.lookupAll('good.test'), [{ address: '127.0.0.1', family: 4 }]);
    assert.deepEqual(await resolver.lookupAll('v6.test'), [{ address: '::1', family: 6 }]);
    assert.deepEqual(await resolver.lookupAll('multi.test'), [
      { address: '127.0.0.4', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
  });

  it('answers with whichever family succeeds', async () => {
    assert.deepEqual(await resolver.lookupAll('half.test'), [{ address: '::1', family: 6 }]);
  });

  it('throws ENOTFOUND when neither family has records, a lookup error on SERVFAIL', async () => {
    await assert.rejects(resolver.lookupAll('nowhere.test'), (e: Error & { code?: string }) => e.code === 'ENOTFOUND');
    await assert.rejects(resolver.lookupAll('_harepost.good.test'), (e: Error & { code?: string }) => e.code === 'ENOTFOUND');
    await assert.rejects(resolver.lookupAll('servfail.test'), (e: Error) => /failed/.test(e.message));
  });

  it('resolves TXT records, joining each record’s chunks', async () => {
    assert.deepEqual(await resolver.resolveTxt('_harepost.good.test'), ['harepost-verify=abc123', 'v=spf1 -all']);
    assert.ok(dnsServer.queries.some((q) => q.name === '_harepost.good.test' && q.type === 'TXT'));
  });

  it('returns [] for NXDOMAIN and for a name without TXT records', async () => {
    assert.deepEqual(await resolver.resolveTxt('nowhere.test'), []);
    assert.deepEqual(await resolver.resolveTxt('notxt.test'), []);
  });

  it('throws "lookup failed" on SERVFAIL and on timeout', async () => {
    await assert.rejects(resolver.resolveTxt('txtfail.test'), (e: Error) => /TXT lookup of txtfail\.test failed/.test(e.message));
    const quick = createHostResolver({ servers: [`127.0.0.1:${dnsServer.port}`], timeoutMs: 200, tries: 1 });
    await assert.rejects(quick.resolveTxt('txtsilent.test'), (e: Error) => /TXT lookup of txtsilent\.test failed/.test(e.message));
  });
});
