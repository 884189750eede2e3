/**
 * Validation of destination input (POST/PATCH /v1/destinations and the /v1/webhooks view).
 * Pure: the address check of an IP-literal url happens in the API with the address policy.
 */
import { parseEventPatterns } from './event-types.js';
import { MAX_IN_FLIGHT_LIMIT, MAX_RATE_PER_SECOND } from './flow-control.js';
import { validateHeaders } from './headers.js';
import { isPlainObject } from './plain.js';
import { type DeliveryPolicy, resolvePolicy } from './policy.js';
import { type Checked, invalid, valid } from './result.js';
import { type SignatureScheme, parseSignatureScheme } from './signature-scheme.js';
import { parseTarget } from './target.js';

export interface DestinationInput {
  url?: { href: string; origin: string; host: string; ipLiteral: boolean };
  name?: string | null;
  description?: string | null;
  events?: string[];
  enabled?: boolean;
  headers?: Record<string, string>;
  policy?: DeliveryPolicy;
  rate_limit?: { per_second: number } | null;
  max_in_flight?: number | null;
  signature?: SignatureScheme;
}

function limitNumber(input: unknown, field: string, max: number): Checked<number> {
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 1 || input > max) {
    return invalid(field, `${field} must be an integer from 1 to ${max}`);
  }
  return valid(input);
}

/** `rate_limit`: null (none) or {"per_second": N}. */
function parseRateLimit(input: unknown): Checked<{ per_second: number } | null> {
  if (input === null) return valid(null);
  if (!isPlainObject(input)) return invalid('rate_limit', 'rate_limit must be an object like {"per_second": 10} or null');
  for (const k of Object.keys(input)) {
    if (k !== 'per_second') return invalid(`rate_limit.${k}`, `rate_limit.${k} is not a known field (use per_second)`);
  }
  const n = limitNumber(input.per_second, 'rate_limit.per_second', MAX_RATE_PER_SECOND);
  return n.ok ? valid({ per_second: n.value }) : n;
}

function optionalText(input: unknown, field: string, max: number): Checked<string | null> {
  if (input === null) return valid(null);
  if (typeof input !== 'string') return invalid(field, `${field} must be a string or null`);
  if (input.length > max) return invalid(field, `${field} must be at most ${max} characters`);
  if (input.includes('\u0000')) return invalid(field, `${field} must not contain NUL characters`);
  return valid(input);
}

/**
 * Reads the fields present in `input`. With `require`, those fields must be there.
 * `basePolicy` is what `delivery` fields not given fall back to (the destination's current policy).
 */
export function parseDestinationInput(
  input: unknown,
  opts: { allowHttp: boolean; require?: readonly ('url' | 'events')[]; basePolicy?: DeliveryPolicy },
): Checked<DestinationInput> {
  if (!isPlainObject(input)) return invalid('request', 'The request body must be a JSON object');
  const out: DestinationInput = {};
  for (const field of opts.require ?? []) {
    if (input[field] === undefined || input[field] === null) return invalid(field, `${field} is required`);
  }
  if (input.url !== undefined) {
    const t = parseTarget(input.url, { allowHttp: opts.allowHttp, field: 'url' });
    if (!t.ok) return t;
    out.url = { href: t.value.href, origin: t.value.url.origin, host: t.value.host, ipLiteral: t.value.ipLiteral };
  }
  if (input.name !== undefined) {
    const n = optionalText(input.name, 'name', 255);
    if (!n.ok) return n;
    out.name = n.value;
  }
  if (input.description !== undefined) {
    const d = optionalText(input.description, 'description', 1024);
    if (!d.ok) return d;
    out.description = d.value;
  }
  if (input.events !== undefined) {
    const e = parseEventPatterns(input.events);
    if (!e.ok) return e;
    if ((opts.require ?? []).includes('events') && e.value.length === 0) {
      return invalid('events', 'events must list at least one event type');
    }
    out.events = e.value;
  }
  if (input.enabled !== undefined) {
    if (typeof input.enabled !== 'boolean') return invalid('enabled', 'enabled must be true or false');
    out.enabled = input.enabled;
  }
  if (input.headers !== undefined) {
    const h = validateHeaders(input.headers);
    if (!h.ok) return h;
    out.headers = h.value;
  }
  if (input.rate_limit !== undefined) {
    const r = parseRateLimit(input.rate_limit);
    if (!r.ok) return r;
    out.rate_limit = r.value;
  }
  if (input.max_in_flight !== undefined) {
    if (input.max_in_flight === null) out.max_in_flight = null;
    else {
      const m = limitNumber(input.max_in_flight, 'max_in_flight', MAX_IN_FLIGHT_LIMIT);
      if (!m.ok) return m;
      out.max_in_flight = m.value;
    }
  }
  if (input.signature !== undefined) {
    const sig = parseSignatureScheme(input.signature);
    if (!sig.ok) return sig;
    out.signature = sig.value;
  }
  if (input.delivery !== undefined) {
    const p = resolvePolicy(input.delivery, opts.basePolicy);
    if (!p.ok) return p;
    out.policy = p.value;
  }
  return valid(out);
}
