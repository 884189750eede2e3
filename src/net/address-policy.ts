/**
 * The address judge: decides whether Harepost may open a connection to an IP address.
 *
 * Pure — no sockets, no DNS. The guarded agent (guarded-agent.ts) asks it about every address a
 * target resolves to and again about the address a socket actually connected to.
 *
 * Rule: an address is allowed if it is global unicast, or if the operator exempted it with an
 * allow CIDR (HAREPOST_ALLOW_PRIVATE_NETWORKS). Everything else is refused.
 *
 * The blocked ranges are explicit tables below (IANA special-purpose registries). We do not rely
 * on ipaddr.js's `range()`: it reports several special-purpose ranges as 'unicast'.
 *
 * IPv4 embedded in IPv6 — decisions:
 *  - Address-translation forms, where the packet ends up at the embedded IPv4 host:
 *      IPv4-mapped      ::ffff:0:0/96     judged exactly as the embedded IPv4 (so ::ffff:8.8.8.8 is
 *                                         allowed — the OS dials 8.8.8.8 — and ::ffff:127.0.0.1 is not)
 *      NAT64 well-known 64:ff9b::/96      judged as the embedded IPv4 (IANA: globally reachable)
 *      IPv4-compatible  ::/96             blocked (deprecated, RFC 4291); :: and ::1 blocked as themselves
 *      NAT64 local-use  64:ff9b:1::/48    blocked (not globally reachable, RFC 8215)
 *    The allowlist applies to the address as written AND to the embedded IPv4: either match exempts.
 *  - Tunnel forms, where the embedded IPv4 is a relay/router/client, not the destination:
 *      6to4             2002::/16         blocked entirely (deprecated, RFC 7526)
 *      Teredo           2001::/32         blocked entirely (inside 2001::/23)
 *    The embedded IPv4s (6to4 router; Teredo server and de-obfuscated client) are unwrapped only
 *    to name them in the reason. Only an allow CIDR matching the address as written exempts these.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = [IpAddress, number];

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressPolicy {
  check(ip: string): AddressVerdict;
  isAllowed(ip: string): boolean;
}

type Range<T extends IpAddress> = { cidr: [T, number]; text: string; name: string };

function v4(text: string, name: string): Range<ipaddr.IPv4> {
  return { cidr: ipaddr.IPv4.parseCIDR(text), text, name };
}
function v6(text: string, name: string): Range<ipaddr.IPv6> {
  return { cidr: ipaddr.IPv6.parseCIDR(text), text, name };
}

/** Every IPv4 range that is not global unicast (IANA IPv4 Special-Purpose Address Registry + multicast/reserved). */
export const BLOCKED_IPV4: ReadonlyArray<Range<ipaddr.IPv4>> = [
  v4('0.0.0.0/8', '"this network"'),
  v4('10.0.0.0/8', 'private-use'),
  v4('100.64.0.0/10', 'shared address space (carrier-grade NAT)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (incl. cloud metadata)'),
  v4('172.16.0.0/12', 'private-use'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.31.196.0/24', 'AS112-v4'),
  v4('192.52.193.0/24', 'AMT'),
  v4('192.88.99.0/24', 'deprecated 6to4 relay anycast'),
  v4('192.168.0.0/16', 'private-use'),
  v4('192.175.48.0/24', 'direct delegation AS112 service'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'limited broadcast'), // before 240/4 so the reason names it
  v4('240.0.0.0/4', 'reserved'),
];

/**
 * IPv6 ranges that are blocked as written. The embedding forms (::ffff:0:0/96, ::/96, 64:ff9b::/96,
 * 64:ff9b:1::/48) are handled before this table; anything outside 2000::/3 is blocked afterwards.
 */
export const BLOCKED_IPV6: ReadonlyArray<Range<ipaddr.IPv6>> = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('100::/64', 'discard-only'),
  v6('2001::/23', 'IETF protocol assignments (incl. Teredo)'),
  v6('2001:db8::/32', 'documentation'),
  v6('2002::/16', '6to4 (deprecated)'),
  v6('3fff::/20', 'documentation'),
  v6('5f00::/16', 'segment routing (SRv6) SIDs'),
  v6('fc00::/7', 'unique local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
];

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const MAPPED = ipaddr.IPv6.parseCIDR('::ffff:0:0/96');
const COMPAT = ipaddr.IPv6.parseCIDR('::/96');
const NAT64_WKP = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const NAT64_LOCAL = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');
const SIX_TO_FOUR = ipaddr.IPv6.parseCIDR('2002::/16');
const TEREDO = ipaddr.IPv6.parseCIDR('2001::/32');

/** Removes an IPv6 zone id (`fe80::1%eth0` → `fe80::1`); null for an empty zone (`fe80::1%`). */
function stripZone(ip: string): string | null {
  const i = ip.indexOf('%');
  if (i === -1) return ip;
  return i === ip.length - 1 ? null : ip.slice(0, i);
}

/**
 * Parses a strictly formatted IP (as `net.isIP` accepts: no octal/hex/short IPv4 forms).
 * An IPv6 address ending in a dotted quad is rewritten to hex first: ipaddr.js 2.x parses
 * `::a.b.c.d` as `::ffff:a.b.c.d`, but it is the IPv4-compatible `::a.b.c.d` the OS would dial.
 */
function parseStrict(text: string): IpAddress | null {
  let bare = stripZone(text);
  if (bare === null || bare === '') return null;
  const family = net.isIP(bare);
  if (family === 0) return null;
  if (family === 6) {
    bare = bare.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) => {
      const hex = (hi: string, lo: string): string => ((Number(hi) << 8) | Number(lo)).toString(16);
      return `${hex(a, b)}:${hex(c, d)}`;
    });
  }
  try {
    const addr = ipaddr.parse(bare);
    return addr.kind() === (family === 4 ? 'ipv4' : 'ipv6') ? addr : null;
  } catch {
    return null;
  }
}

