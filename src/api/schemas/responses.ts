/**
 * A /v1 operation's `schema.response`: its success answers, the errors it can give, and those
 * every /v1 operation can give (401 no or bad key, 403 account suspended, 429 rate limited, 503
 * database unreachable).
 */
import { ERROR_MEANINGS, type ErrorStatus, errorResponse } from './error.js';

const SUSPENDED = 'account_suspended: the account is suspended by the operator of this Harepost.';

/** A route may say what its 429 means beyond the rate limit (backlog_full); 401 and 503 mean the same everywhere. */
type Errors = Partial<Record<Exclude<ErrorStatus, 401 | 503>, string | true>>;

/** One error status's response entry: its answer is the error shape. */
type ErrorEntry = ReturnType<typeof errorResponse>;

/** The 429 of an operation that accepts deliveries (send, events). */
export const BACKLOG_OR_RATE_LIMITED =
  'rate_limited: too many requests for this account (all its keys together); or backlog_full: accepting these deliveries ' +
  "would take the account's pending (queued or retrying) deliveries past its max_pending_deliveries, and nothing was " +
  'accepted. Either way, retry after Retry-After seconds.';

/** The 429 of a replay (one delivery, or in bulk). */
export const REPLAY_BACKLOG_OR_RATE_LIMITED =
  'rate_limited: too many requests for this account (all its keys together); or backlog_full: replaying would take the ' +
  "account's pending (queued or retrying) deliveries past its max_pending_deliveries, and nothing was replayed (the " +
  'message says how many it would add, how many are pending and the limit). Either way, retry after Retry-After seconds.';

/**
 * `success` maps each success status to its schema (with a `description`); `errors` lists the
 * route's own error statuses, each `true` (the usual meaning) or a sentence saying what it means here.
 */
export function v1Responses<S extends Record<number, object>, E extends Errors = Record<never, never>>(
  success: S,
  errors: E = {} as E,
): S & Record<keyof E | 401 | 403 | 429 | 503, ErrorEntry> {
  const out: Record<string, object> = { ...success };
  const own = Object.entries(errors) as Array<[string, string | true]>;
  for (const [status, meaning] of own) {
    out[status] = errorResponse(Number(status) as ErrorStatus, meaning === true ? undefined : meaning);
  }
  // any key of a suspended account (the operator API) is refused, whatever the operation
  const forbidden = errors[403];
  const alsoForbidden = forbidden === undefined ? '' : `${forbidden === true ? ERROR_MEANINGS[403] : forbidden} Or `;
  out[403] = errorResponse(403, `${alsoForbidden}${SUSPENDED}`);
  for (const status of [401, 429, 503] as const) out[status] ??= errorResponse(status);
  return out as S & Record<keyof E | 401 | 403 | 429 | 503, ErrorEntry>;
}

/**
 * The errors any operation that reads a request body can give: 400 (bad or unknown fields, bad
 * JSON or UTF-8), 413 (too large) and 415 (a Content-Type header that is not a media type).
 */
export const BODY_ERRORS = { 400: true, 413: true, 415: true } as const;
