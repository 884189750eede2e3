/**
 * Validation of a `POST /v1/send` request body into a ready-to-store delivery request
 * (SPEC §4, harepost-send-reference). Pure: domain verification and address checks happen
 * elsewhere, using `host` and `ipLiteral`.
 */
import { type Checked, invalid, valid } from './result.js';
import { encodeBody } from './body.js';
import { validateHeaders } from './headers.js';
import { isPlainObject } from './plain.js';
import { type DeliveryPolicy, resolvePolicy } from './policy.js';
import { type HttpMethod, parseMethod, parseTarget } from './target.js';

/** A validated send request. */
export interface SendRequest {
  /** Target URL as WHATWG serialises it. */
  target: string;
  /** Target hostname (no brackets, no trailing dot), for domain verification. */
  host: string;
  /** True when the target host is an IP literal (check it against blocked ranges). */
  ipLiteral: boolean;
  method: HttpMethod;
  /** Caller headers after stripping, plus Content-Type for JSON bodies. */
  headers: Record<string, string>;
  /** Bytes to send, or null for no body (always null for GET). */
  body: Buffer | null;
  /** Effective, clamped policy. */
  policy: DeliveryPolicy;
  idempotency_key: string | null;
  metadata: Record<string, unknown> | null;
  sign: boolean;
}

/** Longest `idempotency_key`, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** Largest `metadata`, in bytes of its JSON encoding. */
export const MAX_METADATA_BYTES = 16_384;

/** `null`/absent → null; else a 1–255 character string of printable ASCII (0x20–0x7E). */
export function parseIdempotencyKey(input: unknown, field = 'idempotency_key'): Checked<string | null> {
  if (input === undefined || input === null) return valid(null);
  if (
    typeof input !== 'string' ||
    input.length === 0 ||
    input.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    !/^[\x20-\x7e]+$/.test(input)
  ) {
    return invalid(field, `${field} must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`);
  }
  return valid(input);
}

/** `null`/absent → null; else a plain object whose JSON encoding is at most 16 KiB. */
export function parseMetadata(input: unknown, field = 'metadata'): Checked<Record<string, unknown> | null> {
  if (input === undefined || input === null) return valid(null);
  if (!isPlainObject(input)) return invalid(field, `${field} must be a JSON object`);
  let text: string;
  try {
    text = JSON.stringify(input);
  } catch {
    return invalid(field, `${field} must be a JSON object`);
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_METADATA_BYTES) {
    return invalid(field, `${field} must be at most ${MAX_METADATA_BYTES} bytes when JSON-encoded`);
  }
  return valid(input);
}

/**
 * Validates a send request. `input` must be a plain object (else invalid `request`). Fields are
 * checked in this order and the first error wins: target (required), method, headers, body,
 * delivery, idempotency_key, metadata, sign. Unknown top-level keys are ignored. `sign` must be
 * a boolean when present (`null` is refused, like any other non-boolean); absent → false.
 */
export function parseSendRequest(input: unknown, opts: { allowHttp: boolean }): Checked<SendRequest> {
  if (!isPlainObject(input)) return invalid('request', 'The request body must be a JSON object');

  if (input.target === undefined || input.target === null) return invalid('target', 'target is required');
  const target = parseTarget(input.target, { allowHttp: opts.allowHttp, field: 'target' });
  if (!target.ok) return target;

  const method = parseMethod(input.method);
  if (!method.ok) return method;

  const headers = validateHeaders(input.headers, 'headers');
  if (!headers.ok) return headers;

  const body = encodeBody(method.value, input.body, headers.value, 'body');
  if (!body.ok) return body;

  const policy = resolvePolicy(input.delivery);
  if (!policy.ok) return policy;

  const idempotencyKey = parseIdempotencyKey(input.idempotency_key);
  if (!idempotencyKey.ok) return idempotencyKey;

  const metadata = parseMetadata(input.metadata);
  if (!metadata.ok) return metadata;

  const sign = input.sign;
  if (sign !== undefined && typeof sign !== 'boolean') return invalid('sign', 'sign must be a boolean');

  return valid({
    target: target.value.href,
    host: target.value.host,
    ipLiteral: target.value.ipLiteral,
    method: method.value,
    headers: body.value.headers,
    body: body.value.body,
    policy: policy.value,
    idempotency_key: idempotencyKey.value,
    metadata: metadata.value,
    sign: sign ?? false,
  });
}