function ipv4FromWords(hi: number, lo: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([(hi >> 8) & 0xff, hi & 0xff, (lo >> 8) & 0xff, lo & 0xff]);
}

function inCidr(addr: IpAddress, cidr: Cidr): boolean {
  return addr.kind() === cidr[0].kind() && addr.match(cidr);
}

/**
 * Parses an allow list: CIDRs separated by commas and/or whitespace. A bare IP means /32 or /128.
 * Throws an Error naming the bad entry.
 */
export function parseCidrList(text: string | undefined): Cidr[] {
  if (text === undefined) return [];
  const out: Cidr[] = [];
  for (const entry of text.split(/[\s,]+/)) {
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    const addrText = slash === -1 ? entry : entry.slice(0, slash);
    const prefixText = slash === -1 ? null : entry.slice(slash + 1);
    const bad = (why: string): Error =>
      new Error(
        `invalid CIDR "${entry}" in allow list: ${why} (expected an IP address with an optional /prefix, e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8)`,
      );
    if (addrText.includes('%')) throw bad('zone ids are not allowed');
    const addr = parseStrict(addrText);
    if (addr === null) throw bad(`"${addrText}" is not an IP address`);
    const max = addr.kind() === 'ipv4' ? 32 : 128;
    let prefix = max;
    if (prefixText !== null) {
      if (!/^\d{1,3}$/.test(prefixText)) throw bad(`"/${prefixText}" is not a prefix length`);
      prefix = Number(prefixText);
      if (prefix > max) throw bad(`prefix length ${prefix} is larger than ${max}`);
    }
    out.push([addr, prefix]);
  }
  return out;
}

function judgeV4(addr: ipaddr.IPv4): string | null {
  for (const r of BLOCKED_IPV4) {
    if (addr.match(r.cidr)) return `in blocked range ${r.text} (${r.name})`;
  }
  return null;
}

function cidrText(c: Cidr): string {
  return `${c[0].toString()}/${c[1]}`;
}

