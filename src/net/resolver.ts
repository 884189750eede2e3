/**
 * Host resolution for outbound deliveries and TXT lookups (domain verification), all on c-ares
 * (`dns.promises.Resolver`): asynchronous sockets on the event loop, never `dns.lookup`, whose
 * getaddrinfo runs on libuv's 4-thread pool — the pool the SQLite store's WAL flush behind every
 * 202 also needs, so one DNS server that never answers would stall every send.
 *
 * Name servers: HAREPOST_DNS_SERVERS when set, otherwise the system's (c-ares reads
 * /etc/resolv.conf for each lookup). Before any query, as the system resolver would:
 *  - `localhost` and `*.localhost` are loopback, 127.0.0.1 and ::1 (RFC 6761), never asked of DNS;
 *  - without HAREPOST_DNS_SERVERS, a name listed in the hosts file (/etc/hosts) resolves to its
 *    listed addresses only.
 * Every answer is still judged by the address guard. A and AAAA are asked together; IPv4 answers
 * come first. Each lookup has a budget (the resolver's, cut to the attempt's time left); when it
 * runs out the lookup's queries are cancelled. Names are looked up as written: the search domains
 * of /etc/resolv.conf are not applied. No caching: every new connection resolves again, so the
 * address judge always sees the address about to be dialled.
 */
import dns from 'node:dns';
import net from 'node:net';
import { hostsFileTable, type HostsTable } from './hosts-file.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface LookupOptions {
  /** The most this lookup may take, in ms (the attempt's time left); the resolver's own budget applies too. */
  timeoutMs?: number;
}

export interface HostResolver {
  /** All addresses of `hostname`, IPv4 first. */
  lookupAll(hostname: string, opts?: LookupOptions): Promise<ResolvedAddress[]>;
  /** TXT records of `name`, each record's chunks joined. [] when the name or record does not exist. */
  resolveTxt(name: string): Promise<string[]>;
}

export interface HostResolverOptions {
  /** HAREPOST_DNS_SERVERS (as parseDnsServers gives them). Unset or empty: the system's name servers. */
  servers?: string[];
  /**
   * The hosts file consulted before DNS for target names. Default: /etc/hosts without `servers`,
   * none with them (configured servers answer every lookup). null: none.
   */
  hostsFile?: string | null;
  /** c-ares' timeout for one try (ms); a lookup with less time left gives each try its share. */
  timeoutMs?: number;
  /** c-ares' tries per server. */
  tries?: number;
  /** The most one lookup may take in all (ms). Default: timeoutMs × tries. */
  budgetMs?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_TRIES = 2;
const DEFAULT_HOSTS_FILE = '/etc/hosts';
/** c-ares is never given less than this per try. */
const MIN_TRY_MS = 50;
/** Once one family (A or AAAA) has answered with addresses, the other gets this much longer. */
const OTHER_FAMILY_GRACE_MS = 250;

const LOOPBACK: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/** RFC 6761 §6.3: `localhost` and names under it are loopback. */
function isLocalhost(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

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

type Outcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown } | { status: 'pending' };

/**
 * Waits for `queries` (all made on `resolver`) until every one has settled, `budgetMs` has passed,
 * or `graceMs` after the first one answered with something `useful`. What is still running then is
 * cancelled and reported 'pending'.
 */
function settleWithin<T>(
  resolver: dns.promises.Resolver,
  queries: Array<Promise<T>>,
  budgetMs: number,
  useful: (value: T) => boolean,
  graceMs: number,
): Promise<Array<Outcome<T>>> {
  return new Promise((resolve) => {
    const outcomes: Array<Outcome<T>> = queries.map(() => ({ status: 'pending' }));
    let finished = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(budget);
      clearTimeout(grace);
      if (outcomes.some((o) => o.status === 'pending')) resolver.cancel();
      resolve(outcomes.slice());
    };
    const budget = setTimeout(finish, Math.max(0, budgetMs));
    queries.forEach((query, i) => {
      query.then(
        (value) => {
          if (finished) return;
          outcomes[i] = { status: 'fulfilled', value };
          if (outcomes.every((o) => o.status !== 'pending')) finish();
          else if (useful(value) && grace === undefined) grace = setTimeout(finish, graceMs);
        },
        (reason: unknown) => {
          if (finished) return;
          outcomes[i] = { status: 'rejected', reason };
          if (outcomes.every((o) => o.status !== 'pending')) finish();
        },
      );
    });
  });
}

