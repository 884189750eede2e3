/**
 * Parsing of a delivery target URL and the HTTP method (SPEC §4, §8).
 * Only syntax is checked here; whether the address is allowed is the network layer's job.
 */
import { type Checked, invalid, valid } from './result.js';

/** Methods a delivery may use (case-sensitive). */
export const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'] as const;
/** One of {@link METHODS}. */
export type HttpMethod = (typeof METHODS)[number];

/** `undefined` → `POST`; one of {@link METHODS} exactly (upper case) → itself; else invalid `method`. */
export function parseMethod(input: unknown): Checked<HttpMethod> {
  if (input === undefined) return valid('POST');
  if (typeof input === 'string' && (METHODS as readonly string[]).includes(input)) return valid(input as HttpMethod);
  return invalid('method', `method must be one of ${METHODS.join(', ')}`);
}

/** Longest target URL accepted, in characters. */
export const MAX_TARGET_LENGTH = 2048;

/** A parsed, syntactically acceptable target. */
export interface ParsedTarget {
  /** The WHATWG URL object. */
  url: URL;
  /** `url.href`, the WHATWG serialisation (fragment included, if any). */
  href: string;
  /** Hostname without IPv6 brackets and without one trailing dot, lower case. */
  host: string;
  /** Explicit port, or 443 / 80 for https / http. */
  port: number;
  /** True when the hostname is an IPv4 or IPv6 literal (after WHATWG normalisation). */
  ipLiteral: boolean;
}

/** Dotted-quad IPv4, as WHATWG serialises every IPv4 host (0x7f.1, 2130706433… included). */
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Parses a delivery target.
 *
 * It must be a string of at most {@link MAX_TARGET_LENGTH} characters (checked on the input and
 * again on the serialised href, which IDN/percent-encoding may lengthen), an absolute URL by
 * WHATWG rules, `https:` (or `http:` when `allowHttp`), without username/password, with a host.
 * Errors use `opts.field` (default `target`).
 */
export function parseTarget(input: unknown, opts: { allowHttp: boolean; field?: string }): Checked<ParsedTarget> {
  const field = opts.field ?? 'target';
  if (typeof input !== 'string') return invalid(field, `${field} must be a string`);
  if (input.length > MAX_TARGET_LENGTH) {
    return invalid(field, `${field} must be at most ${MAX_TARGET_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return invalid(field, `${field} must be an absolute https URL`);
  }
  if (url.protocol === 'http:') {
    if (!opts.allowHttp) return invalid(field, `http targets are not allowed; use an https URL for ${field}`);
  } else if (url.protocol !== 'https:') {
    return invalid(field, `${field} must be an ${opts.allowHttp ? 'http or https' : 'https'} URL`);
  }
  if (url.username !== '' || url.password !== '') {
    return invalid(field, `${field} must not contain a username or password`);
  }
  if (url.href.length > MAX_TARGET_LENGTH) {
    return invalid(field, `${field} must be at most ${MAX_TARGET_LENGTH} characters`);
  }

  let host = url.hostname;
  const v6 = host.startsWith('[') && host.endsWith(']');
  if (v6) host = host.slice(1, -1);
  else if (host.endsWith('.')) host = host.slice(0, -1);
  host = host.toLowerCase();
  if (host === '') return invalid(field, `${field} must have a host name`);
  // ".." or "a..b" (WHATWG lets them through; no DNS name has an empty label, and such a URL does
  // not even survive a re-parse unchanged)
  if (!v6 && host.split('.').some((label) => label === '')) {
    return invalid(field, `${field} has an invalid host name (an empty label between dots)`);
  }

  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return valid({ url, href: url.href, host, port, ipLiteral: v6 || IPV4.test(host) });
}
