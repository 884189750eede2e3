/**
 * What one account may hold: the operator's defaults (HAREPOST_MAX_*), overridden per account by
 * the limits the operator API stores on it. Pure: no I/O.
 */

/** The limits an account has, every one of them a positive whole number. */
export interface LimitDefaults {
  max_destinations: number;
  max_keys: number;
  max_domains: number;
  max_pending_deliveries: number;
}

export type LimitName = keyof LimitDefaults;

export const LIMIT_NAMES: readonly LimitName[] = ['max_destinations', 'max_keys', 'max_domains', 'max_pending_deliveries'];

/** The defaults when the operator sets none. */
export const DEFAULT_LIMITS: Readonly<LimitDefaults> = Object.freeze({
  max_destinations: 1000,
  max_keys: 100,
  max_domains: 100,
  max_pending_deliveries: 1_000_000,
});

/** An account's own limits, as stored: any of them may be absent (or null), meaning the default. */
export type OwnLimits = Partial<Record<LimitName, number | null>>;

/** The limits that apply to an account: its own where it has one, the default elsewhere. */
export function effectiveLimits(own: OwnLimits | null | undefined, defaults: LimitDefaults): LimitDefaults {
  const out = { ...defaults };
  if (!own) return out;
  for (const name of LIMIT_NAMES) {
    const v = own[name];
    if (typeof v === 'number') out[name] = v;
  }
  return out;
}

/** The limits on what an account holds (live and test together); max_pending_deliveries is the backlog's. */
export type CountLimit = Exclude<LimitName, 'max_pending_deliveries'>;

/** What each count limit counts, in words. */
const COUNTED: Readonly<Record<CountLimit, string>> = {
  max_destinations: 'destinations',
  max_keys: 'unrevoked API keys',
  max_domains: 'domains',
};

/** Whether an account holding `count` may make `adding` more under `max`. */
export function withinCount(count: number, adding: number, max: number): boolean {
  return count + adding <= max;
}

/**
 * The deliveries that are not final yet: they count toward max_pending_deliveries from the moment
 * they are accepted until they end (delivered, rejected, dead_letter) or are deleted.
 */
export const PENDING_STATUSES = ['queued', 'retrying'] as const;

/**
 * Whether accepting `adding` more deliveries keeps an account with `pending` ones within `max`.
 * Adding none always fits (an event no destination subscribes to), even past a lowered limit.
 */
export function backlogAllows(pending: number, adding: number, max: number): boolean {
  return adding <= 0 || pending + adding <= max;
}

/**
 * Retry-After (seconds) of a 429 backlog_full: a backlog drains at the pace of its receivers, so
 * a short wait would only be refused again.
 */
export const BACKLOG_RETRY_AFTER_SECONDS = 30;

const thousands = (n: number) => n.toLocaleString('en-US');

/** The 403 limit_exceeded message: which limit, its value, what to do. */
export function limitExceededMessage(limit: CountLimit, max: number): string {
  return (
    `This account has reached ${limit} (${thousands(max)} ${COUNTED[limit]}, live and test together): ` +
    `delete one, or ask the operator to raise the limit`
  );
}

/**
 * The 429 backlog_full message: how many are waiting, how many this would add, the limit, what to
 * do. `replayed`: null for a send or an event; for a replay, how many of it were re-queued (by a
 * bulk replay's earlier batches) before it was refused — 0 when nothing was.
 */
export function backlogFullMessage(pending: number, adding: number, max: number, replayed: number | null = null): string {
  const waiting = `This account has ${thousands(pending)} deliveries not final yet (queued or retrying); `;
  const limit = `max_pending_deliveries (${thousands(max)})`;
  const after = 'Retry after Retry-After seconds, once some are delivered';
  if (replayed === null) {
    const what = adding === 1 ? 'this delivery' : `these ${thousands(adding)} deliveries`;
    return `${waiting}${what} would take it past ${limit}: nothing was accepted. ${after}, or ask the operator to raise the limit`;
  }
  const what = adding === 1 ? 'replaying this delivery' : `replaying these ${thousands(adding)} deliveries`;
  const done =
    replayed === 0
      ? 'nothing was replayed'
      : `the first ${thousands(replayed)} of this replay were queued again before other deliveries took the room it was ` +
        'counted against, and the rest were not';
  const fewer = adding === 1 ? '' : ', replay fewer (narrow the filters)';
  return `${waiting}${what} would take it past ${limit}: ${done}. ${after}${fewer}, or ask the operator to raise the limit`;
}
