/**
 * Validation of caller-supplied request headers for `/v1/send` (SPEC §4) and the list of
 * headers Harepost or the network controls, which are silently dropped.
 */
import { type Checked, invalid, valid } from './result.js';
import { isPlainObject, printable, setOwn } from './plain.js';

/** Exact header names (lower case) removed from caller headers. */
export const STRIPPED_HEADERS: ReadonlySet<string> = new Set([
  // The eight listed in harepost-send-reference.
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'expect',
  'authorization',
  // Added by SPEC §4.
  'te',
  'trailer',
  'user-agent',
]);

/** Name prefixes (lower case) whose headers are removed from caller headers. */
export const STRIPPED_HEADER_PREFIXES: readonly string[] = Object.freeze(['proxy-', 'x-harepost-', 'webhook-']);

/** Most headers a caller may pass (counted before stripping). */
export const MAX_HEADERS = 64;

/** True when Harepost drops this header from caller input (case-insensitive). */
export function isStrippedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return STRIPPED_HEADERS.has(lower) || STRIPPED_HEADER_PREFIXES.some((p) => lower.startsWith(p));
}

/** RFC 9110 §5.6.2 token: 1*tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when `name` is a syntactically valid header field name (RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/**
 * Why a header value is unacceptable, or null when it is fine. Refused: CR, LF, NUL and every
 * other control character except HTAB (0x00–0x08, 0x0A–0x1F, 0x7F), and characters above
 * U+00FF (they cannot be sent as HTTP/1.1 header bytes).
 */
function headerValueProblem(value: string): string | null {
  if (/[\r\n\0]/.test(value)) return 'must not contain CR, LF or NUL';
  if (/[\u0001-\u0008\u000b-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  if (/[^\u0000-\u00ff]/.test(value)) return 'must contain only ISO-8859-1 (Latin-1) characters';
  return null;
}

/**
 * Validates the `headers` object of a send request.
 *
 * - `undefined`/`null` → `{}`; otherwise it must be a plain object with at most
 *   {@link MAX_HEADERS} entries (else invalid `field`).
 * - Each name must be an RFC 9110 token and each value a string without CR, LF, NUL or other
 *   control characters (HTAB allowed), else invalid `field.<name>`. Names are shown with control
 *   characters replaced by `?` so error messages stay printable.
 * - Two names equal ignoring case → invalid `field.<name>` (checked across all names, stripped
 *   ones included).
 * - Stripped headers ({@link isStrippedHeader}) are then removed; other names keep their case.
 */
export function validateHeaders(input: unknown, field = 'headers'): Checked<Record<string, string>> {
  if (input === undefined || input === null) return valid({});
  if (!isPlainObject(input)) return invalid(field, `${field} must be an object of string values`);
  const names = Object.keys(input);
  if (names.length > MAX_HEADERS) {
    return invalid(field, `${field} may contain at most ${MAX_HEADERS} headers (got ${names.length})`);
  }

  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const name of names) {
    const shown = printable(name);
    const path = `${field}.${shown}`;
    if (!isHeaderName(name)) {
      return invalid(path, `header name "${shown}" is not a valid HTTP token: use only letters, digits and !#$%&'*+-.^_\`|~`);
    }
    const value = input[name];
    if (typeof value !== 'string') return invalid(path, `header "${shown}" must have a string value`);
    const problem = headerValueProblem(value);
    if (problem !== null) return invalid(path, `header "${shown}" value ${problem}`);
    const lower = name.toLowerCase();
    if (seen.has(lower)) return invalid(path, `header "${shown}" is given more than once (names are case-insensitive)`);
    seen.add(lower);
    if (!isStrippedHeader(name)) setOwn(out, name, value);
  }
  return valid(out);
}

/** True when `headers` has a key equal to `name` ignoring case. */
export function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}
