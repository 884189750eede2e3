/**
 * Encoding of the `body` of a send request into the bytes delivered to the target (SPEC §4).
 */
import { type Checked, invalid, valid } from './result.js';
import { hasHeader } from './headers.js';
import { isPlainObject, setOwn } from './plain.js';

/**
 * Turns the caller's `body` into bytes, adjusting headers when needed. `headers` is not mutated.
 *
 * - string → its UTF-8 bytes (an empty string gives an empty, non-null buffer); headers unchanged.
 * - plain object or array → `JSON.stringify` bytes; `Content-Type: application/json` is added
 *   unless the caller gave a content-type in any case.
 * - `null`/`undefined` → no body.
 * - anything else (number, boolean, Date, Buffer…) → invalid `field`. This type check applies to
 *   every method, GET included, so a request is valid or not regardless of its method.
 * - method `GET` → no body and no Content-Type added, whatever (valid) body was given.
 */
export function encodeBody(
  method: string,
  body: unknown,
  headers: Record<string, string>,
  field = 'body',
): Checked<{ body: Buffer | null; headers: Record<string, string> }> {
  const copy = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) setOwn(out, k, v);
    return out;
  };

  let bytes: Buffer | null;
  if (body === undefined || body === null) {
    bytes = null;
  } else if (typeof body === 'string') {
    bytes = Buffer.from(body, 'utf8');
  } else if (Array.isArray(body) || isPlainObject(body)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(body);
    } catch {
      return invalid(field, `${field} cannot be encoded as JSON`);
    }
    if (text === undefined) return invalid(field, `${field} cannot be encoded as JSON`);
    bytes = Buffer.from(text, 'utf8');
  } else {
    return invalid(field, `${field} must be a string, an object or an array`);
  }

  if (method === 'GET') return valid({ body: null, headers: copy() });
  return valid({ body: bytes, headers: headersWithBody(body, headers) });
}

/**
 * The headers encodeBody gives a non-GET request whose `body` it accepted, without encoding that
 * body again: `headers` (not mutated), plus `Content-Type: application/json` for an object or
 * array body unless a content-type is there in any case. For one body sent with many sets of
 * headers (an event to each of its destinations).
 */
export function headersWithBody(body: unknown, headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) setOwn(out, k, v);
  const json = Array.isArray(body) || isPlainObject(body);
  if (json && !hasHeader(out, 'content-type')) setOwn(out, 'Content-Type', 'application/json');
  return out;
}
