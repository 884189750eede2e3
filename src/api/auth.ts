/**
 * API-key authentication (Authorization: Bearer … or X-API-Key: …) and the per-key rate limit.
 * Keys are looked up by their SHA-256 hash; the key itself is never stored or logged.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashApiKey, keyMode } from '../core/api-keys.js';
import { TokenBucketLimiter } from '../core/token-bucket.js';
import type { AuthContext, Store } from '../store/store.js';
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

/** Remembers when each key was last used and writes it back in batches, not once per request. */
class KeyUsage {
  private seen = new Map<string, number>();
  private timer: NodeJS.Timeout;
  constructor(private readonly store: Store, flushMs: number) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }
  note(keyId: string, at: number): void {
    this.seen.set(keyId, at);
  }
  async flush(): Promise<void> {
    if (this.seen.size === 0) return;
    const uses = [...this.seen].map(([key_id, at]) => ({ key_id, at }));
    this.seen = new Map();
    try {
      await this.store.touchApiKeys(uses);
    } catch {
      // last_used_at is advisory; the next flush tries again with newer times
    }
  }
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

export interface AuthOptions {
  store: Store;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}

/** Adds the auth + rate-limit hook to every route registered in `app` (an encapsulated scope). */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const limiter = new TokenBucketLimiter({ ratePerSecond: opts.rateLimitPerSecond, burst: opts.rateLimitBurst });
  const usage = new KeyUsage(opts.store, 5000);
  app.addHook('onClose', async () => usage.close());
  app.decorateRequest('auth', null as unknown as AuthContext);
  app.addHook('onRequest', async (request) => {
    const key = presentedKey(request);
    if (key === null) {
      throw new ApiError(401, 'unauthorized', 'Missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"');
    }
    const auth = keyMode(key) === null ? null : await opts.store.authenticate(hashApiKey(key));
    if (auth === null) throw new ApiError(401, 'unauthorized', 'Invalid or revoked API key');
    const allowed = limiter.take(auth.key_id);
    if (!allowed.ok) {
      throw new ApiError(429, 'rate_limited', `Rate limit exceeded; retry in ${allowed.retryAfterSeconds} s`, undefined, {
        'retry-after': String(allowed.retryAfterSeconds),
      });
    }
    request.auth = auth;
    usage.note(auth.key_id, Date.now());
  });
}
