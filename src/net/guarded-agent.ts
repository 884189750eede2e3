/**
 * The guarded dispatcher: an undici Agent whose connector resolves the target itself, asks the
 * address judge about every address, dials only allowed ones (by IP, with SNI and certificate
 * verification against the original host name), and re-checks the socket's remote address once
 * connected. Every new connection resolves again, so DNS rebinding cannot slip a blocked address
 * in between a check and a dial; IP-literal targets go through the same judge.
 *
 * Its errors keep a name's addresses out of their message (which the customer reads) and in
 * their `detail` (which the operator's log gets). A lookup is given the attempt's time left.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { attemptTimeLeftMs, currentAttempt } from './attempt-context.js';
import { hideAddresses, refusedConnectionText, refusedTargetText } from './customer-error-text.js';
import { describeError } from './error-text.js';
import type { HostResolver } from './resolver.js';

/** How many refused addresses the operator's detail lists. */
const MAX_REASONS = 8;

/**
 * The guard refused every address of a target. `message` is what the customer may read: it never
 * names an address a name resolved to. `detail` is the operator's: which addresses, which ranges.
 */
export class BlockedAddressError extends Error {
  readonly code = 'HAREPOST_BLOCKED';
  readonly host: string;
  readonly detail: string;

  constructor(host: string, opts: { literal?: boolean; reasons?: readonly string[]; afterConnect?: boolean } = {}) {
    const literal = opts.literal ?? net.isIP(host) !== 0;
    const reasons = opts.reasons ?? [];
    const literalReason = literal ? reasons[0] : undefined;
    super(opts.afterConnect ? refusedConnectionText(host, literal, literalReason) : refusedTargetText(host, literal, literalReason));
    this.name = 'BlockedAddressError';
    this.host = host;
    const shown = reasons.slice(0, MAX_REASONS).join('; ') || 'no addresses';
    const more = reasons.length > MAX_REASONS ? ` (and ${reasons.length - MAX_REASONS} more)` : '';
    this.detail =
      `refused ${opts.afterConnect ? 'the connected address' : 'every address'} of ${host}: ${shown}${more}` +
      '; set HAREPOST_ALLOW_PRIVATE_NETWORKS to exempt a CIDR';
  }
}

/**
 * Connecting to a name failed (refused, timed out, TLS). `message` is the failure with the
 * addresses the name resolved to replaced by the name; `detail` is the failure as it happened.
 */
export class TargetConnectError extends Error {
  readonly code: string | undefined;
  readonly detail: string;

  constructor(host: string, addresses: readonly string[], failure: unknown) {
    const full = describeError(failure);
    super(hideAddresses(full, addresses, host));
    this.name = 'TargetConnectError';
    const code = (failure as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
    this.detail = `connecting to ${host} (${addresses.join(', ')}) failed: ${full}`;
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
    const attempt = currentAttempt();
    if (attempt !== undefined && !literal) attempt.waitingFor = `the DNS lookup of ${host}`;
    const timeLeft = attemptTimeLeftMs();
    const candidates = literal
      ? [host]
      : (await resolver.lookupAll(host, timeLeft === undefined ? {} : { timeoutMs: timeLeft })).map((a) => a.address);

    const allowed: string[] = [];
    const refused: string[] = [];
    for (const ip of candidates) {
      const verdict = policy.check(ip);
      if (verdict.allowed) allowed.push(ip);
      else refused.push(verdict.reason);
    }
    // Judged before any dial: a refused address is never connected to.
    if (allowed.length === 0) throw new BlockedAddressError(host, { literal, reasons: refused });

    // SNI and certificate verification use the name the user gave, never the IP we dial.
    const servername = options.protocol === 'https:' && !literal ? host : undefined;
    if (attempt !== undefined) attempt.waitingFor = `a connection to ${host}`;

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
        const err = new BlockedAddressError(host, { literal, reasons: [verdict.reason], afterConnect: true });
        socket.destroy(err);
        socket.on('error', () => {});
        throw err;
      }
      if (attempt !== undefined) attempt.waitingFor = null;
      return socket;
    }
    const failure = lastError instanceof Error ? lastError : new Error(`could not connect to ${host}`);
    // a name's addresses are the operator's to see; an IP literal is the customer's own
    throw literal ? failure : new TargetConnectError(host, candidates, failure);
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
