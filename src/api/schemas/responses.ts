/**
 * A /v1 operation's `schema.response`: its success answers, the errors it can give, and the three
 * every /v1 operation can give (401 no or bad key, 429 rate limited, 503 database unreachable).
 */
import { type ErrorStatus, errorResponse } from './error.js';

type Errors = Partial<Record<Exclude<ErrorStatus, 401 | 429 | 503>, string | true>>;

/**
 * `success` maps each success status to its schema (with a `description`); `errors` lists the
 * route's own error statuses, each `true` (the usual meaning) or a sentence saying what it means here.
 */
export function v1Responses<S extends Record<number, object>>(success: S, errors: Errors = {}) {
  const out: Record<string, object> = { ...success };
  const own = Object.entries(errors) as Array<[string, string | true]>;
  for (const [status, meaning] of own) {
    out[status] = errorResponse(Number(status) as ErrorStatus, meaning === true ? undefined : meaning);
  }
  for (const status of [401, 429, 503] as const) out[status] = errorResponse(status);
  return out;
}

/**
 * The errors any operation that reads a request body can give: 400 (bad or unknown fields, bad
 * JSON or UTF-8), 413 (too large) and 415 (a Content-Type header that is not a media type).
 */
export const BODY_ERRORS = { 400: true, 413: true, 415: true } as const;
