/** What the API needs from the rest of Harepost; the CLI builds it. */
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
  /** Makes one HTTP request through the guarded client (destination tests). */
  attempt: (req: AttemptRequest) => Promise<AttemptResult>;
}
