// A small authoritative DNS server for tests (UDP, plus TCP on the same port for truncated answers).
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, isIPv4, isIPv6, type Server as TcpServer, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import { assertLoopback, hostPort } from './loopback.js';

export type DnsRecordType = 'A' | 'AAAA' | 'TXT';
type Values = string[] | (() => string[]);

export interface DnsServerOptions {
  /** Loopback IP literal; default 127.0.0.1. */
  host?: string;
}

export interface DnsQueryLog {
  /** Lower-cased, trailing dot removed. */
  name: string;
  /** 'A', 'AAAA', 'TXT', ... as decoded by dns-packet. */
  type: string;
}

export interface DnsServer {
  host: string;
  port: number;
  /** "127.0.0.1:5353" / "[::1]:5353" — ready for HAREPOST_DNS_SERVERS and Resolver#setServers. */
  address: string;
  setA(name: string, ips: Values): void;
  setAAAA(name: string, ips: Values): void;
  setTxt(name: string, values: Values): void;
  /** Without type: forget the name entirely (→ NXDOMAIN). With type: drop that record set (name stays known while it has others). */
  remove(name: string, type?: DnsRecordType): void;
  /** Queries for `name` (any type) get no answer at all, as from a server that never answers. */
  silence(name: string): void;
  /** Every query received (UDP and TCP), in order. Live array. */
  queries: DnsQueryLog[];
  /** Forget all records and queries. */
  reset(): void;
  close(): Promise<void>;
}

const RCODE_NOERROR = 0;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const RCODE_NOTIMP = 4;
const OUR_EDNS_PAYLOAD = 1232;

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

function chunkTxt(value: string): Buffer[] {
  const buf = Buffer.from(value, 'utf8');
  if (buf.length === 0) return [buf];
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255));
  return out;
}

function checkIps(values: string[], type: 'A' | 'AAAA', name: string): void {
  const ok = type === 'A' ? isIPv4 : isIPv6;
  for (const v of values) {
    if (!ok(v)) throw new Error(`dns-server: ${JSON.stringify(v)} is not a valid ${type === 'A' ? 'IPv4' : 'IPv6'} address (${type} ${name})`);
  }
}

