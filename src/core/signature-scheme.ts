/**
 * A destination's `signature` setting (SPEC §7a): which headers its deliveries carry and how they
 * are signed. One of the named schemes, or a custom header. Pure: validation of what the API is
 * given, and the text a store keeps.
 */
import { isStrippedHeader, isHeaderName } from './headers.js';
import { isPlainObject, printable } from './plain.js';
import { type Checked, invalid, valid } from './result.js';

export const NAMED_SCHEMES = ['standard-webhooks', 'posthawk', 'harbor', 'github'] as const;
export type NamedScheme = (typeof NAMED_SCHEMES)[number];

export const SIGNATURE_ENCODINGS = ['hex', 'base64'] as const;
export type SignatureEncoding = (typeof SIGNATURE_ENCODINGS)[number];

/**
 * A header of the destination's choosing. Not timestamped: `<prefix><sig>` over the raw body.
 * Timestamped: `t=<unix seconds>,v1=<sig>` over `<t>.<raw body>` (prefix empty). HMAC-SHA256 keyed
 * with the secret string's UTF-8 bytes either way.
 */
export interface CustomScheme {
  header: string;
  encoding: SignatureEncoding;
  prefix: string;
  timestamped: boolean;
}

export type SignatureScheme = NamedScheme | CustomScheme;

/** What a signed delivery without a destination (a `sign: true` send) uses, and the default default. */
export const DEFAULT_SCHEME: NamedScheme = 'standard-webhooks';

export const MAX_CUSTOM_HEADER_LENGTH = 128;
export const MAX_CUSTOM_PREFIX_LENGTH = 64;

/** Headers about the body (`content-*`) and `date` describe the request, not its signature. */
const isReserved = (lower: string) => lower.startsWith('content-') || lower === 'date';

export function isNamedScheme(value: unknown): value is NamedScheme {
  return typeof value === 'string' && (NAMED_SCHEMES as readonly string[]).includes(value);
}

const CUSTOM_KEYS = ['header', 'encoding', 'prefix', 'timestamped'] as const;
const EXPECTED =
  'signature must be one of "standard-webhooks", "posthawk", "harbor", "github", ' +
  'or an object like {"header": "X-Signature", "encoding": "hex", "prefix": "sha256=", "timestamped": false}';

/** A header name a custom scheme may use: a token, not one Harepost or the connection controls. */
function customHeader(input: unknown, field: string): Checked<string> {
  if (typeof input !== 'string' || input === '') return invalid(field, `${field} must be a header name such as "X-Signature"`);
  if (input.length > MAX_CUSTOM_HEADER_LENGTH) {
    return invalid(field, `${field} must be at most ${MAX_CUSTOM_HEADER_LENGTH} characters`);
  }
  if (!isHeaderName(input)) return invalid(field, `${field} must be a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~)`);
  if (isStrippedHeader(input) || isReserved(input.toLowerCase())) {
    return invalid(
      field,
      `${field} "${input}" is a header Harepost sets itself; pick another name (x-harepost-*, webhook-*, proxy-*, ` +
        'host, content-*, date, user-agent, authorization and the connection headers are taken)',
    );
  }
  return valid(input);
}

function parseCustom(input: Record<string, unknown>, field: string): Checked<CustomScheme> {
  for (const k of Object.keys(input)) {
    if (!(CUSTOM_KEYS as readonly string[]).includes(k)) {
      const name = `${field}.${printable(k, 64)}`;
      return invalid(name, `${name} is not a known field (use header, encoding, prefix, timestamped)`);
    }
  }
  if (input.header === undefined) return invalid(`${field}.header`, `${field}.header is required`);
  const header = customHeader(input.header, `${field}.header`);
  if (!header.ok) return header;

  let encoding: SignatureEncoding = 'hex';
  if (input.encoding !== undefined) {
    if (!(SIGNATURE_ENCODINGS as readonly unknown[]).includes(input.encoding)) {
      return invalid(`${field}.encoding`, `${field}.encoding must be "hex" or "base64"`);
    }
    encoding = input.encoding as SignatureEncoding;
  }

  let timestamped = false;
  if (input.timestamped !== undefined) {
    if (typeof input.timestamped !== 'boolean') return invalid(`${field}.timestamped`, `${field}.timestamped must be true or false`);
    timestamped = input.timestamped;
  }

  let prefix = '';
  if (input.prefix !== undefined) {
    const p = input.prefix;
    if (typeof p !== 'string') return invalid(`${field}.prefix`, `${field}.prefix must be a string (it may be empty)`);
    if (p.length > MAX_CUSTOM_PREFIX_LENGTH) {
      return invalid(`${field}.prefix`, `${field}.prefix must be at most ${MAX_CUSTOM_PREFIX_LENGTH} characters`);
    }
    if (!/^[\x20-\x7e]*$/.test(p)) return invalid(`${field}.prefix`, `${field}.prefix must contain only printable ASCII characters`);
    if (timestamped && p !== '') {
      return invalid(
        `${field}.prefix`,
        `${field}.prefix must be empty when timestamped is true (a timestamped signature reads t=<timestamp>,v1=<signature>)`,
      );
    }
    prefix = p;
  }
  return valid({ header: header.value, encoding, prefix, timestamped });
}

/**
 * The `signature` of a destination request: a scheme's name, or a custom object whose `header`
 * is required and whose `encoding` ("hex"), `prefix` ("") and `timestamped` (false) may be left out.
 */
export function parseSignatureScheme(input: unknown, field = 'signature'): Checked<SignatureScheme> {
  if (typeof input === 'string') return isNamedScheme(input) ? valid(input) : invalid(field, EXPECTED);
  if (isPlainObject(input)) return parseCustom(input, field);
  return invalid(field, EXPECTED);
}

/** The text a store keeps: the name, or the custom object as JSON (fixed key order). */
export function signatureToStored(scheme: SignatureScheme): string {
  if (typeof scheme === 'string') return scheme;
  return JSON.stringify({ header: scheme.header, encoding: scheme.encoding, prefix: scheme.prefix, timestamped: scheme.timestamped });
}

/**
 * The scheme a store's text stands for. Null (no destination: a `sign: true` send) is Standard
 * Webhooks. Only text written by signatureToStored is ever stored; anything else reads as the
 * default rather than stopping every claim that meets it.
 */
export function signatureFromStored(text: string | null | undefined): SignatureScheme {
  if (text === null || text === undefined) return DEFAULT_SCHEME;
  if (isNamedScheme(text)) return text;
  if (text.startsWith('{')) {
    try {
      const parsed = parseSignatureScheme(JSON.parse(text) as unknown);
      if (parsed.ok) return parsed.value;
    } catch {
      // not JSON: the default below
    }
  }
  return DEFAULT_SCHEME;
}
