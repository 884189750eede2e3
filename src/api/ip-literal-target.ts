/**
 * What the 403 says when a send's target is an IP address that the address guard allows.
 *
 * Domain verification proves control of a name through DNS, so an IP address can never be a
 * verified domain. The answer says what works instead: in the dev sandbox (whose account has
 * `localhost` verified) the same URL with `localhost` for a loopback address; elsewhere, a host
 * name on a verified domain — with its network listed in HAREPOST_ALLOW_PRIVATE_NETWORKS when it
 * resolves to a private address.
 */
import ipaddr from 'ipaddr.js';
import type { DomainsStore } from '../store/store.js';

function isLoopback(host: string): boolean {
  try {
    return ipaddr.process(host).range() === 'loopback';
  } catch {
    return false;
  }
}

/** The message for `target`, whose host `host` (no brackets) is an IP literal; `localhostVerified`: the account has `localhost` verified. */
export function ipLiteralTargetMessage(target: string, host: string, localhostVerified: boolean): string {
  const why = `${host} is an IP address, and only a host name can be a verified domain`;
  if (localhostVerified && isLoopback(host)) {
    const url = new URL(target);
    url.hostname = 'localhost';
    return `${why}. localhost is a verified domain of this account and reaches the same machine: send to ${url.toString()} instead`;
  }
  return (
    `${why}: send to a host name on a verified domain of this account (POST /v1/domains, then POST /v1/domains/verify); ` +
    'if that name resolves to a private address, its network must also be listed in HAREPOST_ALLOW_PRIVATE_NETWORKS'
  );
}

/** ipLiteralTargetMessage, looking up whether the account has `localhost` verified. */
export async function ipLiteralRefusal(store: DomainsStore, accountId: string, target: string, host: string): Promise<string> {
  return ipLiteralTargetMessage(target, host, await store.hasVerifiedDomain(accountId, ['localhost']));
}
