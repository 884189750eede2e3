/**
 * Domain names an account verifies, and matching delivery hosts against them (SPEC §9).
 */
import { domainToASCII } from 'node:url';
import { type Checked, invalid, valid } from './result.js';

/** Longest domain name accepted (RFC 1035, without the root dot). */
export const MAX_DOMAIN_LENGTH = 253;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * True when `name` is (or would be taken by a WHATWG URL parser as) an IP address: an IPv6
 * literal (hex digits, colons and dots, optionally bracketed) or a name whose last label is
 * numeric (`127.0.0.1`, `2130706433`, `0x7f.1`…).
 */
function looksLikeIp(name: string): boolean {
  if (name.includes(':')) return /^\[?[0-9a-f:.]+\]?$/i.test(name);
  const last = name.slice(name.lastIndexOf('.') + 1);
  return /^(?:\d+|0x[0-9a-f]*)$/i.test(last);
}

/** ASCII characters that can never appear in a domain name (non-ASCII is left to IDNA). */
const BAD_ASCII = /[\x00-\x2c\x2f\x3a-\x60\x7b-\x7f]/;

/** Lower case, without one trailing dot. */
function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Normalises a domain for verification: trimmed, lower case, one trailing dot removed, IDN
 * converted to punycode. Refused (invalid `field`): non-strings, IP addresses, single-label
 * names, labels that are empty, longer than 63, outside [a-z0-9-] or starting/ending with `-`,
 * and names longer than {@link MAX_DOMAIN_LENGTH}.
 */
export function normalizeDomain(input: unknown, field = 'domain'): Checked<string> {
  if (typeof input !== 'string') return invalid(field, `${field} must be a string`);
  const name = canonicalHost(input.trim());
  if (name === '') return invalid(field, `${field} must not be empty`);
  const ipError = invalid(field, `${field} must be a domain name; an IP address cannot be verified`);
  if (looksLikeIp(name)) return ipError;
  const notAName = invalid(
    field,
    `${field} is not a valid domain name: each label must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen`,
  );
  if (BAD_ASCII.test(name)) return notAName;

  const ascii = domainToASCII(name);
  if (ascii === '') return notAName;
  // domainToASCII maps e.g. full-width digits to an IPv4 address: check again.
  if (looksLikeIp(ascii)) return ipError;

  const labels = ascii.split('.');
  if (labels.length < 2) {
    return invalid(field, `${field} must have at least two labels (e.g. example.com)`);
  }
  if (ascii.length > MAX_DOMAIN_LENGTH) {
    return invalid(field, `${field} must be at most ${MAX_DOMAIN_LENGTH} characters`);
  }
  for (const label of labels) {
    if (!LABEL.test(label)) return notAName;
  }
  return valid(ascii);
}

/**
 * True when `host` is `domain` or a subdomain of it (dot boundary, case-insensitive, one
 * trailing dot on either ignored). `evil-example.com` is not under `example.com`.
 */
export function hostIsUnderDomain(host: string, domain: string): boolean {
  const h = canonicalHost(host);
  const d = canonicalHost(domain);
  if (h === '' || d === '') return false;
  return h === d || h.endsWith(`.${d}`);
}

/**
 * Domains whose verification would cover `host`: the host itself, then each parent with at
 * least two labels, most specific first. `a.b.example.com` → `[a.b.example.com, b.example.com,
 * example.com]`. Lower-cased, trailing dot removed. A single-label host (`localhost`) or an IP
 * literal yields just itself; an empty host yields `[]`.
 */
export function candidateDomains(host: string): string[] {
  let h = canonicalHost(host);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === '') return [];
  if (looksLikeIp(h)) return [h];
  const labels = h.split('.');
  const out: string[] = [h];
  for (let i = 1; i <= labels.length - 2; i++) out.push(labels.slice(i).join('.'));
  return out;
}
