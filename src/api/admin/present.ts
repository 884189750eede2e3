/** Accounts as the operator API answers them. */
import { LIMIT_NAMES, type LimitDefaults, type OwnLimits, effectiveLimits } from '../../core/limits.js';
import type { Account, AccountLimits } from '../../store/store.js';
import { iso } from '../present.js';
import type { ResponseOf } from '../schemas/provider.js';
import type { adminAccount } from './schemas.js';

export function adminAccountJson(a: Account, defaults: LimitDefaults): ResponseOf<typeof adminAccount> {
  const own: OwnLimits = a.limits ?? {};
  return {
    id: a.id,
    name: a.name,
    limits: effectiveLimits(own, defaults),
    limit_overrides: Object.fromEntries(LIMIT_NAMES.filter((n) => typeof own[n] === 'number').map((n) => [n, own[n]])),
    suspended: a.suspended_at != null,
    suspended_at: iso(a.suspended_at ?? null),
    erasing: a.erasing_since != null,
    created_at: iso(a.created_at),
  };
}

/**
 * An account's own limits after a request's `limits`: a limit given as a number is set, as null
 * goes back to the default, left out stays as it was; `null` for the whole object clears them all.
 * Null when none is left.
 */
export function mergeLimits(current: AccountLimits | null | undefined, input: OwnLimits | null): AccountLimits | null {
  if (input === null) return null;
  const out: AccountLimits = { ...(current ?? {}) };
  for (const name of LIMIT_NAMES) {
    const v = input[name];
    if (v === null) delete out[name];
    else if (typeof v === 'number') out[name] = v;
  }
  return Object.keys(out).length === 0 ? null : out;
}
