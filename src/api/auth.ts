/**
 * API-key authentication (Authorization: Bearer … or X-API-Key: …) and the per-account rate limit.
 * Keys are looked up by their SHA-256 hash; the key itself is never stored or logged. The store
 * the process gives here answers from an in-process cache (store/auth-cache.ts): a change made
 * through this process shows at once, one made by another process within 1 s.
 *
 * The rate limit is one token bucket per account, shared by all its keys, live and test alike
 * (minting more keys buys no more requests). It is kept in this process's memory: with several
 * API processes, each one allows an account HAREPOST_RATE_LIMIT_PER_SECOND by itself (see the
 * README, "Running Harepost for many customers").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashApiKey, keyMode } from '../core/api-keys.js';
import { TokenBucketLimiter } from '../core/token-bucket.js';
import type { AuthContext, AccountsStore } from '../store/store.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
}

export function presentedKey(request: FastifyRequest): string | null {
  const authz = request.headers.authorization;
  if (typeof authz === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
    if (m) return m[1]!;
  }
  const x = request.headers['x-api-key'];
  if (typeof x === 'string' && x.trim() !== '') return x.trim();
  return null;
}

/**
 * Records when each key was last used, at most once a minute per key: `last_used_at` is exact
 * to the minute at the cost of one small write per key per minute, not one per request.
 */
class KeyUsage {
  private written = new Map<string, number>();
  constructor(
    private readonly store: AccountsStore,
    private readonly everyMs = 60_000,
  ) {}
  async note(keyId: string, at: number): Promise<void> {
    if ((this.written.get(keyId) ?? -Infinity) > at - this.everyMs) return;
    if (this.written.size > 100_000) this.written.clear();
    this.written.set(keyId, at);
    try {
      await this.store.touchApiKeys([{ key_id: keyId, at }]);
    } catch {
      this.written.delete(keyId); // advisory: the next use tries again
    }
  }
}

/** A suspended account's keys work again only once the operator resumes it (PATCH /admin/v1/accounts/{id}). */
export const accountSuspended = () =>
  new ApiError(403, 'account_suspended', 'This account is suspended: nothing can be sent or changed with its keys; contact the operator of this Harepost');

export interface AuthOptions {
  store: AccountsStore;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}

/** Adds the auth + rate-limit hook to every route registered in `app` (an encapsulated scope). */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const limiter = new TokenBucketLimiter({ ratePerSecond: opts.rateLimitPerSecond, burst: opts.rateLimitBurst });
  const usage = new KeyUsage(opts.store);
  app.decorateRequest('auth', null as unknown as AuthContext);
  app.addHook('onRequest', async (request) => {
    const key = presentedKey(request);
    if (key === null) {
      throw new ApiError(401, 'unauthorized', 'Missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"');
    }
    const auth = keyMode(key) === null ? null : await opts.store.authenticate(hashApiKey(key));
    if (auth === null) throw new ApiError(401, 'unauthorized', 'The API key is unknown or revoked: send an active key');
    if (auth.suspended) throw accountSuspended();
    const allowed = limiter.take(auth.account_id);
    if (!allowed.ok) {
      const message = `This account's rate limit (all its keys together) is exceeded; retry in ${allowed.retryAfterSeconds} s`;
      throw new ApiError(429, 'rate_limited', message, undefined, { 'retry-after': String(allowed.retryAfterSeconds) });
    }
    request.auth = auth;
    await usage.note(auth.key_id, Date.now());
  });
}
