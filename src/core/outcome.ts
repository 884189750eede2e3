/**
 * Attempt outcomes, delivery statuses and how one leads to the other (SPEC §5).
 */

/** What one attempt came to (`attempts[].outcome`). */
export type AttemptOutcome = 'delivered' | 'failed' | 'rejected' | 'timeout' | 'network_error' | 'blocked';

/** Lifecycle state of a delivery. */
export type DeliveryStatus = 'queued' | 'retrying' | 'delivered' | 'rejected' | 'dead_letter';

/** Every delivery status, in lifecycle order. */
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = Object.freeze([
  'queued',
  'retrying',
  'delivered',
  'rejected',
  'dead_letter',
]);

/** Every attempt outcome. */
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = Object.freeze([
  'delivered',
  'failed',
  'rejected',
  'timeout',
  'network_error',
  'blocked',
]);

/** True when `s` is one of {@link DELIVERY_STATUSES} (exact, case-sensitive). */
export function isDeliveryStatus(s: string): s is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(s);
}

/**
 * Outcome of an attempt that got an HTTP response with this status code.
 * 2xx → delivered; 3xx (redirects are never followed), 408, 425, 429, 5xx → failed (retried);
 * any other 4xx → rejected (deliberate refusal); anything else (1xx, ≥ 600, non-integers) → failed.
 */
export function classifyHttpStatus(status: number): 'delivered' | 'failed' | 'rejected' {
  if (!Number.isInteger(status)) return 'failed';
  if (status >= 200 && status <= 299) return 'delivered';
  if (status >= 400 && status <= 499) {
    return status === 408 || status === 425 || status === 429 ? 'failed' : 'rejected';
  }
  return 'failed';
}

/**
 * Delivery status after attempt number `attemptNumber` (1-based) ended with `outcome`, and
 * whether another attempt should be scheduled.
 */
export function statusAfterAttempt(
  outcome: AttemptOutcome,
  attemptNumber: number,
  maxAttempts: number,
): { status: DeliveryStatus; retry: boolean } {
  switch (outcome) {
    case 'delivered':
      return { status: 'delivered', retry: false };
    case 'rejected':
      return { status: 'rejected', retry: false };
    case 'blocked':
      return { status: 'dead_letter', retry: false };
    case 'failed':
    case 'timeout':
    case 'network_error':
      return attemptNumber < maxAttempts ? { status: 'retrying', retry: true } : { status: 'dead_letter', retry: false };
  }
}

/** Retry-After values are capped here (30 days); the policy caps delays at 12 h anyway. */
export const MAX_RETRY_AFTER_MS = 30 * 24 * 3600 * 1000;

const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const LONG_DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// RFC 9110 §5.6.7 HTTP-date forms (all GMT). Day names are checked for spelling, not agreement.
const IMF_FIXDATE = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** Builds a UTC timestamp, or null when a field is out of range (e.g. 31 Feb, 25:00). */
function utc(year: number, monthName: string, day: number, h: number, m: number, s: number): number | null {
  const month = MONTHS.indexOf(monthName);
  if (month < 0 || h > 23 || m > 59 || s > 60 || day < 1) return null;
  const t = Date.UTC(year, month, day, h, m, s);
  const d = new Date(t);
  if (d.getUTCMonth() !== month || d.getUTCDate() !== day) return null;
  return t;
}

/** Parses an HTTP-date (IMF-fixdate, RFC 850, asctime) to epoch ms, or null. */
export function parseHttpDate(value: string, nowMs: number = Date.now()): number | null {
  let m = IMF_FIXDATE.exec(value);
  if (m) {
    const [, wd, dd, mon, yyyy, hh, mi, ss] = m;
    if (!DAY_NAMES.includes(wd!)) return null;
    return utc(Number(yyyy), mon!, Number(dd), Number(hh), Number(mi), Number(ss));
  }
  m = RFC850_DATE.exec(value);
  if (m) {
    const [, wd, dd, mon, yy, hh, mi, ss] = m;
    if (!LONG_DAY_NAMES.includes(wd!)) return null;
    // RFC 9110: a two-digit year more than 50 years in the future means the most recent past
    // year with those digits.
    const nowYear = new Date(Number.isFinite(nowMs) ? nowMs : Date.now()).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(yy);
    if (year > nowYear + 50) year -= 100;
    return utc(year, mon!, Number(dd), Number(hh), Number(mi), Number(ss));
  }
  m = ASCTIME_DATE.exec(value);
  if (m) {
    const [, wd, mon, dd, hh, mi, ss, yyyy] = m;
    if (!DAY_NAMES.includes(wd!)) return null;
    return utc(Number(yyyy), mon!, Number(dd!.trim()), Number(hh), Number(mi), Number(ss));
  }
  return null;
}

/**
 * Parses a `Retry-After` response header into a wait in milliseconds from `nowMs`.
 *
 * - delta-seconds (digits only, surrounding whitespace allowed) → seconds · 1000;
 * - an HTTP-date (IMF-fixdate, RFC 850 or asctime, always GMT) → max(0, date − now);
 * - anything else (empty, negative, fractional, garbage) → null.
 *
 * The result is capped at {@link MAX_RETRY_AFTER_MS}, so it is never Infinity or NaN.
 */
export function parseRetryAfter(value: string | undefined | null, nowMs: number): number | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+$/.test(v)) {
    // Long digit strings would lose precision or become Infinity; anything this long is capped.
    if (v.length > 12) return MAX_RETRY_AFTER_MS;
    return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  }
  const at = parseHttpDate(v, nowMs);
  if (at === null || !Number.isFinite(nowMs)) return null;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * HTTP statuses that say the target itself is unavailable or overloaded: they count toward
 * opening its circuit breaker (and, with Retry-After, throttle it). Any other answer — 500,
 * 501, 505…, 408, 425, 3xx, 4xx — shows the target is there; such a failure follows the
 * delivery's own retry policy and holds nothing else.
 */
export const UNAVAILABLE_STATUSES: readonly number[] = Object.freeze([429, 502, 503, 504]);

/**
 * What one attempt says about its target's availability (the circuit breaker's input):
 * - `unavailable`: no answer — a connection, DNS or TLS error, a timeout — or 429, 502, 503, 504;
 * - `answered`: any other response (2xx, 3xx, 4xx, 500 and the other 5xx);
 * - `unknown`: the attempt never reached the target (the address guard refused it).
 */
export function targetAvailability(outcome: AttemptOutcome, httpStatus: number | null): 'answered' | 'unavailable' | 'unknown' {
  switch (outcome) {
    case 'timeout':
    case 'network_error':
      return 'unavailable';
    case 'blocked':
      return 'unknown';
    default:
      return httpStatus !== null && UNAVAILABLE_STATUSES.includes(httpStatus) ? 'unavailable' : 'answered';
  }
}
