/**
 * The outbound agent every delivery attempt goes through — resolver, address guard and undici
 * pool — built from plain settings, so that the HTTP thread (attempt-thread.ts) and, with
 * HAREPOST_ATTEMPT_THREAD=false, the main loop build the same one.
 */
import { rootCertificates } from 'node:tls';
import type { Agent } from 'undici';
import { createAddressPolicy, parseCidrList } from './address-policy.js';
import { createGuardedAgent } from './guarded-agent.js';
import { createHostResolver, parseDnsServers } from './resolver.js';

/** What the agent is built from: strings and numbers only (they cross to a worker thread). */
export interface AttemptAgentSettings {
  /** HAREPOST_ALLOW_PRIVATE_NETWORKS, as written. */
  allowPrivateNetworks: string;
  /** HAREPOST_DNS_SERVERS, as written. */
  dnsServers: string;
  /** Max sockets per origin. */
  connectionsPerOrigin: number;
  /** An extra CA trusted for targets, beside Node's bundled roots (tests); null: Node's defaults and NODE_EXTRA_CA_CERTS. */
  targetCa: string | null;
}

export function createAttemptAgent(settings: AttemptAgentSettings): Agent {
  const servers = parseDnsServers(settings.dnsServers);
  return createGuardedAgent({
    resolver: createHostResolver(servers.length > 0 ? { servers } : {}),
    policy: createAddressPolicy(parseCidrList(settings.allowPrivateNetworks)),
    connectionsPerOrigin: settings.connectionsPerOrigin,
    // an extra CA adds to Node's bundled roots rather than replacing them
    ...(settings.targetCa !== null ? { tls: { ca: [settings.targetCa, ...rootCertificates] } } : {}),
  });
}
