/**
 * Host resolution for outbound deliveries and TXT lookups (domain verification).
 *
 * With configured servers (HAREPOST_DNS_SERVERS) every lookup goes to them through c-ares
 * (`dns.promises.Resolver`); without, addresses come from the OS (`dns.lookup`, which honours
 * /etc/hosts) and TXT from c-ares with the system's servers. No caching: every new connection
 * resolves again, so the address judge always sees the address about to be dialled.
 */
import dns from 'node:dns';
import net from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface HostResolver {
  /** All addresses of `hostname` (A before AAAA with custom servers; OS order otherwise). */
  lookupAll(hostname: string): Promise<ResolvedAddress[]>;
  /** TXT records of `name`, each record's chunks joined. [] when the name or record does not exist. */
  resolveTxt(name: string): Promise<string[]>;
}

export interface HostResolverOptions {
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_TRIES = 2;

/** c-ares codes meaning "this name/record does not exist" rather than "the lookup failed". */
const NO_DATA = new Set<string>([dns.NODATA, dns.NOTFOUND]);

function errCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function withCode(message: string, code: string | undefined, cause?: unknown): Error & { code?: string } {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code?: string };
  if (code !== undefined) e.code = code;
  return e;
}

/**
 * Parses a DNS server list: `ip[:port]` entries separated by commas and/or whitespace. IPv6 is
 * written `[::1]:5353` or bare `::1` (a bare IPv6 entry never carries a port — use brackets).
 * Returns entries in the form `Resolver#setServers` accepts.
 */
export function parseDnsServers(text: string | undefined): string[] {
  if (text === undefined) return [];
  const out: string[] = [];
  for (const entry of text.split(/[\s,]+/)) {
    if (entry === '') continue;
    const bad = (why: string): Error =>
      new Error(
        `invalid DNS server "${entry}": ${why} (expected ip[:port], e.g. 127.0.0.1:5353, [::1]:5353 or ::1)`,
      );
    let host: string;
    let portText: string | null = null;
    if (entry.startsWith('[')) {
      const m = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
      if (!m || m[1] === undefined) throw bad('unbalanced brackets');
      host = m[1];
      portText = m[2] ?? null;
      if (net.isIPv6(host) === false) throw bad(`"${host}" is not an IPv6 address`);
    } else if (net.isIPv6(entry)) {
      host = entry;
    } else {
      const i = entry.lastIndexOf(':');
      host = i === -1 ? entry : entry.slice(0, i);
      portText = i === -1 ? null : entry.slice(i + 1);
      if (!net.isIPv4(host)) throw bad(`"${host}" is not an IP address (host names are not accepted)`);
    }
    if (host.includes('%')) throw bad('zone ids are not supported');
    let port: number | null = null;
    if (portText !== null) {
      if (!/^\d{1,5}$/.test(portText)) throw bad(`"${portText}" is not a port`);
      port = Number(portText);
      if (port < 1 || port > 65535) throw bad(`port ${port} is out of range 1-65535`);
    }
    const v6 = net.isIPv6(host);
    if (port === null || port === 53) out.push(host);
    else out.push(v6 ? `[${host}]:${port}` : `${host}:${port}`);
  }
  return out;
}

export function createHostResolver(opts: HostResolverOptions = {}): HostResolver {
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = opts.tries ?? DEFAULT_TRIES;
  const resolver = new dns.promises.Resolver({ timeout, tries });
  const custom = opts.servers !== undefined && opts.servers.length > 0;
  if (custom) resolver.setServers(opts.servers as string[]);

  async function lookupAll(hostname: string): Promise<ResolvedAddress[]> {
    const family = net.isIP(hostname);
    if (family === 4 || family === 6) return [{ address: hostname, family }];

    if (!custom) {
      const found = await dns.promises.lookup(hostname, { all: true, verbatim: true });
      return found
        .filter((a) => a.family === 4 || a.family === 6)
        .map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
    }

    const [a, aaaa] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const out: ResolvedAddress[] = [];
    if (a.status === 'fulfilled') for (const address of a.value) out.push({ address, family: 4 });
    if (aaaa.status === 'fulfilled') for (const address of aaaa.value) out.push({ address, family: 6 });
    if (out.length > 0) return out;

    // Nothing usable. A real failure (SERVFAIL, timeout, refused) wins over "no such name".
    for (const r of [a, aaaa]) {
      if (r.status === 'rejected' && !NO_DATA.has(errCode(r.reason) ?? '')) {
        const code = errCode(r.reason);
        throw withCode(`DNS lookup of ${hostname} failed: ${code ?? String(r.reason)}`, code, r.reason);
      }
    }
    throw withCode(`DNS lookup of ${hostname} found no A or AAAA records (ENOTFOUND)`, 'ENOTFOUND');
  }

  async function resolveTxt(name: string): Promise<string[]> {
    try {
      const records = await resolver.resolveTxt(name);
      return records.map((chunks) => chunks.join(''));
    } catch (err) {
      const code = errCode(err);
      if (code !== undefined && NO_DATA.has(code)) return [];
      throw withCode(`TXT lookup of ${name} failed: ${code ?? String(err)}`, code, err);
    }
  }

  return { lookupAll, resolveTxt };
}
