/**
 * What a customer reads when the address guard refuses a target: the host they gave and nothing
 * it resolved to. The addresses and ranges behind a refusal map the operator's internal network
 * (a name that resolves to 10.96.0.1 says where its cluster's services live), so they go to the
 * operator's log only (the error's `detail`, logged by whoever records the attempt).
 */
import net from 'node:net';

/** The public text of a refusal: for a name, no address at all; for an IP literal, the customer's own input. */
export function refusedTargetText(host: string, literal: boolean, literalReason?: string): string {
  if (!literal) return `${host} resolves only to addresses Harepost does not connect to`;
  return `${host} is an address Harepost does not connect to` + (literalReason ? ` (${literalReason})` : '');
}

/** The public text when a connection to a name ended up at an address the guard refuses. */
export function refusedConnectionText(host: string, literal: boolean, literalReason?: string): string {
  if (literal) return refusedTargetText(host, true, literalReason);
  return `the connection to ${host} reached an address Harepost does not connect to`;
}

/**
 * Hides the addresses a name resolved to in a connection error's text (`connect ECONNREFUSED
 * 10.1.2.3:443` → `connect ECONNREFUSED hooks.example.com:443`): the customer sees the name it gave.
 */
export function hideAddresses(text: string, addresses: readonly string[], host: string): string {
  let out = text;
  // longest first, so 10.0.0.10 is not half-replaced as 10.0.0.1
  for (const ip of [...new Set(addresses)].sort((x, y) => y.length - x.length)) {
    out = out.split(`[${ip}]`).join(host).split(ip).join(host);
  }
  return out;
}

const LEGACY_BLOCKED = /^(?:HAREPOST_BLOCKED: )?refusing to connect to (\S+): every resolved address is in a blocked range\b/;

/**
 * An attempt error as the API shows it. Attempts recorded before this release said which addresses
 * a name resolved to ("refusing to connect to HOST: every resolved address is in a blocked range
 * (10.96.0.1 is …)", after the code HAREPOST_BLOCKED); they are shown in today's words.
 */
export function customerAttemptError(stored: string | null): string | null {
  if (stored === null) return null;
  const m = LEGACY_BLOCKED.exec(stored);
  if (!m) return stored;
  const host = m[1]!;
  return refusedTargetText(host, net.isIP(host.replace(/^\[|\]$/g, '')) !== 0);
}
