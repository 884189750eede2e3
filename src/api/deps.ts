/** What the API needs from the rest of Harepost; the CLI builds it. */
import { DEFAULT_LIMITS, type LimitDefaults } from '../core/limits.js';
import type { NamedScheme } from '../core/signature-scheme.js';
import type { AddressPolicy } from '../net/address-policy.js';
import type { AttemptRequest, AttemptResult } from '../net/http-attempt.js';
import type { HostResolver } from '../net/resolver.js';
import type { Store } from '../store/store.js';

export interface ApiDeps {
  store: Store;
  addressPolicy: AddressPolicy;
  resolver: HostResolver;
  allowHttpTargets: boolean;
  maxBodyBytes: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** The operator's per-account limits (HAREPOST_MAX_*), under each account's own; absent: core/limits DEFAULT_LIMITS. */
  limits?: LimitDefaults;
  /** The signature scheme of a destination created through /v1/destinations without one (absent: Standard Webhooks). */
  defaultSignature?: NamedScheme;
  /** Makes one HTTP request through the guarded client (destination tests). */
  attempt: (req: AttemptRequest) => Promise<AttemptResult>;
}

/** The operator's per-account limits the store checks creates and sends against. */
export const operatorLimits = (deps: Pick<ApiDeps, 'limits'>): LimitDefaults => deps.limits ?? DEFAULT_LIMITS;