export function createAddressPolicy(allowCidrs: Cidr[] = []): AddressPolicy {
  const allow = allowCidrs.slice();
  const exempt = (addr: IpAddress): boolean => allow.some((c) => inCidr(addr, c));

  function check(ip: string): AddressVerdict {
    const addr = parseStrict(ip);
    if (addr === null) return { allowed: false, reason: 'invalid address' };
    const shown = addr.toString();
    if (exempt(addr)) return { allowed: true };

    if (addr.kind() === 'ipv4') {
      const why = judgeV4(addr as ipaddr.IPv4);
      return why === null ? { allowed: true } : { allowed: false, reason: `${shown} is ${why}` };
    }

    const a6 = addr as ipaddr.IPv6;
    const p = a6.parts;
    const w = (i: number): number => p[i] ?? 0;

    // :: and ::1 are blocked as themselves (they sit inside ::/96 but are not IPv4-compatible).
    const isUnspecOrLoop = p.slice(0, 7).every((x) => x === 0) && (w(7) === 0 || w(7) === 1);

    // Address-translation forms: the embedded IPv4 is the real destination.
    if (!isUnspecOrLoop) {
      const forms: Array<[Cidr, string, string | null]> = [
        [MAPPED, 'IPv4-mapped', null],
        [NAT64_WKP, 'NAT64 (64:ff9b::/96)', null],
        [COMPAT, 'IPv4-compatible (::/96)', 'deprecated IPv4-compatible address (::/96)'],
        [NAT64_LOCAL, 'local-use NAT64 (64:ff9b:1::/48)', 'local-use NAT64 (64:ff9b:1::/48), not globally reachable'],
      ];
      for (const [cidr, label, alwaysBlocked] of forms) {
        if (!a6.match(cidr)) continue;
        const inner = ipv4FromWords(w(6), w(7));
        if (exempt(inner)) return { allowed: true };
        const why = judgeV4(inner);
        if (why !== null) {
          return { allowed: false, reason: `${shown} is ${label} for ${inner.toString()}, which is ${why}` };
        }
        if (alwaysBlocked !== null) return { allowed: false, reason: `${shown} is in blocked range ${cidrText(cidr)}: ${alwaysBlocked}` };
        return { allowed: true };
      }
    }

    // Tunnel forms: always blocked; name the embedded IPv4 when it is itself in a blocked range.
    if (a6.match(SIX_TO_FOUR)) {
      const router = ipv4FromWords(w(1), w(2));
      const why = judgeV4(router);
      const extra = why === null ? '' : `; it embeds ${router.toString()}, which is ${why}`;
      return { allowed: false, reason: `${shown} is in blocked range 2002::/16 (6to4, deprecated)${extra}` };
    }
    if (a6.match(TEREDO)) {
      const server = ipv4FromWords(w(2), w(3));
      const client = ipv4FromWords(~w(6) & 0xffff, ~w(7) & 0xffff);
      const parts: string[] = [];
      const whyC = judgeV4(client);
      if (whyC !== null) parts.push(`client ${client.toString()} is ${whyC}`);
      const whyS = judgeV4(server);
      if (whyS !== null) parts.push(`server ${server.toString()} is ${whyS}`);
      const extra = parts.length > 0 ? `; its Teredo ${parts.join(', ')}` : '';
      return { allowed: false, reason: `${shown} is in blocked range 2001::/32 (Teredo)${extra}` };
    }

    for (const r of BLOCKED_IPV6) {
      if (a6.match(r.cidr)) return { allowed: false, reason: `${shown} is in blocked range ${r.text} (${r.name})` };
    }
    if (!a6.match(GLOBAL_UNICAST_V6)) {
      return { allowed: false, reason: `${shown} is not global unicast (outside 2000::/3)` };
    }
    return { allowed: true };
  }

  return {
    check,
    isAllowed: (ip: string) => check(ip).allowed,
  };
}