export async function startDnsServer(opts: DnsServerOptions = {}): Promise<DnsServer> {
  const host = assertLoopback(opts.host ?? '127.0.0.1', 'startDnsServer');
  const family = isIPv6(host) ? 'udp6' : 'udp4';

  const zone = new Map<string, Map<DnsRecordType, Values>>();
  const queries: DnsQueryLog[] = [];
  const silenced = new Set<string>();

  function set(type: DnsRecordType, name: string, values: Values): void {
    if (Array.isArray(values)) {
      if (type !== 'TXT') checkIps(values, type, name);
      values = [...values];
    }
    const key = normalize(name);
    if (key === '') throw new Error('dns-server: empty name');
    let rrsets = zone.get(key);
    if (!rrsets) zone.set(key, (rrsets = new Map()));
    rrsets.set(type, values);
  }

  /** Exact name first, then the most specific matching wildcard ("*.example.test" matches any deeper name). */
  function lookup(qname: string): Map<DnsRecordType, Values> | undefined {
    const exact = zone.get(qname);
    if (exact) return exact;
    const labels = qname.split('.');
    for (let i = 1; i < labels.length; i++) {
      const wild = zone.get(`*.${labels.slice(i).join('.')}`);
      if (wild) return wild;
    }
    return undefined;
  }

  function soa(qname: string): Answer {
    const labels = qname.split('.');
    const apex = labels.length > 2 ? labels.slice(-2).join('.') : qname || '.';
    return {
      type: 'SOA', name: apex, ttl: 0, class: 'IN',
      data: { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 0, retry: 0, expire: 0, minimum: 0 },
    };
  }

  function answerFor(q: Question): { rcode: number; answers: Answer[]; authorities: Answer[] } {
    const qname = normalize(q.name);
    const rrsets = lookup(qname);
    if (!rrsets) return { rcode: RCODE_NXDOMAIN, answers: [], authorities: [soa(qname)] };
    if (q.type !== 'A' && q.type !== 'AAAA' && q.type !== 'TXT') return { rcode: RCODE_NOERROR, answers: [], authorities: [soa(qname)] };
    const v = rrsets.get(q.type);
    if (v === undefined) return { rcode: RCODE_NOERROR, answers: [], authorities: [soa(qname)] };
    const values = typeof v === 'function' ? v() : v;
    if (q.type !== 'TXT' && typeof v === 'function') checkIps(values, q.type, qname);
    const answers: Answer[] = values.map((val): Answer => q.type === 'TXT'
      ? { type: 'TXT', name: q.name, ttl: 0, class: 'IN', data: chunkTxt(val) }
      : { type: q.type as 'A' | 'AAAA', name: q.name, ttl: 0, class: 'IN', data: val });
    return { rcode: RCODE_NOERROR, answers, authorities: answers.length ? [] : [soa(qname)] };
  }

  /** Builds the wire response (UDP answers that do not fit get TC set). */
  function handle(msg: Buffer, overUdp: boolean): Buffer | undefined {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      if (msg.length < 12) return undefined;
      // Echo the id with FORMERR.
      return dnsPacket.encode({ type: 'response', id: msg.readUInt16BE(0), flags: RCODE_FORMERR });
    }
    if (query.type !== 'query') return undefined;
    const q = query.questions?.[0];
    const opt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
    const base: Packet = {
      type: 'response',
      id: query.id ?? 0,
      questions: query.questions ?? [],
      additionals: opt ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    };
    // Keep the RD bit as asked; always authoritative, never recursion available.
    const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    const flags = dnsPacket.AUTHORITATIVE_ANSWER | rd;
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    if (opcode !== 0) return dnsPacket.encode({ ...base, flags: flags | RCODE_NOTIMP });
    if (!q) return dnsPacket.encode({ ...base, flags: flags | RCODE_FORMERR });
    queries.push({ name: normalize(q.name), type: String(q.type) });
    if (silenced.has(normalize(q.name))) return undefined;

    let res: Buffer;
    try {
      const { rcode, answers, authorities } = answerFor(q);
      res = dnsPacket.encode({ ...base, flags: flags | rcode, answers, authorities });
    } catch (err) {
      console.error(`dns-server: SERVFAIL for ${q.type} ${q.name}:`, err);
      return dnsPacket.encode({ ...base, flags: flags | RCODE_SERVFAIL });
    }
    if (overUdp) {
      const limit = opt ? Math.max(512, Math.min(opt.udpPayloadSize, OUR_EDNS_PAYLOAD)) : 512;
      if (res.length > limit) {
        // Too big for UDP: set TC with no answers; the client retries over TCP.
        return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE });
      }
    }
    return res;
  }

  // Bind UDP on an OS-chosen port, then TCP on the same port (retry if that TCP port is taken).
  let udp: UdpSocket | undefined;
  let tcp: TcpServer | undefined;
  let port = 0;
  const tcpSockets = new Set<Socket>();
  for (let attempt = 0; ; attempt++) {
    const u = createSocket({ type: family });
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind({ address: host, port: 0, exclusive: true }, () => {
        u.off('error', reject);
        resolve();
      });
    });
    const p = u.address().port;
    const t = createTcpServer();
    try {
      await new Promise<void>((resolve, reject) => {
        t.once('error', reject);
        t.listen({ host, port: p, exclusive: true }, () => {
          t.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      u.close();
      if (attempt >= 20) throw err;
      continue;
    }
    udp = u;
    tcp = t;
    port = p;
    break;
  }

  udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const res = handle(msg, true);
    if (res) udp!.send(res, rinfo.port, rinfo.address, () => { /* ignore send errors */ });
  });
  udp.on('error', (err) => console.error('dns-server udp error:', err));

  tcp.on('connection', (socket: Socket) => {
    tcpSockets.add(socket);
    socket.on('close', () => tcpSockets.delete(socket));
    socket.on('error', () => { /* client resets are fine */ });
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const res = handle(msg, false);
        if (res) {
          const frame = Buffer.alloc(2 + res.length);
          frame.writeUInt16BE(res.length, 0);
          res.copy(frame, 2);
          socket.write(frame);
        }
      }
    });
  });

  let closed = false;
  return {
    host,
    port,
    address: hostPort(host, port),
    setA: (name, ips) => set('A', name, ips),
    setAAAA: (name, ips) => set('AAAA', name, ips),
    setTxt: (name, values) => set('TXT', name, values),
    remove(name, type) {
      const key = normalize(name);
      if (type === undefined) {
        zone.delete(key);
        return;
      }
      const rrsets = zone.get(key);
      if (!rrsets) return;
      rrsets.delete(type);
      if (rrsets.size === 0) zone.delete(key);
    },
    silence: (name) => silenced.add(normalize(name)),
    queries,
    reset() {
      zone.clear();
      silenced.clear();
      queries.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of tcpSockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp!.close(() => resolve())),
        new Promise<void>((resolve) => tcp!.close(() => resolve())),
      ]);
    },
  };
}
