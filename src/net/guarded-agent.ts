/**
 * The guarded dispatcher: an undici Agent whose connector resolves the target itself, asks the
 * address judge about every address, dials only allowed ones (by IP, with SNI and certificate
 * verification against the original host name), and re-checks the socket's remote address once
 * connected. Every new connection resolves again, so DNS rebinding cannot slip a blocked address
 * in between a check and a dial; IP-literal targets go through the same judge.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import type { HostResolver } from './resolver.js';

export class BlockedAddressError extends Error {
  readonly code = 'HAREPOST_BLOCKED';
  readonly host: string;

  constructor(host: string, detail?: string) {
    super(
      `refusing to connect to ${host}: every resolved address is in a blocked range` +
        (detail ? ` (${detail})` : '') +
        '; set HAREPOST_ALLOW_PRIVATE_NETWORKS to exempt a CIDR',
    );
    this.name = 'BlockedAddressError';
    this.host = host;
  }
}

export interface GuardedAgentOptions {
  resolver: HostResolver;
  policy: AddressPolicy;
  /** Max sockets per origin (undici `connections`). */
  connectionsPerOrigin: number;
  /** Per-address TCP+TLS connect timeout (default 10 s). The attempt's own timeout still bounds the whole. */
  connectTimeoutMs?: number;
  /** Trusted CAs for targets. When given they replace Node's defaults; otherwise Node's defaults incl. NODE_EXTRA_CA_CERTS. */
  tls?: { ca?: string | Buffer | Array<string | Buffer> };
  keepAliveTimeoutMs?: number;
}

type ConnectOptions = buildConnector.Options;
type ConnectCallback = buildConnector.Callback;

/** `[::1]` → `::1`, `example.com.` → `example.com`. */
export function normalizeHost(hostname: string): string {
  let h = hostname;
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.') && h.length > 1) h = h.slice(0, -1);
  return h;
}

export function createGuardedAgent(opts: GuardedAgentOptions): Agent {
  const { resolver, policy } = opts;
  const dial = buildConnector({
    timeout: opts.connectTimeoutMs ?? 10_000,
    // one secure context for every connection: parsing a CA list per handshake is costly
    ...(opts.tls?.ca !== undefined ? { secureContext: createSecureContext({ ca: opts.tls.ca }) } : {}),
  });

  function dialOne(
    base: ConnectOptions,
    ip: string,
    servername: string | undefined,
  ): Promise<Socket | TLSSocket> {
    return new Promise((resolve, reject) => {
      const params: ConnectOptions = {
        protocol: base.protocol,
        port: base.port,
        hostname: ip,
        localAddress: base.localAddress ?? null,
      };
      // host: undefined keeps buildConnector from deriving a servername from the URL's host.
      if (servername !== undefined) params.servername = servername;
      if (base.httpSocket !== undefined) params.httpSocket = base.httpSocket;
      dial(params, (err, socket) => {
        if (err !== null) reject(err);
        else resolve(socket);
      });
    });
  }

  async function connectGuarded(options: ConnectOptions): Promise<Socket | TLSSocket> {
    const host = normalizeHost(options.hostname);
    const literal = net.isIP(host) !== 0;
    const candidates = literal ? [host] : (await resolver.lookupAll(host)).map((a) => a.address);

    const allowed: string[] = [];
    const refused: string[] = [];
    for (const ip of candidates) {
      const verdict = policy.check(ip);
      if (verdict.allowed) allowed.push(ip);
      else refused.push(verdict.reason);
    }
    if (allowed.length === 0) {
      throw new BlockedAddressError(host, refused.slice(0, 3).join('; ') || 'no addresses');
    }

    // SNI and certificate verification use the name the user gave, never the IP we dial.
    const servername = options.protocol === 'https:' && !literal ? host : undefined;

    let lastError: unknown;
    for (const ip of allowed) {
      let socket: Socket | TLSSocket;
      try {
        socket = await dialOne(options, ip, servername);
      } catch (err) {
        lastError = err;
        continue;
      }
      // Defence in depth: judge the address the kernel actually connected to.
      const remote = socket.remoteAddress;
      const verdict = remote === undefined ? ({ allowed: false, reason: 'no remote address' } as const) : policy.check(remote);
      if (!verdict.allowed) {
        const err = new BlockedAddressError(host, verdict.reason);
        socket.destroy(err);
        socket.on('error', () => {});
        throw err;
      }
      return socket;
    }
    throw lastError instanceof Error ? lastError : new Error(`could not connect to ${host}`);
  }

  function connect(options: ConnectOptions, callback: ConnectCallback): void {
    connectGuarded(options).then(
      (socket) => callback(null, socket),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
    );
  }

  return new Agent({
    connections: opts.connectionsPerOrigin,
    connect,
    ...(opts.keepAliveTimeoutMs !== undefined ? { keepAliveTimeout: opts.keepAliveTimeoutMs } : {}),
  });
}
