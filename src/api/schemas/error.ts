/**
 * The one error shape, {"error": {"code", "message", "field"?}}, as a response schema for each
 * status the API answers with — so errors are serialised (and documented) like everything else.
 */

export const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'snake_case, stable: what went wrong.' },
        message: { type: 'string', description: 'A sentence for a person: what to change.' },
        field: {
          type: 'string',
          description: 'The input at fault, by its path (delivery.max_attempts), when one is: a body field, query parameter or header.',
        },
      },
    },
  },
} as const;

/** Every status an API error can have. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

/** What each status means, unless a route says more precisely. */
export const ERROR_MEANINGS: Readonly<Record<ErrorStatus, string>> = {
  400:
    'invalid_request: a field is missing, of the wrong type, out of range or not a known field (error.field names it by ' +
    'its path); or invalid_json: the body is not JSON, or not valid UTF-8.',
  401: 'unauthorized: no API key, or an invalid or revoked one.',
  403: 'Forbidden.',
  404: 'not_found: no such resource on this account and mode.',
  409: 'Conflict.',
  413: 'body_too_large: the request body is larger than HAREPOST_MAX_BODY_BYTES.',
  415: 'invalid_request: the Content-Type header is not a valid media type (any valid one is read as JSON).',
  429: 'rate_limited: too many requests for this account (all its keys together); retry after Retry-After seconds.',
  503:
    'database_unavailable: the database cannot be reached right now; or storage_unavailable: the store cannot take writes ' +
    '(out of disk space, failing disk, out of memory or connections, read-only, in recovery; the message says which); ' +
    'or overloaded: callers are outrunning this process, the request was refused at once. ' +
    'Retry after Retry-After seconds.',
};

const retryAfter = { 'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying.' } } as const;

/** The response entry for one error status; `meaning` replaces the default description. */
export function errorResponse(status: ErrorStatus, meaning?: string) {
  return {
    description: meaning ?? ERROR_MEANINGS[status],
    ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
    ...errorBody,
  };
}