export function createHostResolver(opts: HostResolverOptions = {}): HostResolver {
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = opts.tries ?? DEFAULT_TRIES;
  const ownBudget = opts.budgetMs ?? timeout * tries;
  const servers = opts.servers ?? [];
  const custom = servers.length > 0;
  const hostsPath = opts.hostsFile === undefined ? (custom ? null : DEFAULT_HOSTS_FILE) : opts.hostsFile;
  const hosts: HostsTable | null = hostsPath === null ? null : hostsFileTable(hostsPath);

  /**
   * A resolver of its own for each lookup, so that cancelling one lookup's queries cancels no
   * other's. Without configured servers c-ares reads the system's (/etc/resolv.conf) here.
   */
  function resolverFor(budgetMs: number): dns.promises.Resolver {
    const perTry = Math.max(MIN_TRY_MS, Math.min(timeout, Math.floor(budgetMs / tries)));
    const resolver = new dns.promises.Resolver({ timeout: perTry, tries });
    if (custom) resolver.setServers(servers);
    return resolver;
  }

  const budgetFor = (limitMs: number | undefined): number =>
    Math.max(0, Math.ceil(limitMs === undefined ? ownBudget : Math.min(ownBudget, limitMs)));

  async function lookupAll(hostname: string, lookup: LookupOptions = {}): Promise<ResolvedAddress[]> {
    const family = net.isIP(hostname);
    if (family === 4 || family === 6) return [{ address: hostname, family }];

    const name = hostname.toLowerCase().replace(/\.+$/, '');
    if (isLocalhost(name)) return LOOPBACK.map((a) => ({ ...a }));
    const listed = hosts?.lookup(name);
    if (listed !== undefined) return listed.map((a) => ({ ...a }));

    const budgetMs = budgetFor(lookup.timeoutMs);
    const resolver = resolverFor(budgetMs);
    const [a, aaaa] = (await settleWithin(
      resolver,
      [resolver.resolve4(hostname), resolver.resolve6(hostname)],
      budgetMs,
      (found) => found.length > 0,
      OTHER_FAMILY_GRACE_MS,
    )) as [Outcome<string[]>, Outcome<string[]>];
    const out: ResolvedAddress[] = [];
    if (a.status === 'fulfilled') for (const address of a.value) out.push({ address, family: 4 });
    if (aaaa.status === 'fulfilled') for (const address of aaaa.value) out.push({ address, family: 6 });
    if (out.length > 0) return out;

    // Nothing usable. A real failure (SERVFAIL, refused) wins over "no such name"; silence is a timeout.
    for (const r of [a, aaaa]) {
      if (r.status === 'rejected' && !NO_DATA.has(errCode(r.reason) ?? '')) {
        const code = errCode(r.reason);
        throw withCode(`DNS lookup of ${hostname} failed: ${code ?? String(r.reason)}`, code, r.reason);
      }
    }
    if (a.status === 'pending' || aaaa.status === 'pending') {
      throw withCode(`DNS lookup of ${hostname} failed: ETIMEOUT (no answer within ${budgetMs} ms)`, 'ETIMEOUT');
    }
    throw withCode(`DNS lookup of ${hostname} found no A or AAAA records (ENOTFOUND)`, 'ENOTFOUND');
  }

  async function resolveTxt(name: string): Promise<string[]> {
    const budgetMs = budgetFor(undefined);
    const resolver = resolverFor(budgetMs);
    const [r] = (await settleWithin(resolver, [resolver.resolveTxt(name)], budgetMs, () => true, 0)) as [Outcome<string[][]>];
    if (r.status === 'fulfilled') return r.value.map((chunks) => chunks.join(''));
    if (r.status === 'pending') {
      throw withCode(`TXT lookup of ${name} failed: ETIMEOUT (no answer within ${budgetMs} ms)`, 'ETIMEOUT');
    }
    const code = errCode(r.reason);
    if (code !== undefined && NO_DATA.has(code)) return [];
    throw withCode(`TXT lookup of ${name} failed: ${code ?? String(r.reason)}`, code, r.reason);
  }

  return { lookupAll, resolveTxt };
}
